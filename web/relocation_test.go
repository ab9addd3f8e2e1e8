package web_test

import (
	"testing"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestSiteAndUnassigned checks the planner's two endpoints against SQL,
// and their answers to bad input. Zunyi is under a province under the
// country, beside a second city, so that the unassigned villages are
// asked for at every level down to a county.
func TestSiteAndUnassigned(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	s := newServer(t, pool, 0)
	const problem = "application/problem+json"

	site := fetchJSON(t, s, "/api/sites/520324-S02", 200, "application/json")
	sources := site["sources"].([]any)
	if want := count(t, pool, `SELECT count(*) FROM relocation_assignments WHERE site_code = '520324-S02'`); int64(len(sources)) != want {
		t.Errorf("site sources: %d, want %d", len(sources), want)
	}
	people := int64(0)
	for _, src := range sources {
		people += int64(src.(map[string]any)["people"].(float64))
	}
	if capacity := int64(site["capacity_people"].(float64)); people != capacity {
		t.Errorf("sources bring %d people, the site is planned for %d", people, capacity)
	}

	for _, tt := range []struct {
		path   string
		where  string
		listed int64 // villages listed, when limit lists fewer than there are
	}{
		{"/api/relocation/unassigned", "", 0},
		{"/api/relocation/unassigned?limit=3", "", 3},
		{"/api/relocation/unassigned?region=520300&limit=1", " AND '520300' = ANY (region_lineage(r.code))", 1},
		{"/api/relocation/unassigned?county=520325", " AND v.county_code = '520325'", 0},
		{"/api/relocation/unassigned?region=100000", " AND '100000' = ANY (region_lineage(r.code))", 0},
		{"/api/relocation/unassigned?region=520000", " AND '520000' = ANY (region_lineage(r.code))", 0},
		{"/api/relocation/unassigned?region=520300", " AND '520300' = ANY (region_lineage(r.code))", 0},
		{"/api/relocation/unassigned?region=520325", " AND '520325' = ANY (region_lineage(r.code))", 0},
		{"/api/relocation/unassigned?region=" + pgtest.SecondCity.City, " AND false", 0},
		{"/api/relocation/unassigned?region=999999", " AND false", 0},
		{"/api/relocation/unassigned?county=520325&region=520300", " AND v.county_code = '520325'", 0},
		{"/api/relocation/unassigned?county=520325&region=" + pgtest.SecondCity.City, " AND false", 0},
	} {
		got := fetchJSON(t, s, tt.path, 200, "application/json")
		want := count(t, pool, `SELECT count(*) FROM regions r JOIN villages v USING (code)
			WHERE r.poverty_status = 'not_exited' AND v.poor_population > 0
			AND NOT EXISTS (SELECT FROM relocation_assignments a WHERE a.village_code = r.code)`+tt.where)
		listed := want
		if tt.listed > 0 {
			listed = tt.listed
		}
		if int64(got["count"].(float64)) != want || int64(len(got["villages"].([]any))) != listed || (tt.listed > 0 && want <= tt.listed) {
			t.Errorf("%s: count %v, %d listed, want %d and %d listed", tt.path, got["count"], len(got["villages"].([]any)), want, listed)
		}
	}

	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/sites/no-such-site", 404},
		{"/api/sites/bad%20code!", 400},
		{"/api/relocation/unassigned?county=5203", 400},
		{"/api/relocation/unassigned?region=520325001", 400},
		{"/api/relocation/unassigned?region=x", 400},
		{"/api/relocation/unassigned?region=520300&region=520000", 400},
		{"/api/relocation/unassigned?town=520325", 400},
		{"/api/relocation/unassigned?limit=0", 400},
		{"/api/relocation/unassigned?limit=10001", 400},
		{"/api/relocation/unassigned?limit=+5", 400},
		{"/api/relocation/unassigned?limit=x", 400},
	} {
		p := fetchJSON(t, s, tt.path, tt.status, problem)
		if p["detail"] == "" {
			t.Errorf("%s: problem without detail", tt.path)
		}
	}

	v := fetchJSON(t, s, "/api/version", 200, "application/json")
	if v["version"].(float64) < 1 || v["changed_at"] == "" {
		t.Errorf("/api/version = %v", v)
	}
}
