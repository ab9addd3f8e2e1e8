package web_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web"
)

// historyBegins is where the dated history of these tests begins: the
// demo's data as it was on January 1, 2016.
const historyBegins = "2016-01-01T00:00:00+08:00"

// dated is a small history written on past days over the demo data: in
// one county, village a loses 5 poor people on February 10, 3 on March
// 15 and 1 at the very start of April; village b exits on March 5,
// losing 8 (an admin's override of the exit standard); village c, exited,
// returns to poverty on April 2 with 4 more poor people; project p (in
// none of those villages) completes on March 20 with 1,000 more yuan
// disbursed; and the county's 2016 target, set (or, over the demo's
// own, set again) on January 5, is 32 poor people out, 4 villages exited
// and 10 people relocated.
type dated struct {
	county, township, city, a, b, c, p string
}

// The changes of the dated history: when each took effect, and its SQL.
var datedChanges = []struct {
	at  string
	sql []string // naming @a, @b, @c, @p and @county
}{
	{"2016-01-05T09:00:00+08:00", []string{`INSERT INTO region_targets (region_code, year, poor_people_out, villages_exit, relocation_people)
	  VALUES (@county, 2016, 32, 4, 10) ON CONFLICT (region_code, year) DO UPDATE
	  SET poor_people_out = 32, villages_exit = 4, relocation_people = 10`}},
	{"2016-02-10T10:00:00+08:00", []string{`UPDATE villages SET poor_population = poor_population - 5 WHERE code = @a`}},
	{"2016-03-05T10:00:00+08:00", []string{
		// b's incidence stays above the exit standard: its exit is an
		// admin's override, with the reason written.
		`SELECT set_config('battlemap.reason', '整村搬迁，经指挥部批准', true)`,
		`UPDATE villages SET poor_population = poor_population - 8 WHERE code = @b`,
		`UPDATE regions SET poverty_status = 'exited', exit_year = 2016 WHERE code = @b`}},
	{"2016-03-15T10:00:00+08:00", []string{`UPDATE villages SET poor_population = poor_population - 3 WHERE code = @a`}},
	{"2016-03-20T10:00:00+08:00", []string{`UPDATE projects SET status = 'completed', completion = 100,
	  funds_disbursed = funds_disbursed + 1000 WHERE code = @p`}},
	{"2016-04-01T00:00:00+08:00", []string{`UPDATE villages SET poor_population = poor_population - 1 WHERE code = @a`}},
	{"2016-04-02T10:00:00+08:00", []string{
		`UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL WHERE code = @c`,
		`UPDATE villages SET poor_population = poor_population + 4 WHERE code = @c`}},
}

// sqlDatedPicks finds the dated history's county and features: two
// poverty villages with 8 poor people to spare above their households, an
// exited village with room for 4 more poor people, and a project not
// completed in none of them with 1,000 yuan left to disburse.
const sqlDatedPicks = `
WITH v AS (
    SELECT v.code, v.county_code, v.township_code, g.poverty_status,
           v.poor_population - v.poor_households AS spare, v.population - v.poor_population AS room
    FROM villages v JOIN regions g ON g.code = v.code
), picks AS (
    SELECT c.code AS county,
           (SELECT code FROM v WHERE county_code = c.code AND poverty_status = 'not_exited' AND spare >= 8 ORDER BY code LIMIT 1) AS a,
           (SELECT code FROM v WHERE county_code = c.code AND poverty_status = 'not_exited' AND spare >= 8 ORDER BY code OFFSET 1 LIMIT 1) AS b,
           (SELECT code FROM v WHERE county_code = c.code AND poverty_status = 'exited' AND room >= 4 ORDER BY code LIMIT 1) AS c
    FROM regions c WHERE c.level = 'county'
)
SELECT p.county, (SELECT township_code FROM v WHERE code = p.a), (SELECT parent_code FROM regions WHERE code = p.county),
       p.a, p.b, p.c,
       (SELECT j.code FROM projects j WHERE j.county_code = p.county AND j.status <> 'completed'
          AND j.funds_planned - j.funds_disbursed >= 1000 AND j.village_code IS DISTINCT FROM p.a
          AND j.village_code IS DISTINCT FROM p.b AND j.village_code IS DISTINCT FROM p.c ORDER BY j.code LIMIT 1)
FROM picks p
WHERE p.a IS NOT NULL AND p.b IS NOT NULL AND p.c IS NOT NULL
ORDER BY p.county
LIMIT 1`

// writeDatedHistory makes pool's history begin at historyBegins (the
// demo's rows as they are, loaded then: each history keeps only its
// current versions, moved back) and writes the dated history over it, as
// the owner in transactions dated by battlemap.valid_from under the
// actor "registry".
func writeDatedHistory(t *testing.T, pool *pgxpool.Pool) dated {
	t.Helper()
	ctx := context.Background()
	var d dated
	if err := pool.QueryRow(ctx, sqlDatedPicks).Scan(&d.county, &d.township, &d.city, &d.a, &d.b, &d.c, &d.p); err != nil {
		t.Fatalf("pick the dated history's county: %v", err)
	}
	rows, err := pool.Query(ctx, `SELECT relname FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname LIKE '%\_history'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 12 {
		t.Fatalf("history tables %v: %v", tables, err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, h := range tables {
			name := pgx.Identifier{h}.Sanitize()
			if _, err := tx.Exec(ctx, `DELETE FROM `+name+` WHERE NOT upper_inf(valid)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+name+` SET valid = tstzrange($1, NULL)`, historyBegins); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("move the history's start: %v", err)
	}
	for _, c := range datedChanges {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('battlemap.valid_from', $1, true),
				set_config('battlemap.actor', 'registry', true), set_config('battlemap.scope', '*', true)`, c.at); err != nil {
				return err
			}
			for _, q := range c.sql {
				if _, err := tx.Exec(ctx, q, pgx.NamedArgs{"a": d.a, "b": d.b, "c": d.c, "p": d.p, "county": d.county}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("dated change of %s: %v", c.at, err)
		}
	}
	return d
}

// stocks reads region's stocks at the moment at, as ground truth beside
// the timeline's.
func stocksAt(t *testing.T, pool *pgxpool.Pool, region, at string) geo.Stocks {
	t.Helper()
	var s geo.Stocks
	if err := pool.QueryRow(context.Background(), `SELECT poor_households, poor_population, villages_not_exited, villages_exited
		FROM region_stocks($1, $2)`, region, at).Scan(&s.PoorHouseholds, &s.PoorPopulation, &s.VillagesNotExited, &s.VillagesExited); err != nil {
		t.Fatal(err)
	}
	return s
}

// getTimeline GETs a timeline, which must answer 200.
func getTimeline(t *testing.T, e *editSite, path string) geo.Timeline {
	t.Helper()
	a := e.do(t, http.MethodGet, path, "", "")
	if a.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	var tl geo.Timeline
	if err := json.Unmarshal(a.body, &tl); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return tl
}

func TestTimeline(t *testing.T) {
	e := newEditSite(t, web.Config{})
	d := writeDatedHistory(t, e.pool)
	before := stocksAt(t, e.pool, d.county, historyBegins)
	moved := func(poor, notExited, exited int64) geo.Stocks {
		s := before
		s.PoorPopulation += poor
		s.VillagesNotExited += notExited
		s.VillagesExited += exited
		return s
	}
	tl := getTimeline(t, e, "/api/regions/"+d.county+"/timeline?from=2016-01-01&to=2016-04-30")
	if tl.Code != d.county || tl.Level != "county" || tl.From != "2016-01-01" || tl.To != "2016-04-30" || tl.Step != geo.StepMonth {
		t.Errorf("timeline of %s: %+v", d.county, tl.RegionRef)
	}
	type step struct {
		start, end string
		stocks     geo.Stocks
		flows      geo.Flows
	}
	want := []step{
		{"2016-01-01", "2016-02-01", before, geo.Flows{}},
		{"2016-02-01", "2016-03-01", moved(-5, 0, 0), geo.Flows{PeopleOut: 5}},
		{"2016-03-01", "2016-04-01", moved(-16, -1, 1),
			geo.Flows{PeopleOut: 11, VillagesExited: 1, ProjectsCompleted: 1, FundsDisbursed: 1000}},
		{"2016-04-01", "2016-05-01", moved(-13, 0, 0), geo.Flows{PeopleOut: 1, PeopleIn: 4, VillagesReturned: 1}},
	}
	if len(tl.Steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(tl.Steps), len(want), tl.Steps)
	}
	for i, w := range want {
		g := tl.Steps[i]
		if start := g.Start.Format(time.DateOnly); start != w.start || g.End.Format(time.DateOnly) != w.end || g.Start.Hour() != 0 {
			t.Errorf("step %d runs %s to %s, want %s to %s (00:00, CST)", i, g.Start, g.End, w.start, w.end)
		}
		if g.Stocks != w.stocks {
			t.Errorf("step %d stocks %+v, want %+v", i, g.Stocks, w.stocks)
		}
		if g.Flows != w.flows {
			t.Errorf("step %d flows %+v, want %+v", i, g.Flows, w.flows)
		}
	}
	wantTotals := geo.Flows{PeopleOut: 17, PeopleIn: 4, VillagesExited: 1, VillagesReturned: 1, ProjectsCompleted: 1, FundsDisbursed: 1000}
	if tl.Totals.Flows != wantTotals || tl.Totals.Stocks != moved(-13, 0, 0) {
		t.Errorf("totals %+v, want flows %+v and the last step's stocks", tl.Totals, wantTotals)
	}
	if tl.Target == nil || tl.Target.Year != 2016 || *tl.Target.PoorPeopleOut != 32 || *tl.Target.VillagesExit != 4 || *tl.Target.RelocationPeople != 10 {
		t.Fatalf("target %+v, want 2016: 32, 4, 10", tl.Target)
	}
	if p := tl.Progress; p == nil || *p.PoorPeopleOut != 0.5313 || *p.VillagesExit != 0.25 || *p.RelocationPeople != 0 {
		t.Errorf("progress %+v, want 0.5313 (17 of 32), 0.25, 0", p)
	}

	// A city's flows are its counties' (only this county moved); a
	// village's and a township's are their own villages'.
	city := getTimeline(t, e, "/api/regions/"+d.city+"/timeline?from=2016-01-01&to=2016-04-30")
	// The city's own 2016 target is the demo's, as it stood then.
	cityTarget := count(t, e.pool, `SELECT poor_people_out FROM region_targets WHERE region_code = $1 AND year = 2016`, d.city)
	if city.Level != "city" || city.Totals.Flows != wantTotals || city.Target == nil || city.Target.PoorPeopleOut == nil ||
		int64(*city.Target.PoorPeopleOut) != cityTarget || city.Progress == nil {
		t.Errorf("city %s: level %s, totals %+v, target %+v, want its target of %d", d.city, city.Level, city.Totals.Flows, city.Target, cityTarget)
	}
	if got, want := city.Totals.Stocks, stocksAt(t, e.pool, d.city, "2016-04-30T23:59:59+08:00"); got != want {
		t.Errorf("city stocks %+v, want %+v", got, want)
	}
	village := getTimeline(t, e, "/api/regions/"+d.a+"/timeline?from=2016-02-01&to=2016-03-31")
	if len(village.Steps) != 2 || village.Steps[0].Flows.PeopleOut != 5 || village.Steps[1].Flows.PeopleOut != 3 ||
		village.Totals.Flows.PeopleOut != 8 {
		t.Errorf("village %s: %+v", d.a, village.Steps)
	}
	township := getTimeline(t, e, "/api/regions/"+d.township+"/timeline?from=2016-02-01&to=2016-02-29")
	if township.Totals.Flows.PeopleOut != 5 {
		t.Errorf("township %s: people_out %d, want 5", d.township, township.Totals.Flows.PeopleOut)
	}

	// Weeks run Monday to Sunday, cut by the period; days are days.
	weeks := getTimeline(t, e, "/api/regions/"+d.county+"/timeline?from=2016-02-03&to=2016-02-16&step=week")
	var starts []string
	for _, s := range weeks.Steps {
		starts = append(starts, s.Start.Format(time.DateOnly))
	}
	if !slices.Equal(starts, []string{"2016-02-03", "2016-02-08", "2016-02-15"}) ||
		weeks.Steps[1].Flows.PeopleOut != 5 || weeks.Steps[2].End.Format(time.DateOnly) != "2016-02-17" {
		t.Errorf("weeks: starts %v, steps %+v", starts, weeks.Steps)
	}
	days := getTimeline(t, e, "/api/regions/"+d.county+"/timeline?from=2016-03-05&to=2016-03-05&step=day")
	if len(days.Steps) != 1 || days.Steps[0].Flows.VillagesExited != 1 || days.Steps[0].Flows.PeopleOut != 8 {
		t.Errorf("March 5: %+v", days.Steps)
	}
	// A change at the very start of a period is in it: the version it
	// replaced ended where the period begins.
	april := getTimeline(t, e, "/api/regions/"+d.county+"/timeline?from=2016-04-01&to=2016-04-01&step=day")
	if len(april.Steps) != 1 || april.Steps[0].Flows.PeopleOut != 1 {
		t.Errorf("April 1: %+v", april.Steps)
	}
}

func TestTimelineBadRequests(t *testing.T) {
	e := newEditSite(t, web.Config{})
	d := writeDatedHistory(t, e.pool)
	tomorrow := time.Now().In(geo.DataZone).AddDate(0, 0, 1).Format(time.DateOnly)
	base := "/api/regions/" + d.county + "/timeline?"
	for _, c := range []struct {
		name, path string
		status     int
		detail     string
	}{
		{"to in the future", base + "from=2016-01-01&to=" + tomorrow, 400, "in the future"},
		{"from in the future", base + "from=" + tomorrow, 400, "in the future"},
		{"before the history", base + "from=2015-12-30&to=2016-01-31", 400, "before the map's history begins"},
		{"from after to", base + "from=2016-03-01&to=2016-02-01", 400, "from must not come after to"},
		{"unknown step", base + "from=2016-01-01&to=2016-02-01&step=year", 400, "step"},
		{"too many steps", base + "from=2016-01-01&to=2017-12-31&step=day", 400, "more than 400 steps"},
		{"unknown parameter", base + "from=2016-01-01&region=1", 400, "unknown query parameter"},
		{"malformed day", base + "from=2016-13-01", 400, "from"},
		{"a parameter twice", base + "step=day&step=week", 400, "give it once"},
		{"malformed code", "/api/regions/52/timeline?from=2016-01-01&to=2016-01-31", 400, "statistical code"},
		{"unknown region", "/api/regions/999999/timeline?from=2016-01-01&to=2016-01-31", 404, "999999"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, http.MethodGet, c.path, "", "")
			detail, _ := a.problem(t)
			if a.status != c.status || !strings.Contains(detail, c.detail) {
				t.Errorf("GET %s: %d %q, want %d naming %q", c.path, a.status, detail, c.status, c.detail)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	e := newEditSite(t, web.Config{})
	d := writeDatedHistory(t, e.pool)
	path := "/api/regions/" + d.county + "/targets/2016"
	jsonType := "application/json"
	for _, c := range []struct {
		name, token, body, ctype string
		status                   int
		fields                   []string
	}{
		{"anonymous", "", `{"poor_people_out": 1}`, jsonType, 401, nil},
		{"county user", e.tokens["county"], `{"poor_people_out": 1}`, jsonType, 403, nil},
		{"viewer", e.tokens["viewer"], `{"poor_people_out": 1}`, jsonType, 403, nil},
		{"not JSON", e.tokens["admin"], `poor_people_out=1`, "application/x-www-form-urlencoded", 415, nil},
		{"not an object", e.tokens["admin"], `[1, 2]`, jsonType, 400, nil},
		{"bad fields", e.tokens["admin"], `{"poor_people_out": -1, "villages_exit": "3", "relocation_people": 1.5, "goal": 7}`, jsonType, 400,
			[]string{"goal", "poor_people_out", "relocation_people", "villages_exit"}},
		{"too large", e.tokens["admin"], `{"poor_people_out": 3000000000}`, jsonType, 400, []string{"poor_people_out"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, http.MethodPut, path, c.token, c.body, "Content-Type", c.ctype)
			_, fields := a.problem(t)
			if a.status != c.status {
				t.Fatalf("PUT %s as %s: %d %s, want %d", path, c.name, a.status, a.body, c.status)
			}
			var names []string
			for k := range fields {
				names = append(names, k)
			}
			slices.Sort(names)
			if !slices.Equal(names, c.fields) {
				t.Errorf("invalid-params %v, want %v", names, c.fields)
			}
		})
	}
	for _, c := range []struct{ path string }{{"/api/regions/" + d.county + "/targets/1999"}, {"/api/regions/" + d.county + "/targets/next"}} {
		if a := e.do(t, http.MethodPut, c.path, e.tokens["admin"], `{}`, "Content-Type", jsonType); a.status != 400 {
			t.Errorf("PUT %s: %d, want 400", c.path, a.status)
		}
	}
	if a := e.do(t, http.MethodPut, "/api/regions/999999/targets/2016", e.tokens["admin"], `{}`, "Content-Type", jsonType); a.status != 404 {
		t.Errorf("PUT of an unknown region's target: %d %s, want 404", a.status, a.body)
	}
	// The county user's refusals changed nothing.
	// (The demo's own 2016 target, then the one set on January 5.)
	if n := count(t, e.pool, `SELECT count(*) FROM region_targets_history WHERE region_code = $1 AND year = 2016`, d.county); n != 2 {
		t.Fatalf("%d versions of the target before the admin's PUT, want 2", n)
	}

	a := e.do(t, http.MethodPut, path, e.tokens["admin"], `{"poor_people_out": 40, "villages_exit": null}`, "Content-Type", jsonType)
	if a.status != 200 || string(a.body) != `{"year":2016,"poor_people_out":40,"villages_exit":null,"relocation_people":null}` {
		t.Fatalf("admin's PUT: %d %s", a.status, a.body)
	}
	var auditID int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM audit_log
		WHERE table_name = 'region_targets' AND row_key = $1 AND actor = 'admin' AND action = 'update'`,
		d.county+"/2016").Scan(&auditID); err != nil {
		t.Fatalf("the audit row of the PUT: %v", err)
	}

	var got geo.Targets
	a = e.do(t, http.MethodGet, "/api/regions/"+d.county+"/targets", "", "")
	if err := json.Unmarshal(a.body, &got); a.status != 200 || err != nil {
		t.Fatalf("GET targets: %d %s (%v)", a.status, a.body, err)
	}
	// 2016's, with the demo's first version, then the demo's 2017.
	if len(got.Targets) != 2 || got.Targets[0].Year != 2016 || *got.Targets[0].PoorPeopleOut != 40 ||
		got.Targets[0].VillagesExit != nil || len(got.Targets[0].History) != 3 || got.Targets[1].Year != 2017 {
		t.Fatalf("targets %+v", got.Targets)
	}
	now, old := got.Targets[0].History[0], got.Targets[0].History[1]
	if now.To != nil || *now.ChangedBy != "admin" || *now.AuditID != auditID || *now.PoorPeopleOut != 40 {
		t.Errorf("the PUT's version %+v, want admin's, audit %d, still valid", now, auditID)
	}
	if *old.ChangedBy != "registry" || old.From.Format(time.RFC3339) != "2016-01-05T09:00:00+08:00" ||
		!old.To.Equal(now.From) || *old.PoorPeopleOut != 32 {
		t.Errorf("the first version %+v, want registry's of January 5 until the PUT", old)
	}
	// The timeline measures 2016 against the target as it stood then.
	tl := getTimeline(t, e, "/api/regions/"+d.county+"/timeline?from=2016-01-01&to=2016-04-30")
	if *tl.Target.PoorPeopleOut != 32 {
		t.Errorf("timeline's target %d, want 32, as it stood on April 30, 2016", *tl.Target.PoorPeopleOut)
	}
	if a := e.do(t, http.MethodGet, "/api/regions/999999/targets", "", ""); a.status != 404 {
		t.Errorf("targets of an unknown region: %d, want 404", a.status)
	}
}

func TestChanges(t *testing.T) {
	e := newEditSite(t, web.Config{})
	d := writeDatedHistory(t, e.pool)
	var got geo.RegionDiff
	a := e.do(t, http.MethodGet, "/api/regions/"+d.county+"/changes?from=2016-02-01&to=2016-04-30", "", "")
	if err := json.Unmarshal(a.body, &got); a.status != 200 || err != nil {
		t.Fatalf("GET changes: %d %s", a.status, a.body)
	}
	var codes []string
	states := map[string][2]map[string]any{}
	for _, v := range got.Villages {
		codes = append(codes, v.Code)
		var b, f map[string]any
		json.Unmarshal(v.Before, &b)
		json.Unmarshal(v.After, &f)
		states[v.Code] = [2]map[string]any{b, f}
	}
	want := []string{d.a, d.b, d.c}
	slices.Sort(want)
	if !slices.Equal(codes, want) {
		t.Fatalf("changed villages %v, want %v", codes, want)
	}
	for _, c := range []struct {
		code, field   string
		before, after any
	}{
		{d.a, "poor_population", nil, -9.0}, {d.b, "status", "not_exited", "exited"}, {d.b, "exit_year", nil, 2016.0},
		{d.c, "status", "exited", "not_exited"}, {d.c, "poor_population", nil, 4.0}, {d.b, "poor_population", nil, -8.0},
	} {
		b, f := states[c.code][0][c.field], states[c.code][1][c.field]
		if c.field == "poor_population" {
			if diff := f.(float64) - b.(float64); diff != c.after {
				t.Errorf("%s: %s moved by %v, want %v", c.code, c.field, diff, c.after)
			}
			continue
		}
		if (c.before != nil && b != c.before) || f != c.after {
			t.Errorf("%s: %s %v → %v, want %v → %v", c.code, c.field, b, f, c.before, c.after)
		}
	}
	var before, after map[string]int64
	json.Unmarshal(got.Figures.Before, &before)
	json.Unmarshal(got.Figures.After, &after)
	if after["poor_population"]-before["poor_population"] != -13 || after["villages_exited"] != before["villages_exited"] {
		t.Errorf("figures %v → %v: want 13 fewer poor people and as many villages exited", before, after)
	}

	// Between two moments of one day, nothing; moments are days or RFC 3339.
	a = e.do(t, http.MethodGet, "/api/regions/"+d.county+"/changes?from=2016-03-05T09:00:00%2B08:00&to=2016-03-05T11:00:00%2B08:00", "", "")
	if err := json.Unmarshal(a.body, &got); a.status != 200 || err != nil || len(got.Villages) != 1 || got.Villages[0].Code != d.b {
		t.Errorf("changes around March 5, 10:00: %d %s, want village %s", a.status, a.body, d.b)
	}
	for _, c := range []struct {
		query  string
		status int
	}{
		{"to=2016-03-01", 400}, {"from=2016-03-01&to=2016-02-01", 400}, {"from=2015-06-01", 400}, {"from=2016-02-01&x=1", 400},
		{"from=yesterday", 400},
	} {
		if a := e.do(t, http.MethodGet, "/api/regions/"+d.county+"/changes?"+c.query, "", ""); a.status != c.status {
			t.Errorf("changes?%s: %d %s, want %d", c.query, a.status, a.body, c.status)
		}
	}
	if a := e.do(t, http.MethodGet, "/api/regions/999999/changes?from=2016-02-01", "", ""); a.status != 404 {
		t.Errorf("changes of an unknown region: %d, want 404", a.status)
	}

	// Every pair of moments around the dated history's versions, under
	// the city, the county and the township, lists the villages whose
	// state differs when every village is read at both moments.
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `
SELECT DISTINCT m + d FROM (SELECT lower(valid) FROM region_rollups_history UNION SELECT upper(valid) FROM region_rollups_history) b (m),
       (VALUES (interval '0'), (interval '-1 second')) v (d)
WHERE m IS NOT NULL AND m + d >= $1 ORDER BY 1`, historyBegins)
	if err != nil {
		t.Fatal(err)
	}
	moments, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil || len(moments) < 10 {
		t.Fatalf("the history's moments %v: %v", moments, err)
	}
	moments = append(moments, time.Now())
	for _, root := range []string{d.city, d.county, d.township} {
		for i, from := range moments {
			for _, to := range moments[i:] {
				diff, err := geo.RegionChanges(ctx, e.pool, root, from, to)
				if err != nil {
					t.Fatalf("changes under %s from %s to %s: %v", root, from, to, err)
				}
				var listed []string
				for _, v := range diff.Villages {
					listed = append(listed, v.Code)
				}
				if want := ids(t, e.pool, sqlChangedEverywhere, root, from, to); !slices.Equal(listed, want) {
					t.Errorf("changes under %s from %s to %s: %v, every village read at both moments: %v", root, from, to, listed, want)
				}
			}
		}
	}
}

// sqlChangedEverywhere is the ground truth of /changes: the villages
// under region $1 whose state at $2 differs from that at $3, every
// village read at both moments (ids sorts them as /changes does).
const sqlChangedEverywhere = `
SELECT coalesce(b.code, a.code)
FROM (SELECT h.code, village_state(h) AS s FROM region_rollups_history h
      WHERE h.level = 'village' AND h.lineage @> ARRAY[$1::text] AND h.valid @> $2::timestamptz) a
FULL JOIN (SELECT h.code, village_state(h) AS s FROM region_rollups_history h
           WHERE h.level = 'village' AND h.lineage @> ARRAY[$1::text] AND h.valid @> $3::timestamptz) b ON b.code = a.code
WHERE a.s IS DISTINCT FROM b.s
ORDER BY 1`

func TestVillageHistory(t *testing.T) {
	e := newEditSite(t, web.Config{})
	d := writeDatedHistory(t, e.pool)
	history := func(code string) geo.VillageHistory {
		t.Helper()
		var h geo.VillageHistory
		a := e.do(t, http.MethodGet, "/api/villages/"+code+"/history", "", "")
		if err := json.Unmarshal(a.body, &h); a.status != 200 || err != nil {
			t.Fatalf("history of %s: %d %s", code, a.status, a.body)
		}
		return h
	}
	// auditIDs are the ids of the audit rows a change dated at wrote for
	// the village code.
	auditIDs := func(code, at string) []int64 {
		t.Helper()
		rows, err := e.pool.Query(context.Background(), `SELECT id FROM audit_log
			WHERE row_key = $1 AND table_name IN ('villages', 'regions') AND valid_from = $2 ORDER BY id`, code, at)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			t.Fatalf("audit rows of %s at %s: %v %v", code, at, ids, err)
		}
		return ids
	}
	type version struct {
		from    string
		changed []string
		audit   []int64
	}
	for _, c := range []struct {
		village string
		want    []version
	}{
		{d.a, []version{
			{"2016-04-01T00:00:00+08:00", []string{"poor_population"}, auditIDs(d.a, "2016-04-01T00:00:00+08:00")},
			{"2016-03-15T10:00:00+08:00", []string{"poor_population"}, auditIDs(d.a, "2016-03-15T10:00:00+08:00")},
			{"2016-02-10T10:00:00+08:00", []string{"poor_population"}, auditIDs(d.a, "2016-02-10T10:00:00+08:00")},
			// The first version is the demo's load of January 1: its audit rows.
			{historyBegins, nil, auditIDs(d.a, historyBegins)},
		}},
		{d.b, []version{
			{"2016-03-05T10:00:00+08:00", []string{"exit_year", "poor_population", "status"}, auditIDs(d.b, "2016-03-05T10:00:00+08:00")},
			{historyBegins, nil, auditIDs(d.b, historyBegins)},
		}},
	} {
		h := history(c.village)
		if h.Code != c.village || h.Name == "" || len(h.Versions) != len(c.want) {
			t.Fatalf("history of %s: %+v", c.village, h)
		}
		for i, w := range c.want {
			g := h.Versions[i]
			if g.From.Format(time.RFC3339) != w.from || !reflect.DeepEqual(g.Changed, w.changed) || !slices.Equal(g.AuditIDs, w.audit) {
				t.Errorf("%s version %d: from %s, changed %v, audit %v; want %s, %v, %v",
					c.village, i, g.From.Format(time.RFC3339), g.Changed, g.AuditIDs, w.from, w.changed, w.audit)
			}
			if i > 0 && (g.To == nil || !g.To.Equal(h.Versions[i-1].From)) {
				t.Errorf("%s version %d ends %v, want where the next begins, %s", c.village, i, g.To, h.Versions[i-1].From)
			}
		}
		if h.Versions[0].To != nil {
			t.Errorf("%s: the newest version ends %v, want null", c.village, h.Versions[0].To)
		}
	}
	for _, c := range []struct {
		code   string
		status int
	}{{"999999999999", 404}, {d.county, 400}, {"x", 400}} {
		if a := e.do(t, http.MethodGet, "/api/villages/"+c.code+"/history", "", ""); a.status != c.status {
			t.Errorf("history of %s: %d, want %d", c.code, a.status, c.status)
		}
	}
}

// TestTimelineOfTheSeed reads the published figures of Zunyi's first half
// of 2016 off the timeline of the demo data, as the headquarters would:
// 103,000 people lifted out of poverty in January–June, 85,000 of them by
// the end of May, 51% of the year's target of 202,000; 544 projects
// funded with 464 million yuan; the 2016–2017 relocation targets adding
// up to 181,000 people.
func TestTimelineOfTheSeed(t *testing.T) {
	e := newEditSite(t, web.Config{})
	tl := getTimeline(t, e, "/api/regions/520300/timeline?from=2016-01-01&to=2016-06-30&step=month")
	if len(tl.Steps) != 6 {
		t.Fatalf("%d steps, want the 6 months", len(tl.Steps))
	}
	var byMay int64
	for _, s := range tl.Steps[:5] {
		byMay += s.Flows.PeopleOut
	}
	f := tl.Totals.Flows
	if f.PeopleOut != 103_000 || byMay != 85_000 || f.ProjectsFunded != 544 || f.FundsPlanned != 464_000_000 {
		t.Errorf("January–June: %d out (%d by May), %d projects funded with %d yuan; want 103,000 (85,000), 544, 464,000,000",
			f.PeopleOut, byMay, f.ProjectsFunded, f.FundsPlanned)
	}
	if tl.Totals.Stocks.PoorPopulation != 558_300 || tl.Totals.Stocks.VillagesNotExited != 645 {
		t.Errorf("at the end of June: %+v, want 558,300 poor people and 645 villages not exited", tl.Totals.Stocks)
	}
	if tl.Target == nil || tl.Target.PoorPeopleOut == nil || *tl.Target.PoorPeopleOut != 202_000 ||
		tl.Progress == nil || tl.Progress.PoorPeopleOut == nil || math.Round(*tl.Progress.PoorPeopleOut*100) != 51 {
		t.Errorf("target %+v, progress %+v: want 202,000 and 51%%", tl.Target, tl.Progress)
	}
	if n := count(t, e.pool, `SELECT sum(relocation_people) FROM region_targets WHERE region_code = '520300' AND year IN (2016, 2017)`); n != 181_000 {
		t.Errorf("relocation targets 2016–2017: %d, want 181,000", n)
	}
}
