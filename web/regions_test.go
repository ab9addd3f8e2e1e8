package web_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestDrillDownCityTotals checks the city against Zunyi's published
// mid-2016 totals.
func TestDrillDownCityTotals(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	r := fetchJSON(t, s, "/api/regions/520300", 200, jsonType)
	if r["code"] != "520300" || r["name"] != "遵义市" || r["level"] != "city" {
		t.Errorf("region %v %v %v, want 520300 遵义市 city", r["code"], r["name"], r["level"])
	}
	figures := r["figures"].(map[string]any)
	for name, want := range map[string]int64{
		"poor_population":      558_300,
		"villages_not_exited":  645,
		"projects":             544,
		"funds_planned":        464_000_000,
		"site_capacity_people": 181_000,
	} {
		if got := number(t, figures[name], name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if n := len(r["children"].([]any)); n != 14 {
		t.Errorf("%d children, want the 14 counties", n)
	}
}

// TestDrillDownMatchesSQL checks each level's figures, and its children's,
// against sums in SQL over the villages, projects, sites and assignments
// beneath it.
func TestDrillDownMatchesSQL(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	tests := []struct {
		code, level string
		prefix      string // of the codes of the villages beneath
		breadcrumb  []string
		// Predicates of the projects and sites that count for the region.
		projects, sites string
	}{
		{"520300", "city", "5203", []string{"520300"}, "starts_with(county_code, '5203')", "starts_with(county_code, '5203')"},
		{"520325", "county", "520325", []string{"520300", "520325"}, "county_code = '520325'", "county_code = '520325'"},
		{"520327001", "township", "520327001", []string{"520300", "520327", "520327001"},
			"starts_with(village_code, '520327001')", "township_code = '520327001'"},
		{"520325101203", "village", "520325101203", []string{"520300", "520325", "520325101", "520325101203"},
			"village_code = '520325101203'", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			r := fetchJSON(t, s, "/api/regions/"+tt.code, 200, jsonType)
			if r["level"] != tt.level {
				t.Errorf("level %v, want %s", r["level"], tt.level)
			}
			var crumbs []string
			for _, b := range r["breadcrumb"].([]any) {
				crumbs = append(crumbs, b.(map[string]any)["code"].(string))
			}
			if fmt.Sprint(crumbs) != fmt.Sprint(tt.breadcrumb) {
				t.Errorf("breadcrumb %v, want %v", crumbs, tt.breadcrumb)
			}
			if bbox := r["bbox"].([]any); len(bbox) != 4 {
				t.Errorf("bbox %v", bbox)
			}

			villages := `FROM villages v JOIN regions r ON r.code = v.code WHERE starts_with(v.code, '` + tt.prefix + `')`
			projects := `FROM projects WHERE ` + tt.projects
			sites := `FROM sites WHERE ` + tt.sites
			figures := r["figures"].(map[string]any)
			for name, sql := range map[string]string{
				"villages":              `SELECT count(*) ` + villages,
				"villages_not_exited":   `SELECT count(*) ` + villages + ` AND r.poverty_status = 'not_exited'`,
				"villages_exited":       `SELECT count(*) ` + villages + ` AND r.poverty_status = 'exited'`,
				"villages_none":         `SELECT count(*) ` + villages + ` AND r.poverty_status = 'none'`,
				"population":            `SELECT coalesce(sum(v.population), 0) ` + villages,
				"poor_households":       `SELECT coalesce(sum(v.poor_households), 0) ` + villages,
				"poor_population":       `SELECT coalesce(sum(v.poor_population), 0) ` + villages,
				"relocation_people":     `SELECT coalesce(sum(people), 0) FROM relocation_assignments WHERE starts_with(village_code, '` + tt.prefix + `')`,
				"relocation_households": `SELECT coalesce(sum(households), 0) FROM relocation_assignments WHERE starts_with(village_code, '` + tt.prefix + `')`,
				"projects":              `SELECT count(*) ` + projects,
				"projects_completed":    `SELECT count(*) ` + projects + ` AND status = 'completed'`,
				"funds_planned":         `SELECT coalesce(sum(funds_planned), 0) ` + projects,
				"funds_disbursed":       `SELECT coalesce(sum(funds_disbursed), 0) ` + projects,
				"sites":                 `SELECT count(*) ` + sites,
				"site_capacity_people":  `SELECT coalesce(sum(capacity_people), 0) ` + sites,
				"site_moved_in_people":  `SELECT coalesce(sum(moved_in_people), 0) ` + sites,
			} {
				if got, want := number(t, figures[name], name), count(t, pool, sql); got != want {
					t.Errorf("%s = %d, want %d", name, got, want)
				}
			}
			for _, by := range []string{"category", "status"} {
				counts := r["projects_by_"+by].(map[string]any)
				var total int64
				for value, n := range counts {
					total += number(t, n, value)
					want := count(t, pool, `SELECT count(*) `+projects+` AND `+by+` = $1`, value)
					if number(t, n, value) != want {
						t.Errorf("projects_by_%s[%s] = %v, want %d", by, value, n, want)
					}
				}
				if total != number(t, figures["projects"], "projects") {
					t.Errorf("projects_by_%s adds up to %d, want projects %v", by, total, figures["projects"])
				}
			}

			children := r["children"].([]any)
			if want := count(t, pool, `SELECT count(*) FROM regions WHERE parent_code = $1`, tt.code); int64(len(children)) != want {
				t.Errorf("%d children, want %d", len(children), want)
			}
			if tt.level != "village" {
				var poor int64
				for _, c := range children {
					poor += number(t, c.(map[string]any)["figures"].(map[string]any)["poor_population"], "child poor_population")
				}
				if poor != number(t, figures["poor_population"], "poor_population") {
					t.Errorf("children's poor people add up to %d, want the region's %v", poor, figures["poor_population"])
				}
				if r["village"] != nil {
					t.Errorf("a %s has village details: %v", tt.level, r["village"])
				}
				return
			}
			village := r["village"].(map[string]any)
			if got, want := int64(len(village["projects"].([]any))), count(t, pool, `SELECT count(*) `+projects); got != want {
				t.Errorf("%d projects listed, want %d", got, want)
			}
			relocation := village["relocation"].([]any)
			var people int64
			for _, a := range relocation {
				a := a.(map[string]any)
				people += number(t, a["people"], "people")
				if a["site_name"] == "" || a["site_code"] == "" {
					t.Errorf("assignment without its site: %v", a)
				}
			}
			if want := count(t, pool, `SELECT count(*) FROM relocation_assignments WHERE village_code = $1`, tt.code); int64(len(relocation)) != want {
				t.Errorf("%d assignments, want %d", len(relocation), want)
			}
			if people != number(t, figures["relocation_people"], "relocation_people") {
				t.Errorf("assignments move %d people, want relocation_people %v", people, figures["relocation_people"])
			}
		})
	}
}

func TestSearchRanking(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		name, q string
		// want are the codes the matches must start with, in order.
		want []string
		// breadcrumb of the first match.
		breadcrumb int
	}{
		{"village without its suffix", "花茂村", []string{"520304116203"}, 4},
		{"another village without its suffix", "杉坪村", []string{"520322002200"}, 4},
		{"village by its full name", "花茂村村民委员会", []string{"520304116203"}, 4},
		{"county by its name", "桐梓县", []string{"520322"}, 2},
		// The county's name starts with 桐梓, as do three villages' names:
		// the county first, then the villages, shorter names first, then by code.
		{"name prefix: higher levels first", "桐梓", []string{"520322", "520324109203", "520324115002", "520328101211"}, 2},
		{"code prefix: the city, then its counties", "5203", []string{"520300", "520302", "520303", "520304"}, 1},
		{"exact code first", "520322", []string{"520322", "520322001"}, 2},
		{"village code", "520304116203", []string{"520304116203"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetchJSON(t, s, "/api/search?q="+url.QueryEscape(tt.q)+"&limit=20", 200, jsonType)
			matches := r["matches"].([]any)
			if len(matches) < len(tt.want) {
				t.Fatalf("%d matches, want at least %d", len(matches), len(tt.want))
			}
			var got []string
			for _, m := range matches[:len(tt.want)] {
				got = append(got, m.(map[string]any)["code"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("matches start %v, want %v", got, tt.want)
			}
			first := matches[0].(map[string]any)
			if n := len(first["breadcrumb"].([]any)); n != tt.breadcrumb {
				t.Errorf("breadcrumb of %d regions, want %d", n, tt.breadcrumb)
			}
			if len(first["bbox"].([]any)) != 4 || first["name"] == "" || first["level"] == "" {
				t.Errorf("match %v lacks a bbox, a name or a level", first)
			}
		})
	}
}

// TestSecondCity loads a made-up second city beside Zunyi: GET
// /api/regions lists both tops, the new city drills down to its village
// with its own breadcrumb and figures, and Zunyi's answers do not change.
func TestSecondCity(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	c := pgtest.SecondCity
	tops := func() []string {
		t.Helper()
		var codes []string
		for _, r := range fetchJSON(t, s, "/api/regions", 200, jsonType)["regions"].([]any) {
			r := r.(map[string]any)
			if len(r["bbox"].([]any)) != 4 || r["name"] == "" || r["level"] != "city" {
				t.Errorf("top region %v lacks a bbox or a name, or is no city", r)
			}
			codes = append(codes, r["code"].(string))
		}
		return codes
	}
	if got := fmt.Sprint(tops()); got != "[520300]" {
		t.Errorf("top regions of the demo %s, want [520300]", got)
	}
	zunyi := fmt.Sprint(fetchJSON(t, s, "/api/regions/520300", 200, jsonType))

	pgtest.AddSecondCity(t, pool)
	if got, want := fmt.Sprint(tops()), fmt.Sprint([]string{"520300", c.City}); got != want {
		t.Errorf("top regions %s, want %s", got, want)
	}
	if got := fmt.Sprint(fetchJSON(t, s, "/api/regions/520300", 200, jsonType)); got != zunyi {
		t.Errorf("Zunyi's drill-down changed when another city was loaded")
	}
	path := []string{c.City, c.County, c.Township, c.Village}
	for i, code := range path {
		r := fetchJSON(t, s, "/api/regions/"+code, 200, jsonType)
		var crumbs []string
		for _, b := range r["breadcrumb"].([]any) {
			crumbs = append(crumbs, b.(map[string]any)["code"].(string))
		}
		if got, want := fmt.Sprint(crumbs), fmt.Sprint(path[:i+1]); got != want {
			t.Errorf("%s: breadcrumb %s, want %s", code, got, want)
		}
		f := r["figures"].(map[string]any)
		sites := int64(1)
		if code == c.Village {
			sites = 0 // the site is the township's
		}
		for name, want := range map[string]int64{
			"villages": 1, "poor_population": int64(c.PoorPopulation), "population": int64(c.Population),
			"relocation_people": int64(c.RelocationPeople), "projects": 1, "funds_planned": int64(c.FundsPlanned),
			"sites": sites,
		} {
			if got := number(t, f[name], name); got != want {
				t.Errorf("%s: %s = %d, want %d", code, name, got, want)
			}
		}
		if got := number(t, r["projects_by_category"].(map[string]any)["road"], "road projects"); got != 1 {
			t.Errorf("%s: %d road projects, want 1", code, got)
		}
		if children := r["children"].([]any); code != c.Village &&
			(len(children) != 1 || children[0].(map[string]any)["code"] != path[i+1]) {
			t.Errorf("%s: children %v, want only %s", code, children, path[i+1])
		}
	}
	m := fetchJSON(t, s, "/api/search?q="+url.QueryEscape("测试村"), 200, jsonType)["matches"].([]any)
	if len(m) != 1 || len(m[0].(map[string]any)["breadcrumb"].([]any)) != 4 {
		t.Errorf("search 测试村: %v, want the village with a breadcrumb of 4", m)
	}
}
