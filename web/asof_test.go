package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// change commits sql (with args) as an admin would, and returns the
// database's clock right after the commit: a moment at which the change
// holds and no later one does yet.
func change(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) time.Time {
	t.Helper()
	ctx := context.Background()
	_, err := geo.Change(ctx, pool, geo.Actor{Name: "test", All: true}, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var now time.Time
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// at is a moment as a query parameter value.
func at(m time.Time) string { return url.QueryEscape(m.Format(time.RFC3339Nano)) }

// TestAsOfReads reads a village, its county's drill-down, its items page,
// search and a tile as of moments between edits, and finds each as it
// was written then.
func TestAsOfReads(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	const village, county = "520304116203", "520304" // 花茂村, 播州区
	var poor0, countyPoor0 int64
	poor0 = count(t, pool, `SELECT poor_population FROM villages WHERE code = $1`, village)
	countyPoor0 = count(t, pool, `SELECT poor_population FROM region_rollups WHERE code = $1`, county)
	m0 := change(t, pool, `SELECT 1`)
	span := fetchJSON(t, s, "/api/history", http.StatusOK, "application/json")
	if from, err := time.Parse(time.RFC3339, span["from"].(string)); err != nil || from.After(m0) || span["zone"] != "+08:00" {
		t.Errorf("history span %v (%v): want it to begin before %s", span, err, m0)
	}
	m1 := change(t, pool, `UPDATE villages SET poor_population = poor_population - 40, poor_households = least(poor_households, poor_population - 40) WHERE code = $1`, village)
	m2 := change(t, pool, `UPDATE regions SET name = '花茂新村村民委员会' WHERE code = $1`, village)

	for _, tt := range []struct {
		moment     time.Time
		poor       int64
		countyPoor int64
		name       string
	}{
		{m0, poor0, countyPoor0, "花茂村村民委员会"},
		{m1, poor0 - 40, countyPoor0 - 40, "花茂村村民委员会"},
		{m2, poor0 - 40, countyPoor0 - 40, "花茂新村村民委员会"},
	} {
		q := "at=" + at(tt.moment)
		item := fetchJSON(t, s, "/collections/villages/items/"+village+"?"+q, http.StatusOK, geoJSONType)
		props := item["properties"].(map[string]any)
		if got := number(t, props["poor_population"], "poor_population"); got != tt.poor || props["name"] != tt.name {
			t.Errorf("item as of %s: poor %d, name %v; want %d, %s", tt.moment, got, props["name"], tt.poor, tt.name)
		}
		page := fetchJSON(t, s, "/collections/villages/items?county="+county+"&limit=10000&"+q, http.StatusOK, geoJSONType)
		found := false
		for _, f := range page["features"].([]any) {
			f := f.(map[string]any)
			if f["id"] == village {
				found = true
				if got := number(t, f["properties"].(map[string]any)["poor_population"], "poor_population"); got != tt.poor {
					t.Errorf("items as of %s: poor %d, want %d", tt.moment, got, tt.poor)
				}
			}
		}
		if !found {
			t.Errorf("items as of %s: village %s missing", tt.moment, village)
		}
		next := ""
		for _, l := range page["links"].([]any) {
			if l := l.(map[string]any); l["rel"] == "self" {
				next = l["href"].(string)
			}
		}
		if !strings.Contains(next, "at=") {
			t.Errorf("items as of %s: self link %s lacks the moment", tt.moment, next)
		}
		region := fetchJSON(t, s, "/api/regions/"+county+"?"+q, http.StatusOK, "application/json")
		if got := number(t, region["figures"].(map[string]any)["poor_population"], "county poor"); got != tt.countyPoor {
			t.Errorf("drill-down as of %s: county poor %d, want %d", tt.moment, got, tt.countyPoor)
		}
		city := fetchJSON(t, s, "/api/regions/520300?"+q, http.StatusOK, "application/json")
		if got := number(t, city["figures"].(map[string]any)["poor_population"], "city poor"); got != 558300-(poor0-tt.poor) {
			t.Errorf("drill-down as of %s: city poor %d, want %d", tt.moment, got, 558300-(poor0-tt.poor))
		}
		search := fetchJSON(t, s, "/api/search?q="+url.QueryEscape("花茂新村")+"&"+q, http.StatusOK, "application/json")
		if n := len(search["matches"].([]any)); (n > 0) != (tt.name == "花茂新村村民委员会") {
			t.Errorf("search as of %s: %d matches for the new name", tt.moment, n)
		}
	}
}

// TestAsOfRefused: a moment before the history, in the future or
// malformed is a 400 that says why, on every read that takes one, and the
// analyses of today are not drawn as of the past.
func TestAsOfRefused(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	for _, path := range []string{
		"/collections/villages/items?at=%s", "/collections/villages/items/520304116203?at=%s",
		"/api/regions/520304?at=%s", "/api/search?q=x&at=%s", "/tiles/battlemap/at/%s/10/816/428.mvt",
		"/tiles/battlemap.json?at=%s",
	} {
		for _, tt := range []struct{ at, mention string }{
			{"1999-12-31", "before the map's history begins: it runs from"},
			{"2999-01-01", "in the future"},
			{"2999-01-01T00:00:00Z", "in the future"},
			{"yesterday", "a moment is a day"},
			{"2016-02-30", "a moment is a day"},
		} {
			p := fmt.Sprintf(path, tt.at)
			problem := fetchJSON(t, s, p, http.StatusBadRequest, "application/problem+json")
			if d, _ := problem["detail"].(string); !strings.Contains(d, tt.mention) {
				t.Errorf("GET %s: detail %q, want it to say %q", p, d, tt.mention)
			}
		}
	}
	problem := fetchJSON(t, s, "/tiles/suitability/at/"+time.Now().Format(time.DateOnly)+"/10/816/428.mvt", http.StatusBadRequest, "application/problem+json")
	if d, _ := problem["detail"].(string); !strings.Contains(d, "not drawn as of a past moment") {
		t.Errorf("suitability as of today: %q", d)
	}
}

// TestAsOfReplay is the property the history must have: after random
// edits, every past state read back as of the moment it held equals what
// was written then — a village's figures and status, its county's and its
// city's rolled-up figures.
func TestAsOfReplay(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT code, population FROM villages WHERE county_code = '520304' ORDER BY code LIMIT 6`)
	if err != nil {
		t.Fatal(err)
	}
	type village struct {
		Code       string
		Population int64
	}
	villages, err := pgx.CollectRows(rows, pgx.RowToStructByPos[village])
	if err != nil {
		t.Fatal(err)
	}
	// state is what each village holds; states[i] is it at moments[i].
	type figures struct {
		poor   int64
		status string
	}
	state := map[string]figures{}
	for _, v := range villages {
		var f figures
		if err := pool.QueryRow(ctx, `SELECT v.poor_population, r.poverty_status FROM villages v JOIN regions r USING (code) WHERE code = $1`,
			v.Code).Scan(&f.poor, &f.status); err != nil {
			t.Fatal(err)
		}
		state[v.Code] = f
	}
	countyPoor := count(t, pool, `SELECT poor_population FROM region_rollups WHERE code = '520304'`)
	cityPoor := int64(558300)
	copyState := func() map[string]figures {
		m := make(map[string]figures, len(state))
		for k, v := range state {
			m[k] = v
		}
		return m
	}
	moments, states, countyStates := []time.Time{change(t, pool, `SELECT 1`)}, []map[string]figures{copyState()}, []int64{countyPoor}
	rng := rand.New(rand.NewPCG(15, 2016))
	statuses := []string{"none", "not_exited", "exited"}
	for range 12 {
		v := villages[rng.IntN(len(villages))]
		old := state[v.Code]
		f := figures{poor: rng.Int64N(min(v.Population, 500) + 1), status: statuses[rng.IntN(len(statuses))]}
		if f.status == "exited" {
			// An exit meets the standard, which the database enforces:
			// poverty incidence below 3%.
			f.poor = min(f.poor, (3*v.Population-1)/100)
		}
		m := change(t, pool, `WITH v AS (UPDATE villages SET poor_population = $2, poor_households = least(poor_households, $2) WHERE code = $1)
			UPDATE regions SET poverty_status = $3, exit_year = CASE WHEN $3 = 'exited' THEN 2016 END WHERE code = $1`, v.Code, f.poor, f.status)
		state[v.Code] = f
		countyPoor += f.poor - old.poor
		cityPoor += f.poor - old.poor
		moments, states, countyStates = append(moments, m), append(states, copyState()), append(countyStates, countyPoor)
	}
	for i, m := range moments {
		q := "at=" + at(m)
		page := fetchJSON(t, s, "/collections/villages/items?county=520304&limit=10000&"+q, http.StatusOK, geoJSONType)
		got := map[string]figures{}
		for _, f := range page["features"].([]any) {
			f := f.(map[string]any)
			props := f["properties"].(map[string]any)
			got[f["id"].(string)] = figures{number(t, props["poor_population"], "poor"), props["status"].(string)}
		}
		for code, want := range states[i] {
			if got[code] != want {
				t.Errorf("step %d (%s): village %s reads %+v, was written %+v", i, m, code, got[code], want)
			}
		}
		region := fetchJSON(t, s, "/api/regions/520304?"+q, http.StatusOK, "application/json")
		if n := number(t, region["figures"].(map[string]any)["poor_population"], "county poor"); n != countyStates[i] {
			t.Errorf("step %d: county poor %d, want %d", i, n, countyStates[i])
		}
	}
	city := fetchJSON(t, s, "/api/regions/520300?at="+at(moments[len(moments)-1]), http.StatusOK, "application/json")
	if n := number(t, city["figures"].(map[string]any)["poor_population"], "city poor"); n != cityPoor {
		t.Errorf("city poor at the end: %d, want %d", n, cityPoor)
	}
}
