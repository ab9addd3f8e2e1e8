package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// editSite is a server over a fresh database, connected as the server's
// own role (so row-level security holds), with two counties' features to
// edit and users of every role.
type editSite struct {
	pool *pgxpool.Pool // the test's superuser pool, for ground truth
	base string
	// a and b are two counties, each with a village, a site and a
	// project; tokens holds a token per user: admin, county (of a),
	// viewer.
	a, b   county
	tokens map[string]string
}

// county is a county's code and one of each of its features.
type county struct{ code, village, site, project string }

func newEditSite(t *testing.T, cfg web.Config) *editSite {
	t.Helper()
	return newEditSiteOver(t, pgtest.New(t), cfg)
}

// newEditBase is an edit site with its default settings over pool.
func newEditBase(t *testing.T, pool *pgxpool.Pool) *editSite {
	t.Helper()
	return newEditSiteOver(t, pool, web.Config{})
}

// newEditSiteOver is newEditSite over pool's database.
func newEditSiteOver(t *testing.T, pool *pgxpool.Pool, cfg web.Config) *editSite {
	t.Helper()
	cfg.ImportEnabled = true
	e := &editSite{pool: pool, base: "http://" + serve(t, serverOver(t, pgtest.AsApp(t, pool), cfg)), tokens: map[string]string{}}
	rows, err := pool.Query(context.Background(), `
SELECT c.code, min(v.code), min(s.code), min(p.code)
FROM regions c JOIN villages v ON v.county_code = c.code JOIN sites s ON s.county_code = c.code
JOIN projects p ON p.county_code = c.code
WHERE c.level = 'county' GROUP BY c.code ORDER BY c.code LIMIT 2`)
	if err != nil {
		t.Fatal(err)
	}
	var cs []county
	for rows.Next() {
		var c county
		if err := rows.Scan(&c.code, &c.village, &c.site, &c.project); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if len(cs) != 2 {
		t.Fatalf("want two counties with villages, sites and projects, got %v (%v)", cs, rows.Err())
	}
	e.a, e.b = cs[0], cs[1]
	e.tokens["admin"] = tokenFor(t, pool, "admin", account.Admin)
	e.tokens["county"] = tokenFor(t, pool, "zhang", account.County, e.a.code)
	e.tokens["viewer"] = tokenFor(t, pool, "wall", account.Viewer)
	return e
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes a problem+json body.
func (a answer) problem(t *testing.T) (detail string, fields map[string]string) {
	t.Helper()
	var p struct {
		Detail        string `json:"detail"`
		InvalidParams []struct {
			Name, Reason string
		} `json:"invalid-params"`
	}
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("status %d: body is not a problem: %s", a.status, a.body)
	}
	fields = map[string]string{}
	for _, f := range p.InvalidParams {
		fields[f.Name] = f.Reason
	}
	return p.Detail, fields
}

// do sends method path with body and header pairs, as the user of token
// (none when "").
func (e *editSite) do(t *testing.T, method, path, token string, body string, header ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// etag reads the ETag of a feature.
func (e *editSite) etag(t *testing.T, collection, id string) string {
	t.Helper()
	a := e.do(t, http.MethodGet, "/collections/"+collection+"/items/"+id, "", "")
	if a.status != 200 || a.header.Get("ETag") == "" {
		t.Fatalf("GET %s %s: %d, ETag %q", collection, id, a.status, a.header.Get("ETag"))
	}
	return a.header.Get("ETag")
}

// patch sends a merge patch of a feature's properties with If-Match.
func (e *editSite) patch(t *testing.T, token, collection, id, etag, props string) answer {
	t.Helper()
	return e.do(t, http.MethodPatch, "/collections/"+collection+"/items/"+id, token, `{"properties":`+props+`}`,
		"Content-Type", "application/merge-patch+json", "If-Match", etag)
}

// TestEditAuthMatrix: who may change what, role by endpoint by county.
// Every allowed change is a real one; every refused one changes nothing.
func TestEditAuthMatrix(t *testing.T) {
	e := newEditSite(t, web.Config{})
	// changes are valid edits of each kind of feature, by collection.
	changes := map[string]string{
		"villages": `{"cooperatives": %d}`,
		"sites":    `{"name": "安置点%d"}`,
		"projects": `{"name": "项目%d"}`,
	}
	targets := []struct{ collection, id, county string }{
		{"villages", e.a.village, "a"}, {"villages", e.b.village, "b"},
		{"sites", e.a.site, "a"}, {"sites", e.b.site, "b"},
		{"projects", e.a.project, "a"}, {"projects", e.b.project, "b"},
	}
	want := map[string]map[string]int{ // user → county → status
		"":       {"a": 401, "b": 401},
		"viewer": {"a": 403, "b": 403},
		"county": {"a": 200, "b": 403},
		"admin":  {"a": 200, "b": 200},
	}
	n := 1
	for _, user := range []string{"", "viewer", "county", "admin"} {
		for _, tg := range targets {
			name := user
			if name == "" {
				name = "anonymous"
			}
			t.Run(name+"/"+tg.collection+"/"+tg.county, func(t *testing.T) {
				n++
				before := auditCount(t, e.pool)
				a := e.patch(t, e.tokens[user], tg.collection, tg.id, e.etag(t, tg.collection, tg.id), fmt.Sprintf(changes[tg.collection], n))
				if a.status != want[user][tg.county] {
					t.Fatalf("status %d, want %d: %s", a.status, want[user][tg.county], a.body)
				}
				if changed := auditCount(t, e.pool) != before; changed != (a.status == 200) {
					t.Errorf("audit rows changed: %v, want %v", changed, a.status == 200)
				}
			})
		}
	}
	t.Run("assignments", func(t *testing.T) {
		body := func(village, site string) string {
			return fmt.Sprintf(`{"type":"Feature","properties":{"village_code":%q,"site_code":%q,"households":2,"people":5}}`, village, site)
		}
		post := func(token, village, site string) answer {
			return e.do(t, http.MethodPost, "/collections/assignments/items", token, body(village, site), "Content-Type", "application/geo+json")
		}
		if a := post(e.tokens["county"], e.b.village, e.a.site); a.status != 403 {
			t.Errorf("county user, village of another county: %d, want 403: %s", a.status, a.body)
		}
		if a := post(e.tokens["viewer"], e.a.village, e.a.site); a.status != 403 {
			t.Errorf("viewer: %d, want 403", a.status)
		}
		a := post(e.tokens["county"], e.a.village, e.a.site)
		if a.status != 201 || a.header.Get("Location") == "" {
			t.Fatalf("county user, own county: %d (Location %q), want 201: %s", a.status, a.header.Get("Location"), a.body)
		}
		if again := post(e.tokens["county"], e.a.village, e.a.site); again.status != 409 {
			t.Errorf("the same assignment again: %d, want 409", again.status)
		}
		id := e.a.village + "~" + e.a.site
		if p := e.patch(t, e.tokens["county"], "assignments", id, a.header.Get("ETag"), `{"people": 6}`); p.status != 200 {
			t.Fatalf("PATCH the assignment: %d: %s", p.status, p.body)
		}
		del := func(token string) answer {
			return e.do(t, http.MethodDelete, "/collections/assignments/items/"+id, token, "", "If-Match", e.etag(t, "assignments", id))
		}
		if d := del(e.tokens["viewer"]); d.status != 403 {
			t.Errorf("viewer DELETE: %d, want 403", d.status)
		}
		if d := del(e.tokens["county"]); d.status != 204 {
			t.Errorf("county DELETE: %d, want 204: %s", d.status, d.body)
		}
	})
	t.Run("import", func(t *testing.T) {
		// A site inside its county, so that only the scope can refuse it.
		site := func(county string) string {
			var lon, lat float64
			if err := e.pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM regions WHERE code = $1) s`,
				county).Scan(&lon, &lat); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,%g]},
"properties":{"code":"%s-S99","name":"新点","type":"rural","status":"planned","progress":0,"capacity_households":10,"capacity_people":40,"county_code":%q}}]}`, lon, lat, county, county)
		}
		post := func(token, county string) answer {
			return e.do(t, http.MethodPost, "/api/import/sites", token, site(county), "Content-Type", "application/geo+json")
		}
		if a := post(e.tokens["county"], e.b.code); a.status != 403 {
			t.Errorf("county user importing into another county: %d, want 403: %s", a.status, a.body)
		}
		if a := post(e.tokens["county"], e.a.code); a.status != 200 {
			t.Errorf("county user importing into their county: %d, want 200: %s", a.status, a.body)
		}
		if a := post("", e.a.code); a.status != 401 {
			t.Errorf("anonymous import: %d, want 401", a.status)
		}
	})
}

// auditCount counts the audit log's rows.
func auditCount(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	return count(t, pool, `SELECT count(*) FROM audit_log`)
}

// TestConcurrentPatchesOneWins: 50 PATCHes of one village, all with the
// same If-Match: exactly one is made, the others are 412, and the value
// stored is the winner's (no lost update).
func TestConcurrentPatchesOneWins(t *testing.T) {
	e := newEditSite(t, web.Config{})
	etag := e.etag(t, "villages", e.a.village)
	const writers = 50
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.patch(t, e.tokens["county"], "villages", e.a.village, etag, fmt.Sprintf(`{"cooperatives": %d}`, 1000+i)).status
		}()
	}
	wg.Wait()
	winner := -1
	for i, s := range statuses {
		switch {
		case s == 200 && winner < 0:
			winner = i
		case s == 200:
			t.Errorf("writers %d and %d both won", winner, i)
		case s != 412:
			t.Errorf("writer %d: status %d, want 412", i, s)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	if got := count(t, e.pool, `SELECT cooperatives FROM villages WHERE code = $1`, e.a.village); got != int64(1000+winner) {
		t.Errorf("cooperatives %d, want the winner's %d", got, 1000+winner)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM audit_log WHERE table_name = 'villages' AND row_key = $1 AND actor = 'zhang'`, e.a.village); n != 1 {
		t.Errorf("%d audit rows of the village, want 1", n)
	}
}

// TestEditPreconditions: If-Match is required and must be current, the
// patch must be a merge patch, and rules break by field (422 naming each).
func TestEditPreconditions(t *testing.T) {
	e := newEditSite(t, web.Config{})
	admin := e.tokens["admin"]
	v := e.a.village
	etag := e.etag(t, "villages", v)
	tests := []struct {
		name       string
		collection string
		id         string
		body       string
		header     []string
		status     int
		field      string // named in invalid-params
	}{
		{"no If-Match", "villages", v, `{"properties":{"cooperatives":1}}`, []string{"Content-Type", "application/merge-patch+json"}, 428, ""},
		{"If-Match *", "villages", v, `{"properties":{"cooperatives":1}}`, []string{"Content-Type", "application/merge-patch+json", "If-Match", "*"}, 428, ""},
		{"stale If-Match", "villages", v, `{"properties":{"cooperatives":1}}`, []string{"Content-Type", "application/merge-patch+json", "If-Match", `"0"`}, 412, ""},
		{"plain JSON", "villages", v, `{"properties":{"cooperatives":1}}`, []string{"Content-Type", "application/json", "If-Match", etag}, 415, ""},
		{"not JSON", "villages", v, `{"properties":`, mp(etag), 400, ""},
		{"unknown member", "villages", v, `{"properties":{},"extra":1}`, mp(etag), 400, ""},
		{"a field that is not stored", "villages", v, `{"properties":{"poverty_incidence":0.5}}`, mp(etag), 422, "poverty_incidence"},
		{"more poor than people", "villages", v, `{"properties":{"poor_population":99999999}}`, mp(etag), 422, "poor_population"},
		{"exited without a year", "villages", v, `{"properties":{"poverty_status":"exited","exit_year":null}}`, mp(etag), 422, "exit_year"},
		{"an unknown status", "villages", v, `{"properties":{"poverty_status":"lifted"}}`, mp(etag), 422, "poverty_status"},
		{"the id", "villages", v, `{"properties":{"code":"520000000000"}}`, mp(etag), 422, "code"},
		{"fewer people than assigned to move", "villages", assignedVillage(t, e.pool), `{"properties":{"population":1,"poor_population":1,"poor_households":1}}`,
			mp(e.etag(t, "villages", assignedVillage(t, e.pool))), 422, "population"},
		{"completion over 100", "projects", e.a.project, `{"properties":{"completion":101}}`, mp(e.etag(t, "projects", e.a.project)), 422, "completion"},
		{"disbursed over planned", "projects", e.a.project, `{"properties":{"funds_planned":10,"funds_disbursed":11}}`, mp(e.etag(t, "projects", e.a.project)), 422, "funds_disbursed"},
		{"moved in over capacity", "sites", e.a.site, `{"properties":{"capacity_people":10,"moved_in_people":11}}`, mp(e.etag(t, "sites", e.a.site)), 422, "moved_in_people"},
		{"a geometry outside the map", "sites", e.a.site, `{"geometry":{"type":"Point","coordinates":[2,48]}}`, mp(e.etag(t, "sites", e.a.site)), 422, "geometry"},
		{"no such feature", "villages", "520000000000", `{"properties":{}}`, mp(etag), 404, ""},
		{"a collection that is not edited", "counties", e.a.code, `{"properties":{}}`, mp(etag), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, e.pool, `SELECT count(*) FROM audit_log`)
			a := e.do(t, http.MethodPatch, "/collections/"+tt.collection+"/items/"+tt.id, admin, tt.body, tt.header...)
			if a.status != tt.status || a.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d %s, want %d problem+json: %s", a.status, a.header.Get("Content-Type"), tt.status, a.body)
			}
			if _, fields := a.problem(t); tt.field != "" && fields[tt.field] == "" {
				t.Errorf("invalid-params %v, want %s named", fields, tt.field)
			}
			if after := count(t, e.pool, `SELECT count(*) FROM audit_log`); after != before {
				t.Errorf("the audit log grew by %d: something was written", after-before)
			}
		})
	}
	t.Run("assigned people over the population", func(t *testing.T) {
		pop := count(t, e.pool, `SELECT population FROM villages WHERE code = $1`, e.a.village)
		a := e.do(t, http.MethodPost, "/collections/assignments/items", admin,
			fmt.Sprintf(`{"properties":{"village_code":%q,"site_code":%q,"households":1,"people":%d}}`, e.a.village, e.a.site, pop+1),
			"Content-Type", "application/json")
		if _, fields := a.problem(t); a.status != 422 || fields["people"] == "" {
			t.Errorf("status %d, invalid-params %v; want 422 naming people", a.status, fields)
		}
	})
	t.Run("a valid patch answers the feature and its new ETag", func(t *testing.T) {
		a := e.patch(t, admin, "villages", v, etag, `{"cooperatives": 77, "pairing_level": "county", "pairing_unit": "县交通局"}`)
		if a.status != 200 || a.header.Get("ETag") == "" || a.header.Get("ETag") == etag {
			t.Fatalf("status %d, ETag %q (was %q): %s", a.status, a.header.Get("ETag"), etag, a.body)
		}
		if got := e.etag(t, "villages", v); got != a.header.Get("ETag") {
			t.Errorf("GET gives ETag %s, the PATCH said %s", got, a.header.Get("ETag"))
		}
		if n := count(t, e.pool, `SELECT cooperatives FROM villages WHERE code = $1`, v); n != 77 {
			t.Errorf("cooperatives %d, want 77", n)
		}
	})
	t.Run("OPTIONS", func(t *testing.T) {
		a := e.do(t, http.MethodOptions, "/collections/villages/items/"+v, "", "")
		if a.status != 204 || !strings.Contains(a.header.Get("Allow"), "PATCH") || a.header.Get("Accept-Patch") != "application/merge-patch+json" {
			t.Errorf("status %d, Allow %q, Accept-Patch %q", a.status, a.header.Get("Allow"), a.header.Get("Accept-Patch"))
		}
		if a := e.do(t, http.MethodOptions, "/collections/counties/items/"+e.a.code, "", ""); strings.Contains(a.header.Get("Allow"), "PATCH") {
			t.Errorf("counties: Allow %q, want no PATCH", a.header.Get("Allow"))
		}
	})
	t.Run("conformance", func(t *testing.T) {
		a := e.do(t, http.MethodGet, "/conformance", "", "")
		for _, c := range []string{"ogcapi-features-4/1.0/conf/update", "ogcapi-features-4/1.0/conf/optimistic-locking-etags"} {
			if !bytes.Contains(a.body, []byte(c)) {
				t.Errorf("conformance lacks %s", c)
			}
		}
		if bytes.Contains(a.body, []byte("create-replace-delete")) {
			t.Errorf("conformance claims create-replace-delete, which PUT would need")
		}
	})
}

// mp is the header of a merge patch with If-Match etag.
func mp(etag string) []string {
	return []string{"Content-Type", "application/merge-patch+json", "If-Match", etag}
}

// assignedVillage is a village with people assigned to move out.
func assignedVillage(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var code string
	if err := pool.QueryRow(context.Background(), `SELECT min(village_code) FROM relocation_assignments`).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return code
}

// TestAuditOfEveryRow: a PATCH, an import and a plain SQL UPDATE each
// leave an audit row per row changed, naming who (the user, the user who
// imported, the database role), with the old and new values.
func TestAuditOfEveryRow(t *testing.T) {
	e := newEditSite(t, web.Config{})
	ctx := context.Background()
	v := e.a.village
	a := e.patch(t, e.tokens["county"], "villages", v, e.etag(t, "villages", v), `{"name": "新名村", "cooperatives": 9}`)
	if a.status != 200 {
		t.Fatalf("PATCH: %d %s", a.status, a.body)
	}
	audit := func(query string) []map[string]any {
		t.Helper()
		r := e.do(t, http.MethodGet, "/api/audit?"+query, "", "")
		var d struct{ Entries []map[string]any }
		if r.status != 200 || json.Unmarshal(r.body, &d) != nil {
			t.Fatalf("GET /api/audit?%s: %d %s", query, r.status, r.body)
		}
		return d.Entries
	}
	got := audit("row=" + v + "&table=villages,regions&actor=zhang")
	if len(got) != 2 {
		t.Fatalf("%d entries for the village, want 2 (its regions and villages rows): %v", len(got), got)
	}
	for _, g := range got {
		if g["actor"] != "zhang" || g["action"] != "update" {
			t.Errorf("entry %v: want actor zhang, action update", g)
		}
	}
	if after := got[0]["after"].(map[string]any); got[0]["table"] == "regions" && after["name"] != "新名村" {
		t.Errorf("regions entry after %v, want the new name", after)
	}

	csv := "code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
		e.a.site + ",改名点,rural," + e.a.code + ",100,400,50,planned,106.9,27.64\n" +
		e.a.code + "-S98,新点,rural," + e.a.code + ",100,400,50,planned,106.9,27.64\n"
	if r := e.do(t, http.MethodPost, "/api/import/sites", e.tokens["county"], csv, "Content-Type", "text/csv"); r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	for _, site := range []string{e.a.site, e.a.code + "-S98"} {
		if n := len(audit("table=sites&actor=zhang&row=" + site)); n != 1 {
			t.Errorf("site %s: %d audit entries by zhang, want 1", site, n)
		}
	}
	if n := len(audit("region=" + e.a.code + "&actor=zhang")); n != 4 {
		t.Errorf("%d entries by zhang in county %s, want 4 (village ×2, sites ×2)", n, e.a.code)
	}

	if _, err := e.pool.Exec(ctx, `UPDATE projects SET completion = 100 - completion WHERE code = $1`, e.b.project); err != nil {
		t.Fatal(err)
	}
	var role string
	if err := e.pool.QueryRow(ctx, `SELECT session_user`).Scan(&role); err != nil {
		t.Fatal(err)
	}
	sql := audit("table=projects&row=" + e.b.project + "&actor=" + role)
	if len(sql) != 1 || sql[0]["actor"] != role || sql[0]["db_role"] != role {
		t.Errorf("plain SQL update: entries %v, want one by the database role %s", sql, role)
	}
	projectRows := func() int64 {
		return count(t, e.pool, `SELECT count(*) FROM audit_log WHERE table_name = 'projects' AND row_key = $1 AND actor = $2`, e.b.project, role)
	}
	if n := projectRows(); n != 1 {
		t.Errorf("%d audit rows for the project, want 1", n)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE projects SET completion = completion WHERE code = $1`, e.b.project); err != nil {
		t.Fatal(err)
	}
	if n := projectRows(); n != 1 {
		t.Errorf("an update that changes nothing wrote an audit row: %d, want 1", n)
	}
	if r := e.do(t, http.MethodGet, "/api/audit?table=secrets", "", ""); r.status != 400 {
		t.Errorf("unknown table: %d, want 400", r.status)
	}
}
