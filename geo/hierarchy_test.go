package geo_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// filtered is the ids of c's features whose filter param is value, and
// how many the page says matched.
func filtered(t *testing.T, db geo.DB, c *geo.Collection, param, value string) ([]string, int64) {
	t.Helper()
	s := c.Select(10_000)
	i := slices.IndexFunc(c.Filters, func(f geo.Filter) bool { return f.Param == param })
	if i < 0 {
		t.Fatalf("%s has no filter %s", c.ID, param)
	}
	v, err := c.Filters[i].Parse(value)
	if err != nil {
		t.Fatal(err)
	}
	s.Values[i] = v
	f, err := geo.Items(context.Background(), db, s, geo.GeoJSON)
	if err != nil {
		t.Fatalf("%s?%s=%s: %v", c.ID, param, value, err)
	}
	defer f.Close()
	var ids []string
	for f.Next() {
		var feature struct{ ID string }
		if err := json.Unmarshal(f.Feature(), &feature); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, feature.ID)
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, f.Matched
}

// sqlDisagreements counts the counties and townships whose rolled-up
// villages, poor people, sites or projects differ from those the stored
// columns put there: villages by villages.township_code and county_code,
// sites by their own, projects by their county and their village's
// township. Zero when the columns and the rollups (which follow
// parent_code) agree.
const sqlDisagreements = `
SELECT count(*) FROM region_rollups r
WHERE r.level IN ('county', 'township') AND (r.villages, r.poor_population, r.sites, r.projects) IS DISTINCT FROM (
    (SELECT count(*)::int FROM villages v WHERE r.code IN (v.county_code, v.township_code)),
    (SELECT coalesce(sum(v.poor_population), 0)::bigint FROM villages v WHERE r.code IN (v.county_code, v.township_code)),
    (SELECT count(*)::int FROM sites s WHERE r.code IN (s.county_code, s.township_code)),
    (SELECT count(*)::int FROM projects p LEFT JOIN villages v ON v.code = p.village_code
     WHERE r.code = p.county_code OR r.code = v.township_code))`

// TestVillageMoved files a village (with projects and a relocation
// assignment) under a township of another county, then moves that
// township to a third county, and checks after each step that the
// village's stored township and county, its projects' county, the
// rollups, the collections' county and township filters and the
// drill-down all say the same.
func TestVillageMoved(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	const village = "520302110203" // 红花岗区, with three projects and an assignment
	var projects []string
	rows, err := pool.Query(ctx, `SELECT code FROM projects WHERE village_code = $1 ORDER BY code`, village)
	if err != nil {
		t.Fatal(err)
	}
	if projects, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(projects) == 0 {
		t.Fatalf("projects of %s: %v, %v; want some", village, projects, err)
	}

	// agree checks that everything places the village in township under
	// county, and nowhere else.
	agree := func(step, township, county string, elsewhere ...string) {
		t.Helper()
		var gotTownship, gotCounty, rollupParent string
		var projectCounties []string
		err := pool.QueryRow(ctx, `SELECT v.township_code, v.county_code, r.parent_code,
			(SELECT array_agg(DISTINCT county_code) FROM projects WHERE village_code = v.code)
			FROM villages v JOIN region_rollups r ON r.code = v.code WHERE v.code = $1`, village).
			Scan(&gotTownship, &gotCounty, &rollupParent, &projectCounties)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if gotTownship != township || gotCounty != county || rollupParent != township || !slices.Equal(projectCounties, []string{county}) {
			t.Errorf("%s: villages has %s in %s, the rollups under %s, its projects in %v; want %s in %s", step,
				gotTownship, gotCounty, rollupParent, projectCounties, township, county)
		}
		var n int
		if err := pool.QueryRow(ctx, sqlDisagreements).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d counties and townships whose rollups disagree with the stored columns (%v), want 0", step, n, err)
		}

		for _, f := range []struct {
			c            *geo.Collection
			param, value string
			want         []string
			level        string // the region whose rollup counts them
		}{
			{geo.Villages, "county", county, []string{village}, "villages"},
			{geo.Villages, "township", township, []string{village}, "villages"},
			{geo.Projects, "county", county, projects, "projects"},
			{geo.Projects, "township", township, projects, "projects"},
		} {
			ids, matched := filtered(t, pool, f.c, f.param, f.value)
			for _, id := range f.want {
				if !slices.Contains(ids, id) {
					t.Errorf("%s: %s?%s=%s lacks %s", step, f.c.ID, f.param, f.value, id)
				}
			}
			var rolled int64
			if err := pool.QueryRow(ctx, `SELECT `+pgx.Identifier{f.level}.Sanitize()+` FROM region_rollups WHERE code = $1`, f.value).Scan(&rolled); err != nil {
				t.Fatal(err)
			}
			if matched != rolled {
				t.Errorf("%s: %s?%s=%s matched %d, the region's rollup counts %d", step, f.c.ID, f.param, f.value, matched, rolled)
			}
			for _, other := range elsewhere {
				if len(other) != len(f.value) {
					continue
				}
				if ids, _ := filtered(t, pool, f.c, f.param, other); slices.ContainsFunc(f.want, func(id string) bool { return slices.Contains(ids, id) }) {
					t.Errorf("%s: %s?%s=%s still has %v", step, f.c.ID, f.param, other, f.want)
				}
			}
		}

		r, err := geo.DrillDown(ctx, pool, village)
		if err != nil {
			t.Fatal(err)
		}
		var crumbs []string
		for _, b := range r.Breadcrumb {
			crumbs = append(crumbs, b.Code)
		}
		if want := []string{"520300", county, township, village}; !slices.Equal(crumbs, want) {
			t.Errorf("%s: breadcrumb %v, want %v", step, crumbs, want)
		}
		for _, parent := range append([]string{township}, elsewhere...) {
			p, err := geo.DrillDown(ctx, pool, parent)
			if err != nil {
				t.Fatal(err)
			}
			listed := slices.ContainsFunc(p.Children, func(c geo.RegionSummary) bool { return c.Code == village })
			if want := parent == township; listed != want {
				t.Errorf("%s: the drill-down of %s lists the village: %v, want %v", step, parent, listed, want)
			}
			var byCategory int
			for _, n := range p.ProjectsByCategory {
				byCategory += n
			}
			var figures struct{ Projects int }
			if err := json.Unmarshal(p.Figures, &figures); err != nil {
				t.Fatal(err)
			}
			if byCategory != figures.Projects {
				t.Errorf("%s: the drill-down of %s counts %d projects by category and %d in its figures", step, parent, byCategory, figures.Projects)
			}
		}
	}

	agree("as loaded", "520302110", "520302", "520303108", "520303")

	start := time.Now()
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520303108' WHERE code = $1`, village); err != nil {
		t.Fatalf("move the village: %v", err)
	}
	t.Logf("the village moved to another county's township in %v (the move cascades to its registry row and projects, each statement refreshing the rollups)",
		time.Since(start).Round(time.Millisecond))
	agree("village moved", "520303108", "520303", "520302110", "520302")

	start = time.Now()
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520304' WHERE code = '520303108'`); err != nil {
		t.Fatalf("move the township: %v", err)
	}
	t.Logf("its township moved to a third county in %v", time.Since(start).Round(time.Millisecond))
	agree("township moved", "520303108", "520304", "520303")
	var sitesLeft int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sites WHERE township_code = '520303108' AND county_code <> '520304'`).Scan(&sitesLeft); err != nil || sitesLeft != 0 {
		t.Errorf("sites of the moved township left in their old county: %d (%v), want 0", sitesLeft, err)
	}
}

// TestCountyDisagrees checks that a site whose county is not its
// township's, or a project whose county is not its village's, is
// refused through geo.Change as EInvalid naming the rule, with nothing
// written, also where the codes' digits would agree; and that one whose
// county is its township's is taken where they would not.
func TestCountyDisagrees(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// Two townships whose codes begin with 520302 now lie in 520303.
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520303' WHERE code IN ('520302001', '520302110')`); err != nil {
		t.Fatal(err)
	}
	change := func(table, sql string) error {
		_, err := geo.Change(ctx, pool, geo.Actor{Name: "test"}, &geo.Audit{Action: "update", Table: table},
			func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, sql)
				if err == nil && tag.RowsAffected() != 1 {
					return errors.New("the test's statement found no row: " + tag.String())
				}
				return err
			})
		return err
	}
	const newSite = `INSERT INTO sites (code, name, type, county_code, township_code, geom, capacity_households, capacity_people, progress, status)
		VALUES ('520302-S90', '新建安置点', 'rural', $county, '520302001', ST_Point(106.9, 27.64, 4326), 100, 400, 0, 'planned')`
	tests := []struct{ name, table, sql, constraint string }{
		{"site in another county than its township", "sites",
			`UPDATE sites SET county_code = '520304' WHERE code = (SELECT min(code) FROM sites WHERE township_code = '520302112')`,
			"sites_township_in_county"},
		{"site in the county its township's code begins with", "sites",
			`UPDATE sites SET county_code = '520302' WHERE code = (SELECT min(code) FROM sites WHERE township_code = '520302001')`,
			"sites_township_in_county"},
		{"new site in the county its township's code begins with", "sites",
			strings.Replace(newSite, "$county", "'520302'", 1), "sites_township_in_county"},
		{"project in another county than its village", "projects",
			`UPDATE projects SET county_code = '520304' WHERE code = (SELECT min(code) FROM projects WHERE village_code LIKE '520302101%')`,
			"projects_village_in_county"},
		{"project in the county its village's code begins with", "projects",
			`UPDATE projects SET county_code = '520302' WHERE code = (SELECT min(code) FROM projects WHERE village_code LIKE '520302110%')`,
			"projects_village_in_county"},
	}
	before := tableSums(t, pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := change(tt.table, tt.sql)
			var gerr *geo.Error
			if !errors.As(err, &gerr) || gerr.Code != geo.EInvalid || !strings.Contains(gerr.Message, tt.constraint) {
				t.Errorf("error %v, want EInvalid naming %s", err, tt.constraint)
			}
			if after := tableSums(t, pool); after != before {
				t.Errorf("database changed")
			}
		})
	}
	if err := change("sites", strings.Replace(newSite, "$county", "'520303'", 1)); err != nil {
		t.Errorf("new site in its township's county, which its code does not begin with: %v", err)
	}
}

// tableSums sums up the sites, projects and audit log, to tell a change.
func tableSums(t *testing.T, db geo.DB) string {
	t.Helper()
	var sum string
	err := db.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT md5(string_agg(s::text, '' ORDER BY code)) FROM sites s),
		(SELECT md5(string_agg(p::text, '' ORDER BY code)) FROM projects p),
		(SELECT count(*) FROM audit_log))`).Scan(&sum)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
