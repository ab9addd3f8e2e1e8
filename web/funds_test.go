package web_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestFunds checks every figure of /api/regions/{code}/funds against SQL
// over the projects, for the city, a county and a township of the demo
// data, and as of a past day; and its refusals.
func TestFunds(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	ctx := context.Background()
	var county, township string
	if err := pool.QueryRow(ctx, `SELECT v.county_code, v.township_code FROM villages v JOIN projects p ON p.village_code = v.code
		ORDER BY p.funds_planned DESC, p.code LIMIT 1`).Scan(&county, &township); err != nil {
		t.Fatal(err)
	}
	// member is the SQL of the projects counted in region $1: those of its
	// villages, and those filed under it or under a region below it.
	const member = `(SELECT p.* FROM projects p
		WHERE EXISTS (SELECT FROM regions g WHERE g.code = coalesce(p.village_code, p.county_code) AND $1 = ANY (region_lineage(g.code))))`
	for _, tt := range []struct{ code, at string }{{"520300", ""}, {county, ""}, {township, ""}, {"520300", "2016-03-31"}} {
		path := "/api/regions/" + tt.code + "/funds"
		if tt.at != "" {
			path += "?at=" + tt.at
		}
		f := getOK[geo.Funds](t, s, path)
		db := geo.DB(pool)
		if tt.at != "" {
			// The truth as of the day: the history of the projects.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			m, err := geo.ParseMoment(tt.at, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('search_path', 'as_of, public', true), set_config('battlemap.at', $1, true)`,
				m.Format(time.RFC3339Nano)); err != nil {
				t.Fatal(err)
			}
			db = tx
		}
		var projects, key int
		var planned, disbursed int64
		if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(funds_planned), 0), coalesce(sum(funds_disbursed), 0),
			count(*) FILTER (WHERE funds_planned >= 2000000) FROM `+member+` p`, tt.code).Scan(&projects, &planned, &disbursed, &key); err != nil {
			t.Fatal(err)
		}
		if f.Code != tt.code || f.Projects != projects || f.Planned != planned || f.Disbursed != disbursed || len(f.KeyProjects) != key ||
			projects == 0 || f.DisbursementRate == nil || math.Abs(*f.DisbursementRate-float64(disbursed)/float64(planned)) > 1e-4 {
			t.Errorf("%s: %d projects, %d planned, %d disbursed, %d key; want %d, %d, %d, %d", path, f.Projects, f.Planned, f.Disbursed,
				len(f.KeyProjects), projects, planned, disbursed, key)
		}
		if len(f.Uses) != len(geo.ProjectFundUses.Values) {
			t.Fatalf("%s: %d uses", path, len(f.Uses))
		}
		var rules float64
		for i, u := range f.Uses {
			var n int
			var p, d int64
			if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(funds_planned), 0), coalesce(sum(funds_disbursed), 0)
				FROM `+member+` p WHERE fund_use = $2`, tt.code, u.Use).Scan(&n, &p, &d); err != nil {
				t.Fatal(err)
			}
			v := geo.ProjectFundUses.Values[i]
			if u.Use != v.Value || u.Label != v.Label || u.RuleShare != v.Share || u.Projects != n || u.Planned != p || u.Disbursed != d {
				t.Errorf("%s %s: %+v; want %d projects, %d planned, %d disbursed, rule %g", path, v.Value, u, n, p, d, v.Share)
			}
			if p > 0 && (u.Share == nil || u.Deviation == nil ||
				math.Abs(*u.Share-float64(p)/float64(planned)) > 1e-4 || math.Abs(*u.Deviation-(*u.Share-v.Share)) > 1e-4) {
				t.Errorf("%s %s: share %v, deviation %v; want %.4f of the planned funds", path, v.Value, u.Share, u.Deviation, float64(p)/float64(planned))
			}
			rules += u.RuleShare
		}
		if math.Abs(rules-1) > 1e-9 {
			t.Errorf("the 33112 shares add up to %g", rules)
		}
		for i := 1; i < len(f.KeyProjects); i++ {
			var a, b struct {
				FundsPlanned int64 `json:"funds_planned"`
			}
			if json.Unmarshal(f.KeyProjects[i-1], &a) != nil || json.Unmarshal(f.KeyProjects[i], &b) != nil ||
				a.FundsPlanned < b.FundsPlanned || b.FundsPlanned < geo.KeyProjectFunds {
				t.Errorf("%s: key projects out of order or below the threshold at %d", path, i)
			}
		}
	}
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/regions/999999/funds", http.StatusNotFound},
		{"/api/regions/52/funds", http.StatusBadRequest},
		{"/api/regions/520300/funds?year=2016", http.StatusBadRequest},
		{"/api/regions/520300/funds?at=2999-01-01", http.StatusBadRequest},
	} {
		if resp, body := do(t, s, tt.path, nil); resp.StatusCode != tt.status {
			t.Errorf("GET %s: %d %s, want %d", tt.path, resp.StatusCode, body, tt.status)
		}
	}
}
