package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// flagProject is a project of a village, not completed and below 100%,
// which raises completion_not_marked once its completion is set to 100,
// with its county, township and village.
func flagProject(t *testing.T, pool *pgxpool.Pool) (project, county, township, village string) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), `
		SELECT p.code, v.county_code, v.township_code, v.code FROM projects p JOIN villages v ON v.code = p.village_code
		WHERE p.status <> 'completed' AND p.completion < 100 ORDER BY p.code LIMIT 1`).Scan(&project, &county, &township, &village); err != nil {
		t.Fatal(err)
	}
	return
}

// flagsTruth is what SQL over the table flags says of the flags that
// hold in region $1 over db (today's tables, or the as_of views of a
// transaction reading the past): every figure of the region's answer.
type flagsTruth struct {
	Total, High, Medium, Low int
	ByRule                   map[string]int
	Children                 []geo.RegionFlagTotal
	IDs                      []string
}

// readFlagsTruth reads flagsTruth of region code over db.
func readFlagsTruth(t *testing.T, db geo.DB, code string) flagsTruth {
	t.Helper()
	ctx := context.Background()
	// holding are the flags that hold in the region: its code is one of
	// the regions their subject lies in.
	const holding = `(SELECT fl.*, fr.severity, fr.rank FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
		WHERE fl.cleared_at IS NULL AND $1 = ANY (fl.lineage))`
	var w flagsTruth
	if err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE severity = 'high'), count(*) FILTER (WHERE severity = 'medium'),
		count(*) FILTER (WHERE severity = 'low') FROM `+holding+` h`, code).Scan(&w.Total, &w.High, &w.Medium, &w.Low); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT rule, count(*) FROM `+holding+` h GROUP BY rule`, code)
	if err != nil {
		t.Fatal(err)
	}
	w.ByRule = map[string]int{}
	for rows.Next() {
		var rule string
		var n int
		if err := rows.Scan(&rule, &n); err != nil {
			t.Fatal(err)
		}
		w.ByRule[rule] = n
	}
	// The children: each child region of the region, with the flags whose
	// subject lies in it; those with none left out; worst first.
	rows, err = db.Query(ctx, `SELECT c.code, c.name, count(*), count(*) FILTER (WHERE h.severity = 'high'),
		count(*) FILTER (WHERE h.severity = 'medium'), count(*) FILTER (WHERE h.severity = 'low')
		FROM regions c JOIN `+holding+` h ON c.code = ANY (h.lineage)
		WHERE c.parent_code = $1 GROUP BY c.code, c.name ORDER BY 4 DESC, 5 DESC, 6 DESC, 1`, code)
	if err != nil {
		t.Fatal(err)
	}
	if w.Children, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (geo.RegionFlagTotal, error) {
		var c geo.RegionFlagTotal
		return c, r.Scan(&c.Code, &c.Name, &c.Total, &c.High, &c.Medium, &c.Low)
	}); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query(ctx, `SELECT id FROM `+holding+` h ORDER BY rank, raised_at DESC, id`, code)
	if err != nil {
		t.Fatal(err)
	}
	if w.IDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	return w
}

// pastFlagsTruth is readFlagsTruth of region code as of m, read through
// the as_of views as the past's pool reads.
func pastFlagsTruth(t *testing.T, pool *pgxpool.Pool, code string, m time.Time) flagsTruth {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', 'as_of, public', true), set_config('battlemap.at', $1, true)`,
		m.Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	return readFlagsTruth(t, tx, code)
}

// TestRegionFlags checks every figure of /api/regions/{code}/flags
// against SQL over the table flags, figure by figure, for the city, a
// county, a township and a village, now and as of a past moment; that an
// edit raising a flag and one clearing it move the answer (it is kept on
// the data version); and its refusals.
func TestRegionFlags(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	project, county, township, village := flagProject(t, pool)
	check := func(t *testing.T, path string, want flagsTruth) {
		t.Helper()
		got := getOK[geo.RegionFlags](t, s, path)
		for _, f := range []struct {
			name      string
			got, want int
		}{{"total", got.Total, want.Total}, {"high", got.High, want.High}, {"medium", got.Medium, want.Medium}, {"low", got.Low, want.Low}} {
			if f.got != f.want {
				t.Errorf("%s: %s = %d, SQL says %d", path, f.name, f.got, f.want)
			}
		}
		byRule := map[string]int{}
		for i, r := range got.ByRule {
			byRule[r.Rule] = r.Count
			if rule := geo.FlagRuleOf(r.Rule); rule == nil || rule.Severity != r.Severity {
				t.Errorf("%s: by_rule %+v: not a rule of the catalogue, or another severity", path, r)
			}
			if i > 0 && slices.IndexFunc(geo.FlagRules, func(x geo.FlagRule) bool { return x.Code == r.Rule }) <
				slices.IndexFunc(geo.FlagRules, func(x geo.FlagRule) bool { return x.Code == got.ByRule[i-1].Rule }) &&
				geo.FlagRuleOf(got.ByRule[i-1].Rule).Severity != r.Severity {
				t.Errorf("%s: by_rule is not worst first at %s", path, r.Rule)
			}
		}
		for rule, n := range want.ByRule {
			if byRule[rule] != n {
				t.Errorf("%s: by_rule %s = %d, SQL says %d", path, rule, byRule[rule], n)
			}
		}
		if len(byRule) != len(want.ByRule) {
			t.Errorf("%s: by_rule %v, SQL says %v", path, byRule, want.ByRule)
		}
		if !slices.Equal(got.Children, want.Children) {
			t.Errorf("%s: children\n%+v\nSQL says\n%+v", path, got.Children, want.Children)
		}
		var ids []string
		for _, f := range got.Flags {
			ids = append(ids, f.ID)
		}
		if !slices.Equal(ids, want.IDs) && !(len(ids) == 0 && len(want.IDs) == 0) {
			t.Errorf("%s: flags %v, SQL says %v", path, ids, want.IDs)
		}
	}
	regions := []string{"520300", county, township, village}
	before := change(t, pool, `SELECT 1`) // a moment before the edit
	// The edit: finished in its figures, not in its status.
	change(t, pool, `UPDATE projects SET completion = 100, status = 'under_construction' WHERE code = $1`, project)
	id := count(t, pool, `SELECT count(*) FROM flags WHERE rule = 'completion_not_marked' AND subject_code = $1 AND cleared_at IS NULL`, project)
	if id != 1 {
		t.Fatalf("the edit of project %s raised %d completion_not_marked flags, want 1", project, id)
	}
	for _, code := range regions {
		t.Run("now/"+code, func(t *testing.T) {
			want := readFlagsTruth(t, pool, code)
			if want.ByRule["completion_not_marked"] == 0 {
				t.Errorf("SQL finds no completion_not_marked flag in %s: the case tests nothing new", code)
			}
			check(t, "/api/regions/"+code+"/flags", want)
		})
	}
	t.Run("as of before the edit", func(t *testing.T) {
		for _, code := range regions {
			want := pastFlagsTruth(t, pool, code, before)
			if want.ByRule["completion_not_marked"] == readFlagsTruth(t, pool, code).ByRule["completion_not_marked"] {
				t.Errorf("%s: as of before the edit SQL finds as many completion_not_marked flags as now", code)
			}
			check(t, "/api/regions/"+code+"/flags?at="+at(before), want)
		}
	})

	// The flag and what lies behind it.
	var flagID string
	var raisedTx int64
	if err := pool.QueryRow(context.Background(), `SELECT id, raised_txid FROM flags WHERE rule = 'completion_not_marked' AND subject_code = $1`,
		project).Scan(&flagID, &raisedTx); err != nil {
		t.Fatal(err)
	}
	detail := readFlag(t, s, flagID)
	wantAudit := auditIDs(t, pool, raisedTx, project)
	if len(wantAudit) == 0 || !slices.Equal(detail.raised(), wantAudit) {
		t.Errorf("flag %s raised_by audit entries %v, audit_log rows of its transaction %v", flagID, detail.raised(), wantAudit)
	}
	if detail.Message != geo.FlagRuleOf("completion_not_marked").Message || detail.Statement == "" || detail.ClearedAt != nil {
		t.Errorf("flag %s: message %q, statement %q, cleared %v", flagID, detail.Message, detail.Statement, detail.ClearedAt)
	}
	for _, rel := range []string{"about", "related", "raised-by"} {
		href := detail.link(rel)
		if href == "" {
			t.Errorf("flag %s has no %s link: %+v", flagID, rel, detail.Links)
			continue
		}
		if resp, body := do(t, s, strings.TrimPrefix(href, "http://example.com"), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("flag %s: %s link %s: %d %s", flagID, rel, href, resp.StatusCode, body)
		}
	}
	if want := "http://example.com/collections/projects/items/" + project; detail.link("about") != want {
		t.Errorf("flag %s links to %s, want its project %s", flagID, detail.link("about"), want)
	}

	// Cleared: the answers kept move with the data version.
	change(t, pool, `UPDATE projects SET completion = 99 WHERE code = $1`, project)
	for _, code := range regions {
		check(t, "/api/regions/"+code+"/flags", readFlagsTruth(t, pool, code))
	}
	detail = readFlag(t, s, flagID)
	var clearedTx int64
	if err := pool.QueryRow(context.Background(), `SELECT cleared_txid FROM flags WHERE id = $1`, flagID).Scan(&clearedTx); err != nil {
		t.Fatal(err)
	}
	if detail.ClearedAt == nil || len(detail.Cleared) == 0 || !slices.Equal(detail.cleared(), auditIDs(t, pool, clearedTx, project)) {
		t.Errorf("cleared flag %s: cleared_at %v, cleared_by %v", flagID, detail.ClearedAt, detail.cleared())
	}

	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/regions/999999/flags", http.StatusNotFound},
		{"/api/regions/52/flags", http.StatusBadRequest},
		{"/api/regions/520300/flags?rule=x", http.StatusBadRequest},
		{"/api/regions/520300/flags?at=2999-01-01", http.StatusBadRequest},
		{"/api/flags/no.such.flag", http.StatusNotFound},
		{"/api/flags/" + url.PathEscape(flagID) + "?at=2016-03-01", http.StatusBadRequest},
	} {
		if resp, body := do(t, s, tt.path, nil); resp.StatusCode != tt.status {
			t.Errorf("GET %s: %d %s, want %d", tt.path, resp.StatusCode, body, tt.status)
		}
	}
}

// flagAnswer is GET /api/flags/{id}.
type flagAnswer struct {
	geo.FlagDetail
	Message   string `json:"message"`
	Statement string `json:"statement"`
	Links     []struct {
		Href, Rel string
	} `json:"links"`
}

// link is the href of f's first link of relation rel; "" when none.
func (f flagAnswer) link(rel string) string {
	for _, l := range f.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

// raised and cleared are the ids of the audit entries behind f.
func (f flagAnswer) raised() []int64  { return entryIDs(f.Raised) }
func (f flagAnswer) cleared() []int64 { return entryIDs(f.Cleared) }

// entryIDs are the ids of es.
func entryIDs(es []geo.AuditEntry) []int64 {
	var ids []int64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// readFlag reads GET /api/flags/{id}.
func readFlag(t *testing.T, s *web.Server, id string) flagAnswer {
	t.Helper()
	return getOK[flagAnswer](t, s, "/api/flags/"+url.PathEscape(id))
}

// auditIDs are the ids of the audit_log rows of transaction txid about
// row or the rows under it.
func auditIDs(t *testing.T, pool *pgxpool.Pool, txid int64, row string) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id FROM audit_log WHERE txid = $1 AND (row_key = $2 OR $2 = ANY (lineage)) ORDER BY id`, txid, row)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestFlagsCollection reads /collections/flags after an edit that raises
// a flag: its queryables, and for each filter the features (GeoJSON and
// CSV) against SQL over the table flags.
func TestFlagsCollection(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	project, county, _, _ := flagProject(t, pool)
	change(t, pool, `UPDATE projects SET completion = 100, status = 'under_construction' WHERE code = $1`, project)
	doc := fetchJSON(t, s, "/collections/flags", 200, jsonType)
	var queryables []string
	for _, q := range doc["queryables"].([]any) {
		queryables = append(queryables, q.(map[string]any)["name"].(string))
	}
	if want := []string{"county", "rule", "severity", "subject", "open", "subject_code", "datetime"}; !slices.Equal(queryables, want) {
		t.Errorf("queryables %v, want %v", queryables, want)
	}
	const flags = `flags fl JOIN flag_rules fr ON fr.code = fl.rule`
	for _, tt := range []struct{ query, truth string }{
		{"", `SELECT id FROM ` + flags},
		{"rule=completion_not_marked", `SELECT id FROM ` + flags + ` WHERE rule = 'completion_not_marked'`},
		{"severity=medium", `SELECT id FROM ` + flags + ` WHERE severity = 'medium'`},
		{"subject=project", `SELECT id FROM ` + flags + ` WHERE subject = 'project'`},
		{"open=true", `SELECT id FROM ` + flags + ` WHERE cleared_at IS NULL`},
		{"open=false", `SELECT id FROM ` + flags + ` WHERE cleared_at IS NOT NULL`},
		{"county=" + county, `SELECT id FROM ` + flags + ` WHERE county_code = '` + county + `'`},
		{"subject_code=" + project, `SELECT id FROM ` + flags + ` WHERE subject_code = '` + project + `'`},
	} {
		t.Run(tt.query, func(t *testing.T) {
			want := ids(t, pool, tt.truth)
			got := walk(t, s, "/collections/flags/items?limit=1000&"+tt.query, nil)
			if !slices.Equal(got, want) {
				t.Errorf("items?%s: %v, SQL says %v", tt.query, got, want)
			}
			resp, body := do(t, s, "/collections/flags/items?limit=1000&f=csv&"+tt.query, nil)
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if resp.StatusCode != http.StatusOK || len(lines) != len(want)+1 || !strings.Contains(lines[0], "severity") {
				t.Errorf("items?f=csv&%s: %d, %d lines (header %q), want %d features", tt.query, resp.StatusCode, len(lines), lines[0], len(want))
			}
		})
	}
	if n := len(ids(t, pool, `SELECT id FROM flags WHERE subject_code = '`+project+`'`)); n == 0 {
		t.Error("no flag of the edited project: the filters test nothing new")
	}
}
