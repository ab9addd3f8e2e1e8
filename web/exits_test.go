package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// exitFacts is the facts member of an exit's refusal.
type exitFacts struct {
	Rule     string `json:"rule"`
	Region   string `json:"region"`
	Level    string `json:"level"`
	Standard struct {
		MaxIncidence      float64  `json:"max_incidence"`
		MinVillagesExited *float64 `json:"min_villages_exited"`
	} `json:"standard"`
	Figures struct {
		Population      int64   `json:"population"`
		PoorPopulation  int64   `json:"poor_population"`
		Incidence       float64 `json:"incidence"`
		PovertyVillages *int64  `json:"poverty_villages"`
		ExitedVillages  *int64  `json:"exited_villages"`
	} `json:"figures"`
}

// exitRefused decodes the 422 of an exit below its standard, failing the
// test for any other answer.
func exitRefused(t *testing.T, a answer, what string) exitFacts {
	t.Helper()
	var p struct {
		Detail string    `json:"detail"`
		Facts  exitFacts `json:"facts"`
	}
	if a.status != 422 || json.Unmarshal(a.body, &p) != nil || p.Facts.Rule != "exit_standard" {
		t.Fatalf("%s: %d %s, want 422 with the exit standard's facts", what, a.status, a.body)
	}
	if !strings.Contains(p.Detail, "does not meet the exit standard") {
		t.Errorf("%s: detail %q does not say the standard is not met", what, p.Detail)
	}
	return p.Facts
}

// unitFigures are a unit's exit figures as the test computes them from
// the villages under it: population, poor people, poverty villages and
// those exited.
type unitFigures struct{ population, poor, poverty, exited int64 }

// figuresOf sums the villages at or under region code (by the regions'
// parents, from the test's own SQL).
func figuresOf(t *testing.T, pool *pgxpool.Pool, code string) unitFigures {
	t.Helper()
	var f unitFigures
	if err := pool.QueryRow(context.Background(), `
WITH RECURSIVE under (code) AS (
    SELECT code FROM regions WHERE code = $1
    UNION ALL SELECT r.code FROM regions r JOIN under u ON r.parent_code = u.code
)
SELECT sum(v.population), sum(v.poor_population),
       count(*) FILTER (WHERE r.poverty_status IN ('not_exited', 'exited')), count(*) FILTER (WHERE r.poverty_status = 'exited')
FROM under u JOIN villages v ON v.code = u.code JOIN regions r ON r.code = v.code`, code).Scan(
		&f.population, &f.poor, &f.poverty, &f.exited); err != nil {
		t.Fatalf("figures of %s: %v", code, err)
	}
	return f
}

// checkFacts holds the facts of a refusal to the figures SQL finds.
func checkFacts(t *testing.T, got exitFacts, want unitFigures, level string) {
	t.Helper()
	f := got.Figures
	incidence := float64(want.poor) / float64(want.population)
	if f.Population != want.population || f.PoorPopulation != want.poor || abs(f.Incidence-incidence) > 5e-6 {
		t.Errorf("facts' figures %+v, want population %d, poor %d, incidence %.5f", f, want.population, want.poor, incidence)
	}
	if level == "village" {
		if f.PovertyVillages != nil || f.ExitedVillages != nil {
			t.Errorf("a village's facts %+v name poverty villages", f)
		}
		return
	}
	if f.PovertyVillages == nil || *f.PovertyVillages != want.poverty || f.ExitedVillages == nil || *f.ExitedVillages != want.exited {
		t.Errorf("facts' villages %v of %v exited, want %d of %d", f.ExitedVillages, f.PovertyVillages, want.exited, want.poverty)
	}
}

// abs is |x|.
func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// registryOf reads a region's registry.
func (e *editSite) registryOf(t *testing.T, path string) geo.Registry {
	t.Helper()
	var g geo.Registry
	a := e.do(t, http.MethodGet, path, "", "")
	if err := json.Unmarshal(a.body, &g); a.status != 200 || err != nil {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	return g
}

// highVillages are villages of county in the registry, not exited, over
// the 3% standard, those with the most projects first.
func highVillages(t *testing.T, pool *pgxpool.Pool, county string, n int) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT v.code FROM villages v JOIN regions r ON r.code = v.code
WHERE v.county_code = $1 AND r.poverty_status = 'not_exited' AND v.poor_population * 100 >= 3 * v.population
  AND v.pairing_unit IS NOT NULL
ORDER BY (SELECT count(*) FROM projects p WHERE p.village_code = v.code) DESC, v.code
LIMIT $2`, county, n)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		codes = append(codes, c)
	}
	if len(codes) != n {
		t.Fatalf("want %d villages over the standard in %s, got %v (%v)", n, county, codes, rows.Err())
	}
	return codes
}

// kept is what a village keeps through an exit (摘帽不摘政策): its
// projects, their funds, and its pairing.
func kept(t *testing.T, pool *pgxpool.Pool, village string) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), `
SELECT format('%s projects, %s planned, %s disbursed, pairing %s %s',
              count(p.code), sum(p.funds_planned), sum(p.funds_disbursed), v.pairing_level, v.pairing_unit)
FROM villages v LEFT JOIN projects p ON p.village_code = v.code WHERE v.code = $1
GROUP BY v.pairing_level, v.pairing_unit`, village).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// openFlags counts the flags of rule about subject that hold, and those
// cleared.
func openFlags(t *testing.T, pool *pgxpool.Pool, rule, subject string) (open, cleared int64) {
	t.Helper()
	open = count(t, pool, `SELECT count(*) FROM flags WHERE rule = $1 AND subject_code = $2 AND cleared_at IS NULL`, rule, subject)
	cleared = count(t, pool, `SELECT count(*) FROM flags WHERE rule = $1 AND subject_code = $2 AND cleared_at IS NOT NULL`, rule, subject)
	return open, cleared
}

// TestExitVillage: a village over the standard is refused with the
// standard and its figures, by the exit and by a PATCH; a county user's
// reason does not override it, an admin's does, recorded with the exit
// and raising the flag exit_override; the village keeps its projects,
// funds and pairing and shows until when its policies continue; it
// returns to poverty as an event of its own, which clears the flag.
func TestExitVillage(t *testing.T) {
	e := newEditSite(t, web.Config{})
	vs := highVillages(t, e.pool, e.a.code, 2)
	v, patched := vs[0], vs[1]
	path := "/api/regions/" + v + "/exit"
	before := kept(t, e.pool, v)
	events := func() int64 {
		return count(t, e.pool, `SELECT count(*) FROM registry_events WHERE region_code = $1`, v)
	}
	n0 := events()

	facts := exitRefused(t, e.do(t, http.MethodPost, path, e.tokens["county"], `{"exit_year": 2016}`, "Content-Type", jsonType), "county user's exit")
	if facts.Region != v || facts.Level != "village" || facts.Standard.MaxIncidence != 0.03 || facts.Standard.MinVillagesExited != nil {
		t.Errorf("facts %+v, want village %s against 3%%", facts, v)
	}
	checkFacts(t, facts, figuresOf(t, e.pool, v), "village")
	exitRefused(t, e.do(t, http.MethodPost, path, e.tokens["county"], `{"exit_year": 2016, "reason": "上级同意"}`, "Content-Type", jsonType),
		"county user's exit with a reason")
	exitRefused(t, e.do(t, http.MethodPost, path, e.tokens["admin"], `{"exit_year": 2016, "reason": "  "}`, "Content-Type", jsonType),
		"admin's exit with a blank reason")

	// The same rule holds for an edit of the village's status.
	a := e.patch(t, e.tokens["county"], "villages", patched, e.etag(t, "villages", patched), `{"poverty_status": "exited", "exit_year": 2016}`)
	checkFacts(t, exitRefused(t, a, "PATCH to exited"), figuresOf(t, e.pool, patched), "village")
	if _, fields := a.problem(t); fields["poverty_status"] == "" {
		t.Errorf("the PATCH's refusal names no field poverty_status: %s", a.body)
	}
	if s := e.registryOf(t, "/api/regions/"+patched+"/registry"); s.Status != "not_exited" {
		t.Errorf("%s is %s after a refused PATCH", patched, s.Status)
	}
	if n := events(); n != n0 {
		t.Fatalf("refusals wrote %d registry events", n-n0)
	}

	reason := "该村搬迁安置已完成，贫困人口数据待更新"
	a = e.do(t, http.MethodPost, path, e.tokens["admin"], `{"exit_year": 2016, "reason": "`+reason+`"}`, "Content-Type", jsonType)
	var g geo.Registry
	if err := json.Unmarshal(a.body, &g); a.status != 200 || err != nil {
		t.Fatalf("admin's override: %d %s", a.status, a.body)
	}
	if g.Status != "exited" || *g.ExitYear != 2016 || g.MeetsStandard == nil || *g.MeetsStandard || g.PoliciesUntil == nil ||
		*g.PoliciesUntil != "2020-12-31" || len(g.Events) == 0 {
		t.Fatalf("registry after the override %+v", g)
	}
	ev := g.Events[0]
	if ev.Kind != "exit" || !ev.Override || ev.Reason == nil || *ev.Reason != reason || ev.Actor != "admin" ||
		*ev.MaxIncidence != 0.03 || *ev.PoorPopulation != figuresOf(t, e.pool, v).poor {
		t.Errorf("the override's event %+v", ev)
	}
	if open, _ := openFlags(t, e.pool, "exit_override", v); open != 1 {
		t.Errorf("%d open exit_override flags on %s, want 1", open, v)
	}
	if after := kept(t, e.pool, v); after != before {
		t.Errorf("the exit changed what the village keeps: %s, was %s", after, before)
	}
	again := e.do(t, http.MethodPost, path, e.tokens["admin"], `{"exit_year": 2016}`, "Content-Type", jsonType)
	if _, fields := again.problem(t); again.status != 422 || fields["poverty_status"] == "" {
		t.Errorf("exit of an exited village: %d %s, want 422", again.status, again.body)
	}

	// 返贫: an event of its own, with the village's figures; the flag clears.
	ret := "/api/regions/" + v + "/return"
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"no reason", `{"poor_households": 3, "poor_population": 9}`, 400},
		{"no figures", `{"reason": "因病返贫"}`, 400},
		{"more households than people", `{"reason": "因病返贫", "poor_households": 9, "poor_population": 3}`, 400},
		{"zero people", `{"reason": "因病返贫", "poor_households": 0, "poor_population": 0}`, 400},
	} {
		if a := e.do(t, http.MethodPost, ret, e.tokens["county"], c.body, "Content-Type", jsonType); a.status != c.status {
			t.Errorf("return with %s: %d %s, want %d", c.name, a.status, a.body, c.status)
		}
	}
	a = e.do(t, http.MethodPost, ret, e.tokens["county"], `{"reason": "因病返贫", "poor_households": 3, "poor_population": 9}`, "Content-Type", jsonType)
	if err := json.Unmarshal(a.body, &g); a.status != 200 || err != nil {
		t.Fatalf("return: %d %s", a.status, a.body)
	}
	if g.Status != "not_exited" || g.ExitYear != nil || g.PoliciesUntil != nil || g.Figures.PoorPopulation != 9 ||
		g.Events[0].Kind != "return" || *g.Events[0].Reason != "因病返贫" || g.Events[0].Actor != "zhang" || g.Events[0].Override {
		t.Errorf("registry after the return %+v", g)
	}
	if open, cleared := openFlags(t, e.pool, "exit_override", v); open != 0 || cleared != 1 {
		t.Errorf("exit_override flags of %s: %d open, %d cleared; want the one cleared by the return", v, open, cleared)
	}
	if after := kept(t, e.pool, v); after != before {
		t.Errorf("the return changed what the village keeps: %s, was %s", after, before)
	}
	if n := events(); n != n0+2 {
		t.Errorf("%d registry events written, want 2 (the exit, the return)", n-n0)
	}
	if a := e.do(t, http.MethodPost, ret, e.tokens["county"], `{"reason": "x", "poor_households": 1, "poor_population": 1}`, "Content-Type", jsonType); a.status != 422 {
		t.Errorf("return of a village not exited: %d %s, want 422", a.status, a.body)
	}
}

// TestExitWho: who may exit what. A viewer and a stranger may not; a
// county user may not exit another county's village (403: row-level
// security keeps the row from the change) nor their own county (403,
// the same way: a county user changes the townships and villages of
// their counties, never the county row itself), whatever its figures.
func TestExitWho(t *testing.T) {
	e := newEditSite(t, web.Config{})
	other := highVillages(t, e.pool, e.b.code, 1)[0]
	own := highVillages(t, e.pool, e.a.code, 1)[0]
	// The county a poverty county, meeting the standard or not: the
	// refusal comes first.
	change(t, e.pool, `UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL WHERE code = $1`, e.a.code)
	body := `{"exit_year": 2016, "reason": "县里已验收"}`
	for _, c := range []struct {
		name, token, code string
		status            int
	}{
		{"stranger", "", own, 401},
		{"viewer", e.tokens["viewer"], own, 403},
		{"county user, another county's village", e.tokens["county"], other, 403},
		{"county user, their own county", e.tokens["county"], e.a.code, 403},
		{"county user, a city", e.tokens["county"], "520300", 422},
		{"unknown region", e.tokens["admin"], "520399999999", 404},
		{"malformed code", e.tokens["admin"], "52", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, http.MethodPost, "/api/regions/"+c.code+"/exit", c.token, body, "Content-Type", jsonType)
			if a.status != c.status {
				t.Fatalf("exit of %s: %d %s, want %d", c.code, a.status, a.body, c.status)
			}
		})
	}
	if n := count(t, e.pool, `SELECT count(*) FROM regions WHERE code = ANY ($1) AND poverty_status = 'exited'`, []string{own, other, e.a.code}); n != 0 {
		t.Errorf("%d of the regions refused are exited", n)
	}
}

// TestExitBodies: bodies are read strictly: 400 naming what is wrong.
func TestExitBodies(t *testing.T) {
	e := newEditSite(t, web.Config{})
	v := highVillages(t, e.pool, e.a.code, 1)[0]
	exit, ret, std := "/api/regions/"+v+"/exit", "/api/regions/"+v+"/return", "/api/exit-standards/village"
	for _, c := range []struct {
		name, path, body, ctype string
		status                  int
		says                    string
		fields                  []string
	}{
		{"unknown member", exit, `{"exit_year": 2016, "year": 2016}`, jsonType, 400, "", []string{"year"}},
		{"a member twice", exit, `{"exit_year": 2016, "exit_year": 2017}`, jsonType, 400, `"exit_year" is given twice`, nil},
		{"year as a string", exit, `{"exit_year": "2016"}`, jsonType, 400, "", []string{"exit_year"}},
		{"year as a fraction", exit, `{"exit_year": 2016.5}`, jsonType, 400, "", []string{"exit_year"}},
		{"no year", exit, `{"reason": "x"}`, jsonType, 400, "", []string{"exit_year"}},
		{"a future year", exit, `{"exit_year": 2099}`, jsonType, 400, "", []string{"exit_year"}},
		{"reason as a number", exit, `{"exit_year": 2016, "reason": 1}`, jsonType, 400, "", []string{"reason"}},
		{"an array", exit, `[2016]`, jsonType, 400, "not a JSON object", nil},
		{"two objects", exit, `{"exit_year": 2016} {}`, jsonType, 400, "follows", nil},
		{"not JSON", exit, `exit_year=2016`, "application/x-www-form-urlencoded", 415, "", nil},
		{"return figures as strings", ret, `{"reason": "x", "poor_households": "1", "poor_population": 2}`, jsonType, 400, "", []string{"poor_households"}},
		{"return with case-folded names", ret, `{"Reason": "x"}`, jsonType, 400, "", []string{"Reason", "reason"}},
		{"standard without share", std, `{"max_incidence": 0.03, "policies_until": "2020-12-31"}`, jsonType, 400, "", []string{"min_villages_exited"}},
		{"standard out of range", std, `{"max_incidence": 1.5, "min_villages_exited": null, "policies_until": "2020-12-31"}`, jsonType, 400, "", []string{"max_incidence"}},
		{"standard too fine", std, `{"max_incidence": 0.030001, "min_villages_exited": null, "policies_until": "2020-12-31"}`, jsonType, 400, "", []string{"max_incidence"}},
		{"a village share", std, `{"max_incidence": 0.03, "min_villages_exited": 0.9, "policies_until": "2020-12-31"}`, jsonType, 400, "", []string{"min_villages_exited"}},
		{"not a day", std, `{"max_incidence": 0.03, "min_villages_exited": null, "policies_until": "2020-13-31"}`, jsonType, 400, "", []string{"policies_until"}},
		{"unknown level", "/api/exit-standards/city", `{"max_incidence": 0.03, "min_villages_exited": 0.9, "policies_until": "2020-12-31"}`, jsonType, 404, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, http.MethodPost, c.path, e.tokens["admin"], c.body, "Content-Type", c.ctype)
			if strings.HasPrefix(c.path, "/api/exit-standards/") {
				a = e.do(t, http.MethodPut, c.path, e.tokens["admin"], c.body, "Content-Type", c.ctype)
			}
			detail, fields := a.problem(t)
			var names []string
			for k := range fields {
				names = append(names, k)
			}
			slices.Sort(names)
			if a.status != c.status || !strings.Contains(detail, c.says) || !slices.Equal(names, c.fields) {
				t.Errorf("%d %q %v, want %d saying %q naming %v", a.status, detail, names, c.status, c.says, c.fields)
			}
		})
	}
	if a := e.do(t, http.MethodGet, exit, "", ""); a.status != 405 || a.header.Get("Allow") != "POST" {
		t.Errorf("GET of an exit: %d Allow %q, want 405 POST", a.status, a.header.Get("Allow"))
	}
}

// TestExitTownship: a township exits (摘帽) when its villages' incidence
// is below the standard and 90% of its poverty villages have exited;
// each refusal states both, equal to SQL over its villages.
func TestExitTownship(t *testing.T) {
	e := newEditSite(t, web.Config{})
	var town string
	if err := e.pool.QueryRow(context.Background(), `
SELECT township_code FROM villages WHERE county_code = $1 GROUP BY township_code HAVING count(*) >= 12
ORDER BY township_code LIMIT 1`, e.a.code).Scan(&town); err != nil {
		t.Fatal(err)
	}
	// Ten poverty villages with no poor people, none exited; the rest out
	// of the registry; the township a poverty unit.
	change(t, e.pool, `UPDATE villages SET poor_households = 0, poor_population = 0 WHERE township_code = $1`, town)
	change(t, e.pool, `UPDATE regions r SET poverty_status = CASE WHEN r.code IN (
	                       SELECT code FROM regions WHERE parent_code = $1 ORDER BY code LIMIT 10) THEN 'not_exited' ELSE 'none' END,
	                   exit_year = NULL WHERE r.parent_code = $1`, town)
	change(t, e.pool, `UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL WHERE code = $1`, town)
	path := "/api/regions/" + town + "/exit"
	exit := func(what string) answer {
		return e.do(t, http.MethodPost, path, e.tokens["county"], `{"exit_year": 2016}`, "Content-Type", jsonType)
	}

	facts := exitRefused(t, exit("none exited"), "township with none of its villages exited")
	if *facts.Standard.MinVillagesExited != 0.9 || facts.Figures.Incidence != 0 {
		t.Errorf("facts %+v: want the 90%% share, incidence 0", facts)
	}
	checkFacts(t, facts, figuresOf(t, e.pool, town), "township")
	if g := e.registryOf(t, "/api/regions/"+town+"/registry"); *g.MeetsStandard || g.Figures.PovertyVillages != 10 || g.Figures.ExitedVillages != 0 {
		t.Errorf("registry %+v: want 0 of 10 exited, not meeting the standard", g.Figures)
	}

	// Nine of ten exited (90%), but the villages left hold enough poor
	// people to put the township over 3%.
	change(t, e.pool, `UPDATE regions SET poverty_status = 'exited', exit_year = 2016 WHERE code IN (
	                   SELECT code FROM regions WHERE parent_code = $1 AND poverty_status = 'not_exited' ORDER BY code LIMIT 9)`, town)
	change(t, e.pool, `UPDATE villages v SET poor_households = 1, poor_population = v.population FROM regions r
	                   WHERE r.code = v.code AND r.parent_code = $1 AND r.poverty_status <> 'exited'`, town)
	facts = exitRefused(t, exit("over 3%"), "township over 3%")
	want := figuresOf(t, e.pool, town)
	checkFacts(t, facts, want, "township")
	if want.exited != 9 || want.poverty != 10 || facts.Figures.Incidence < 0.03 {
		t.Errorf("figures %+v, facts %+v: want 9 of 10 exited and an incidence over 3%%", want, facts.Figures)
	}

	// Below 3% and 90%: it exits, by the county user of its county.
	change(t, e.pool, `UPDATE villages SET poor_households = 0, poor_population = 0 WHERE township_code = $1`, town)
	a := exit("meeting the standard")
	var g geo.Registry
	if err := json.Unmarshal(a.body, &g); a.status != 200 || err != nil {
		t.Fatalf("township meeting the standard: %d %s", a.status, a.body)
	}
	if g.Status != "exited" || !*g.MeetsStandard || *g.PoliciesUntil != "2020-12-31" || g.Events[0].Kind != "exit" ||
		g.Events[0].Region.Code != town || g.Events[0].Override || *g.Events[0].ExitedVillages != 9 {
		t.Errorf("registry after the township's exit %+v", g)
	}
	// The township's events list its villages' too, as the database has them.
	if n := count(t, e.pool, `SELECT count(*) FROM registry_events WHERE region_code = $1 OR region_code IN (
	                            SELECT code FROM regions WHERE parent_code = $1)`, town); int64(g.EventsTotal) != n || len(g.Events) != int(n) {
		t.Errorf("%d events (%d listed), want %d", g.EventsTotal, len(g.Events), n)
	}
}

// TestExitStandards: an admin tightens the village standard: the change
// is audited and kept with its history (an as-of read gives the old
// standard), a village that met the old one no longer meets it and its
// exit is refused; county users may not change a standard.
func TestExitStandards(t *testing.T) {
	e := newEditSite(t, web.Config{})
	v := highVillages(t, e.pool, e.a.code, 1)[0]
	// 2.5% poor: below 3%, above 2%.
	change(t, e.pool, `UPDATE villages SET poor_population = population / 40, poor_households = 1 WHERE code = $1`, v)
	reg := "/api/regions/" + v + "/registry"
	if g := e.registryOf(t, reg); !*g.MeetsStandard || g.Standard.MaxIncidence != 0.03 {
		t.Fatalf("registry before %+v: want the village meeting 3%%", g)
	}
	var old time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&old); err != nil {
		t.Fatal(err)
	}
	std := "/api/exit-standards/village"
	tighter := `{"max_incidence": 0.02, "min_villages_exited": null, "policies_until": "2021-06-30"}`
	for _, c := range []struct {
		name, token string
		status      int
	}{{"stranger", "", 401}, {"viewer", e.tokens["viewer"], 403}, {"county user", e.tokens["county"], 403}} {
		if a := e.do(t, http.MethodPut, std, c.token, tighter, "Content-Type", jsonType); a.status != c.status {
			t.Errorf("PUT by %s: %d %s, want %d", c.name, a.status, a.body, c.status)
		}
	}
	a := e.do(t, http.MethodPut, std, e.tokens["admin"], tighter, "Content-Type", jsonType)
	if a.status != 200 || string(a.body) != `{"level":"village","max_incidence":0.02,"min_villages_exited":null,"policies_until":"2021-06-30"}` {
		t.Fatalf("admin's PUT: %d %s", a.status, a.body)
	}
	var auditID int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM audit_log
		WHERE table_name = 'exit_standards' AND row_key = 'village' AND actor = 'admin' AND action = 'update'`).Scan(&auditID); err != nil {
		t.Fatalf("the audit row of the PUT: %v", err)
	}

	read := func(path string) []geo.ExitStandardHistory {
		t.Helper()
		var d struct {
			Standards []geo.ExitStandardHistory `json:"standards"`
		}
		a := e.do(t, http.MethodGet, path, "", "")
		if err := json.Unmarshal(a.body, &d); a.status != 200 || err != nil || len(d.Standards) != 3 {
			t.Fatalf("GET %s: %d %s", path, a.status, a.body)
		}
		return d.Standards
	}
	now := read("/api/exit-standards")
	if s := now[0]; s.Level != "village" || s.MaxIncidence != 0.02 || len(s.History) != 2 || *s.History[0].ChangedBy != "admin" ||
		*s.History[0].AuditID != auditID || s.History[0].To != nil || s.History[1].MaxIncidence != 0.03 || s.History[1].To == nil {
		t.Errorf("village standard now %+v", s)
	}
	if s := now[1]; s.Level != "township" || s.MaxIncidence != 0.03 || *s.MinVillagesExited != 0.9 || len(s.History) != 1 {
		t.Errorf("township standard %+v", s)
	}
	then := read("/api/exit-standards?at=" + at(old))
	if s := then[0]; s.MaxIncidence != 0.03 || s.PoliciesUntil != "2020-12-31" || len(s.History) != 1 || s.History[0].To != nil {
		t.Errorf("village standard as of before the PUT %+v, want 3%% and its one version, still holding", s)
	}

	g := e.registryOf(t, reg)
	if *g.MeetsStandard || g.Standard.MaxIncidence != 0.02 {
		t.Errorf("registry after %+v: want the village no longer meeting 2%%", g)
	}
	if past := e.registryOf(t, reg+"?at="+at(old)); !*past.MeetsStandard || past.Standard.MaxIncidence != 0.03 {
		t.Errorf("registry as of before the PUT %+v: want 3%%, met", past)
	}
	facts := exitRefused(t, e.do(t, http.MethodPost, "/api/regions/"+v+"/exit", e.tokens["county"], `{"exit_year": 2016}`, "Content-Type", jsonType),
		"exit under the stricter standard")
	if facts.Standard.MaxIncidence != 0.02 {
		t.Errorf("refused against %v, want 0.02", facts.Standard.MaxIncidence)
	}
	checkFacts(t, facts, figuresOf(t, e.pool, v), "village")
}

// TestRegistryFigures: a region's registry figures equal SQL over its
// villages, and its events those the database holds under it now, from
// the country to a village, after regions moved: the city filed under a
// province (pgtest.AddProvince) and a township moved to another county,
// each after its events were written.
func TestRegistryFigures(t *testing.T) {
	e := newEditSite(t, web.Config{})
	ctx := context.Background()
	pgtest.AddProvince(t, e.pool)
	var town string
	if err := e.pool.QueryRow(ctx, `
SELECT t.code FROM regions t
WHERE t.level = 'township' AND t.parent_code = $1
  AND EXISTS (SELECT FROM registry_events x JOIN regions v ON v.code = x.region_code WHERE v.parent_code = t.code)
ORDER BY t.code LIMIT 1`, e.a.code).Scan(&town); err != nil {
		t.Fatalf("a township of %s with registry events: %v", e.a.code, err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE regions SET parent_code = $2 WHERE code = $1`, town, e.b.code); err != nil {
		t.Fatalf("move township %s to county %s: %v", town, e.b.code, err)
	}
	above := map[string]bool{"100000": true, "520000": true, "520300": true, pgtest.SecondCity.City: true}
	for _, code := range []string{"100000", "520000", "520300", pgtest.SecondCity.City, e.a.code, e.b.code, town, e.a.village} {
		g := e.registryOf(t, "/api/regions/"+code+"/registry")
		// A region above the counties is no poverty unit: it has no
		// standard to meet.
		if above[code] != (g.Standard == nil) || above[code] != (g.MeetsStandard == nil) {
			t.Errorf("%s: standard %+v, meets %v", code, g.Standard, g.MeetsStandard)
		}
		want := figuresOf(t, e.pool, code)
		f := g.Figures
		if f.Population != want.population || f.PoorPopulation != want.poor || int64(f.PovertyVillages) != want.poverty ||
			int64(f.ExitedVillages) != want.exited || abs(*f.Incidence-float64(want.poor)/float64(want.population)) > 5e-6 {
			t.Errorf("%s: figures %+v, want %+v", code, f, want)
		}
		n := count(t, e.pool, `
WITH RECURSIVE under (code) AS (
    SELECT code FROM regions WHERE code = $1
    UNION ALL SELECT r.code FROM regions r JOIN under u ON r.parent_code = u.code
)
SELECT count(*) FROM registry_events WHERE region_code IN (SELECT code FROM under)`, code)
		if int64(g.EventsTotal) != n || len(g.Events) != int(min(n, geo.MaxRegistryEvents)) {
			t.Errorf("%s: %d events (%d listed), want %d", code, g.EventsTotal, len(g.Events), n)
		}
		for i := 1; i < len(g.Events); i++ {
			if g.Events[i].At.After(g.Events[i-1].At) {
				t.Fatalf("%s: events not newest first at %d", code, i)
			}
		}
	}
	if a := e.do(t, http.MethodGet, "/api/regions/999999/registry", "", ""); a.status != 404 {
		t.Errorf("registry of an unknown region: %d, want 404", a.status)
	}
}
