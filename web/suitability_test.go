package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// suitCounty is 习水县, with the most unassigned poverty villages.
const suitCounty = "520330"

// TestSuitabilityAnswers: the surface, a spot and the candidates over
// HTTP, and the 400s and 404s of bad input, each naming what is wrong.
func TestSuitabilityAnswers(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.FactorFixture(t, pool, suitCounty)
	s := newServer(t, pool, 16<<20)
	const problem = "application/problem+json"

	fc := fetchJSON(t, s, "/api/suitability?county="+suitCounty+"&w_people=60&reach=8000", 200, "application/geo+json")
	features, _ := fc["features"].([]any)
	if fc["type"] != "FeatureCollection" || len(features) < 1000 || number(t, fc["numberReturned"], "numberReturned") != int64(len(features)) {
		t.Fatalf("surface: type %v, %d features, numberReturned %v", fc["type"], len(features), fc["numberReturned"])
	}
	if p := fc["parameters"].(map[string]any); p["w_people"] != 60.0 || p["reach"] != 8000.0 || p["w_slope"] != 25.0 {
		t.Errorf("surface parameters %v: want those asked for and the defaults", p)
	}
	// Asked again, the answer comes from the cache (same ETag, 304).
	resp, _ := do(t, s, "/api/suitability?county="+suitCounty+"&w_people=60&reach=8000", nil)
	if again, _ := do(t, s, "/api/suitability?county="+suitCounty+"&w_people=60&reach=8000",
		map[string]string{"If-None-Match": resp.Header.Get("ETag")}); again.StatusCode != 304 {
		t.Errorf("surface asked again with its ETag: %d, want 304", again.StatusCode)
	}

	params := fetchJSON(t, s, "/api/suitability/parameters", 200, "application/json")
	if ps, _ := params["parameters"].([]any); len(ps) != 9 {
		t.Errorf("parameters: %v", params["parameters"])
	}

	cands := fetchJSON(t, s, "/api/suitability/candidates?county="+suitCounty+"&n=3&spacing=4000", 200, "application/json")
	list, _ := cands["candidates"].([]any)
	if len(list) != 3 {
		t.Fatalf("candidates: %d, want 3", len(list))
	}
	first := list[0].(map[string]any)
	lon, lat := first["lon"].(float64), first["lat"].(float64)
	spot := fetchJSON(t, s, "/api/suitability/point?lon="+ftoa(lon)+"&lat="+ftoa(lat), 200, "application/json")
	if spot["suitable"] != true || spot["score"] == nil || spot["cell"] != first["cell"] || spot["county_code"] != suitCounty {
		t.Errorf("spot at the first candidate: %v", spot)
	}
	factors, _ := spot["factors"].([]any)
	if len(factors) != 4 {
		t.Errorf("spot factors: %v", factors)
	}

	for _, tt := range []struct {
		path, field string
		status      int
	}{
		{"/api/suitability", "county", 400},
		{"/api/suitability?county=5203", "", 400},
		{"/api/suitability?county=520399", "", 404},
		{"/api/suitability?county=520330&w_slope=abc", "w_slope", 400},
		{"/api/suitability?county=520330&w_slope=101", "w_slope", 400},
		{"/api/suitability?county=520330&max_slope=0x10", "max_slope", 400},
		{"/api/suitability?county=520330&reach=NaN", "reach", 400},
		{"/api/suitability?county=520330&people_full=Inf", "people_full", 400},
		{"/api/suitability?county=520330&w_slope=0&w_road=0&w_service=0&w_people=0", "w_people", 400},
		{"/api/suitability?county=520330&n=3", "", 400}, // the surface takes no n
		{"/api/suitability?county=520330&w_slope=1&w_slope=2", "", 400},
		{"/api/suitability/candidates?county=520330&n=2.5", "n", 400},
		{"/api/suitability/candidates?county=520330&n=21", "n", 400},
		{"/api/suitability/candidates?county=520330&spacing=100", "spacing", 400},
		{"/api/suitability/candidates?county=520399", "", 404},
		{"/api/suitability/point?lat=28", "lon", 400},
		{"/api/suitability/point?lon=106.3", "lat", 400},
		{"/api/suitability/point?lon=200&lat=28", "lon", 400},
		{"/api/suitability/point?lon=106.3&lat=NaN", "lat", 400},
		{"/api/suitability/point?lon=1e400&lat=28", "lon", 400},
		{"/api/suitability/point?lon=106.3&lat=28.3&max_slope=-1", "max_slope", 400},
		{"/api/suitability/point?lon=120&lat=20", "", 404},
	} {
		t.Run(tt.path, func(t *testing.T) {
			p := fetchJSON(t, s, tt.path, tt.status, problem)
			detail, _ := p["detail"].(string)
			if detail == "" {
				t.Errorf("no detail: %v", p)
			}
			if tt.field == "" {
				return
			}
			var named []string
			for _, f := range p["invalid-params"].([]any) {
				named = append(named, f.(map[string]any)["name"].(string))
			}
			if !slices.Contains(named, tt.field) || !strings.Contains(detail, tt.field) {
				t.Errorf("problem %v does not name %s", p, tt.field)
			}
		})
	}
}

// ftoa writes a coordinate as JSON does, which reads back to the same number.
func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestCandidateBecomesSite: a county user turns a candidate into a site
// with its assignments, whose villages then leave the unassigned list and
// the candidates; a county user of another county, a viewer and nobody
// may not, and a refused or faulty one writes nothing.
func TestCandidateBecomesSite(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.FactorFixture(t, pool, suitCounty)
	e := &editSite{pool: pool, base: "http://" + serve(t, serverOver(t, pgtest.AsApp(t, pool), web.Config{})), tokens: map[string]string{}}
	e.tokens["county"] = tokenFor(t, pool, "xishui", account.County, suitCounty)
	e.tokens["other"] = tokenFor(t, pool, "honghuagang", account.County, "520302")
	e.tokens["viewer"] = tokenFor(t, pool, "wall", account.Viewer)
	ctx := context.Background()

	a := e.do(t, http.MethodGet, "/api/suitability/candidates?county="+suitCounty+"&n=2", "", "")
	var cands struct {
		Candidates []struct {
			SiteCode string `json:"site_code"`
			Villages []struct {
				Code string `json:"code"`
			} `json:"villages"`
			Proposal json.RawMessage `json:"proposal"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal(a.body, &cands); err != nil || a.status != 200 || len(cands.Candidates) != 2 {
		t.Fatalf("candidates: %d %s", a.status, a.body)
	}
	c := cands.Candidates[0]
	post := func(token, body string) answer {
		return e.do(t, http.MethodPost, "/api/suitability/sites", token, body, "Content-Type", "application/json")
	}
	sites := func() int64 { return count(t, pool, `SELECT count(*) FROM sites WHERE code = $1`, c.SiteCode) }
	audits := func() int64 { return auditCount(t, e.pool) }

	before := audits()
	for _, tt := range []struct {
		name, token string
		status      int
	}{
		{"anonymous", "", 401},
		{"viewer", e.tokens["viewer"], 403},
		{"county user of another county", e.tokens["other"], 403},
	} {
		if got := post(tt.token, string(c.Proposal)); got.status != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.name, got.status, tt.status, got.body)
		}
	}
	// A village that cannot move that many people: the site is not made either.
	var bad map[string]any
	if err := json.Unmarshal(c.Proposal, &bad); err != nil {
		t.Fatal(err)
	}
	bad["assignments"].([]any)[0].(map[string]any)["people"] = 0
	badBody, _ := json.Marshal(bad)
	got := post(e.tokens["county"], string(badBody))
	if _, fields := got.problem(t); got.status != 422 || fields["assignments[0].people"] == "" {
		t.Errorf("an assignment of 0 people: %d %s, want 422 naming assignments[0].people", got.status, got.body)
	}
	if sites() != 0 || audits() != before {
		t.Fatalf("refused creations wrote something: %d sites, audit %d → %d", sites(), before, audits())
	}

	got = post(e.tokens["county"], string(c.Proposal))
	if got.status != 201 || !strings.HasSuffix(got.header.Get("Location"), "/api/sites/"+url.PathEscape(c.SiteCode)) {
		t.Fatalf("create: %d %s (Location %q)", got.status, got.body, got.header.Get("Location"))
	}
	var site struct {
		Code, Status   string
		CapacityPeople int `json:"capacity_people"`
		Sources        []struct {
			VillageCode string `json:"village_code"`
			People      int
		}
	}
	if err := json.Unmarshal(got.body, &site); err != nil || site.Status != "planned" || len(site.Sources) != len(c.Villages) {
		t.Fatalf("created site %s: %v", got.body, err)
	}
	sum := 0
	for _, src := range site.Sources {
		sum += src.People
	}
	if sum != site.CapacityPeople {
		t.Errorf("capacity %d, people assigned %d", site.CapacityPeople, sum)
	}
	// The villages leave the unassigned list and the candidates.
	unassigned := e.do(t, http.MethodGet, "/api/relocation/unassigned?county="+suitCounty, "", "")
	again := e.do(t, http.MethodGet, "/api/suitability/candidates?county="+suitCounty+"&n=20", "", "")
	for _, v := range c.Villages {
		if bytes.Contains(unassigned.body, []byte(`"`+v.Code+`"`)) {
			t.Errorf("village %s is still unassigned", v.Code)
		}
		if bytes.Contains(again.body, []byte(`"code":"`+v.Code+`"`)) {
			t.Errorf("village %s is still proposed", v.Code)
		}
	}
	var actor string
	if err := pool.QueryRow(ctx, `SELECT actor FROM audit_log WHERE table_name = 'sites' AND row_key = $1`, c.SiteCode).Scan(&actor); err != nil || actor != "xishui" {
		t.Errorf("audit of the site: actor %q, %v", actor, err)
	}
	if got := post(e.tokens["county"], string(c.Proposal)); got.status != 409 {
		t.Errorf("the same site again: %d, want 409", got.status)
	}
}
