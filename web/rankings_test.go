package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
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

// sqlRankingTruth is each figure of a ranking row, written apart from
// geo's SQL: over the villages of county, township, unit or village $1
// (by $2) and the projects serving them (for a county also those filed
// under it without a village), the exits of year $3, the poor people
// of the villages' registry rows as they stood at $4 and $5, and the
// falls of those between the versions that began from $4 to $5
// (villages_history, not the rollups).
const sqlRankingTruth = `
WITH vs AS (
    SELECT v.code FROM villages v
    WHERE CASE $2 WHEN 'county' THEN v.county_code = $1 WHEN 'township' THEN v.township_code = $1
        WHEN 'village' THEN v.code = $1 ELSE v.pairing_unit = $1 END
), ps AS (
    SELECT p.* FROM projects p
    WHERE p.village_code IN (SELECT code FROM vs) OR ($2 = 'county' AND p.village_code IS NULL AND p.county_code = $1)
)
SELECT (SELECT count(*) FROM regions g WHERE g.code IN (SELECT code FROM vs) AND g.poverty_status = 'exited' AND g.exit_year = $3),
       (SELECT count(*) FROM regions g WHERE g.code IN (SELECT code FROM vs)
          AND (g.poverty_status = 'not_exited' OR (g.poverty_status = 'exited' AND g.exit_year = $3))),
       (SELECT coalesce(sum(h.poor_population), 0) FROM public.villages_history h WHERE h.code IN (SELECT code FROM vs) AND h.valid @> $4::timestamptz),
       (SELECT coalesce(sum(h.poor_population), 0) FROM public.villages_history h WHERE h.code IN (SELECT code FROM vs) AND h.valid @> $5::timestamptz),
       (SELECT coalesce(sum(greatest(x.before - x.poor_population, 0)), 0) FROM (
            SELECT h.poor_population, lower(h.valid) AS at,
                   lag(h.poor_population) OVER (PARTITION BY h.code ORDER BY lower(h.valid)) AS before
            FROM public.villages_history h WHERE h.code IN (SELECT code FROM vs)) x
        WHERE x.at >= $4::timestamptz AND x.at <= $5::timestamptz),
       (SELECT count(*) FROM ps), (SELECT coalesce(sum(completion), 0) FROM ps),
       (SELECT coalesce(sum(funds_planned), 0) FROM ps), (SELECT coalesce(sum(funds_disbursed), 0) FROM ps)`

// asOf is a transaction on pool that reads as of at, as the past pool's
// sessions do; it is rolled back when the test ends.
func asOf(t *testing.T, pool *pgxpool.Pool, at time.Time) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', 'as_of, public', true), set_config('battlemap.at', $1, true)`,
		at.Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	return tx
}

// checkRankingRow checks every figure of r, a row of a ranking by by as
// of at counting from start, against sqlRankingTruth on db.
func checkRankingRow(t *testing.T, db geo.DB, by string, r geo.RankingRow, at, start time.Time) {
	t.Helper()
	var exited, toExit, poorStart, poorNow, out, projects, completion, planned, disbursed int64
	if err := db.QueryRow(context.Background(), sqlRankingTruth, r.Code, by, start.Year(), start, at).Scan(
		&exited, &toExit, &poorStart, &poorNow, &out, &projects, &completion, &planned, &disbursed); err != nil {
		t.Fatal(err)
	}
	ratio := func(got *float64, part, whole int64, places float64) bool {
		if whole == 0 {
			return got == nil
		}
		p := math.Pow(10, places)
		return got != nil && math.Abs(*got-math.Round(float64(part)/float64(whole)*p)/p) < 1e-9
	}
	if r.VillagesExited != exited || r.VillagesToExit != toExit || !ratio(r.ExitRate, exited, toExit, 4) ||
		r.PoorAtStart != poorStart || r.PoorNow != poorNow || r.PeopleOut != out ||
		r.Projects != projects || !ratio(r.CompletionAvg, completion, projects, 1) ||
		r.Planned != planned || r.Disbursed != disbursed || !ratio(r.DisbursementRate, disbursed, planned, 4) {
		t.Errorf("%s %s as of %s: %+v; want exits %d of %d, poor %d → %d, %d projects (completion %d), %d planned, %d disbursed",
			by, r.Code, at.Format(time.RFC3339), r, exited, toExit, poorStart, poorNow, projects, completion, planned, disbursed)
	}
}

// measureOf is r's figure for measure, nil for none.
func measureOf(r geo.RankingRow, measure string) *float64 {
	switch measure {
	case geo.MeasureExits:
		return r.ExitRate
	case geo.MeasurePeopleOut:
		f := float64(r.PeopleOut)
		return &f
	case geo.MeasureCompletion:
		return r.CompletionAvg
	}
	return r.DisbursementRate
}

// checkRanks checks the ranks of rows by every measure: one more than the
// rows with a greater figure, none without a figure.
func checkRanks(t *testing.T, what string, rows []geo.RankingRow) {
	t.Helper()
	for _, m := range geo.RankingMeasures.Strings() {
		for _, r := range rows {
			f := measureOf(r, m)
			got, ok := r.Ranks[m]
			if f == nil {
				if ok {
					t.Errorf("%s %s by %s: rank %d without a figure", what, r.Code, m, got)
				}
				continue
			}
			want := 1
			for _, o := range rows {
				if g := measureOf(o, m); g != nil && *g > *f {
					want++
				}
			}
			if got != want {
				t.Errorf("%s %s by %s (%g): rank %d, want %d", what, r.Code, m, *f, got, want)
			}
		}
	}
}

// TestRankings checks every figure and rank of /api/regions/{code}/rankings
// against SQL over the rows, as of a day and of the end of the month
// before it, by county, township and unit, and now; its CSV; and its
// refusals.
func TestRankings(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	ctx := context.Background()
	var county string
	if err := pool.QueryRow(ctx, `SELECT code FROM regions WHERE level = 'county' ORDER BY code LIMIT 1`).Scan(&county); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ code, by, measure, at string }{
		{"520300", "county", "people_out", "2016-06-30"},
		{county, "township", "completion", "2016-05-15"},
		{"520300", "unit", "disbursement", "2016-06-30"},
		{"520300", "", "", ""},
	} {
		q := url.Values{}
		for k, v := range map[string]string{"by": tt.by, "measure": tt.measure, "at": tt.at} {
			if v != "" {
				q.Set(k, v)
			}
		}
		path := "/api/regions/" + tt.code + "/rankings?" + q.Encode()
		t.Run(path, func(t *testing.T) {
			rs := getOK[geo.Rankings](t, s, path)
			by, measure := tt.by, tt.measure
			if by == "" {
				by = "county"
			}
			if measure == "" {
				measure = geo.MeasureExits
			}
			if rs.By != by || rs.Measure != measure || len(rs.Rows) == 0 || rs.PreviousAt == nil && tt.at != "" {
				t.Fatalf("%s: by %s, measure %s, %d rows, previous %v", path, rs.By, rs.Measure, len(rs.Rows), rs.PreviousAt)
			}
			// Every group: the counties or townships under the region, the
			// units its villages name.
			var groups int
			db := geo.DB(pool)
			if tt.at != "" {
				db = asOf(t, pool, rs.At)
			}
			if err := db.QueryRow(ctx, `SELECT CASE $2 WHEN 'unit' THEN (SELECT count(DISTINCT pairing_unit) FROM villages WHERE county_code LIKE left($1, 4) || '%')
				ELSE (SELECT count(*) FROM regions WHERE level = $2 AND $1 = ANY (region_lineage(code))) END`, tt.code, by).Scan(&groups); err != nil {
				t.Fatal(err)
			}
			if len(rs.Rows) != groups {
				t.Errorf("%s: %d rows, want %d", path, len(rs.Rows), groups)
			}
			now := make([]geo.RankingRow, len(rs.Rows))
			var prev []geo.RankingRow
			for i, r := range rs.Rows {
				checkRankingRow(t, db, by, r.RankingRow, rs.At, rs.YearStart)
				now[i] = r.RankingRow
				if n, ok := r.Ranks[measure]; (r.Rank == nil) == ok || ok && *r.Rank != n {
					t.Errorf("%s %s: rank %v, ranks %v", path, r.Code, r.Rank, r.Ranks)
				}
				if i > 0 && r.Rank != nil && (rs.Rows[i-1].Rank == nil || *rs.Rows[i-1].Rank > *r.Rank) {
					t.Errorf("%s: row %d out of rank order", path, i)
				}
				if r.Previous != nil {
					prev = append(prev, *r.Previous)
					if n, ok := r.Previous.Ranks[measure]; (r.PreviousRank == nil) == ok || ok && *r.PreviousRank != n {
						t.Errorf("%s %s: previous rank %v, previous ranks %v", path, r.Code, r.PreviousRank, r.Previous.Ranks)
					}
				}
				if (r.Change == nil) != (r.Rank == nil || r.PreviousRank == nil) || r.Change != nil && *r.Change != *r.PreviousRank-*r.Rank {
					t.Errorf("%s %s: change %v from %v to %v", path, r.Code, r.Change, r.PreviousRank, r.Rank)
				}
			}
			checkRanks(t, path, now)
			if rs.PreviousAt != nil {
				if want := geo.PreviousMonthEnd(rs.At); !rs.PreviousAt.Equal(want) {
					t.Errorf("%s: previous at %s, want %s", path, rs.PreviousAt, want)
				}
				if len(prev) != len(rs.Rows) {
					t.Errorf("%s: %d rows have a previous reading of %d", path, len(prev), len(rs.Rows))
				}
				pdb := asOf(t, pool, *rs.PreviousAt)
				start := time.Date(*rs.PreviousYear, 1, 1, 0, 0, 0, 0, geo.DataZone)
				for _, r := range prev {
					checkRankingRow(t, pdb, by, r, *rs.PreviousAt, start)
				}
				checkRanks(t, path+" (previous)", prev)
			}
		})
	}

	t.Run("csv", func(t *testing.T) {
		// A unit named like a formula stays text in the spreadsheet.
		if _, err := pool.Exec(ctx, `UPDATE villages SET pairing_unit = '=HYPERLINK("x")' WHERE pairing_unit = (SELECT min(pairing_unit) FROM villages)`); err != nil {
			t.Fatal(err)
		}
		path := "/api/regions/520300/rankings?by=unit&measure=people_out&f=csv"
		rs := getOK[geo.Rankings](t, s, strings.TrimSuffix(path, "&f=csv"))
		resp, body := do(t, s, path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="rankings-520300-unit-people_out-`+rs.At.Format(time.DateOnly)+`.csv"` {
			t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
		if !bytes.HasPrefix(body, []byte("\ufeff排名,")) || bytes.Count(body, []byte("\r\n")) != bytes.Count(body, []byte("\n")) {
			t.Errorf("%s: no byte order mark, or a line end other than CRLF: %q", path, body[:min(len(body), 80)])
		}
		records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != len(rs.Rows)+1 {
			t.Fatalf("%s: %d records for %d rows", path, len(records), len(rs.Rows))
		}
		guarded := 0
		for i, r := range rs.Rows {
			rec := records[i+1]
			name := r.Name
			if strings.HasPrefix(name, "=") {
				name = "'" + name
				guarded++
			}
			if rec[4] != name || rec[5] != geo.PairingLevels.Label(r.Level) || rec[11] != jsonNumber(r.PeopleOut) || (r.Rank != nil) != (rec[0] != "") {
				t.Errorf("%s record %d: %q; want %s, %d people out", path, i+1, rec, name, r.PeopleOut)
			}
		}
		if guarded != 1 {
			t.Errorf("%s: %d names guarded against formulas, want 1", path, guarded)
		}
	})

	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/regions/999999/rankings", http.StatusNotFound},
		{"/api/regions/52/rankings", http.StatusBadRequest},
		{"/api/regions/" + county + "/rankings?by=county", http.StatusBadRequest},
		{"/api/regions/520300/rankings?measure=height", http.StatusBadRequest},
		{"/api/regions/520300/rankings?by=village", http.StatusBadRequest},
		{"/api/regions/520300/rankings?at=2999-01-01", http.StatusBadRequest},
		{"/api/regions/520300/rankings?at=2015-06-30", http.StatusBadRequest},
		{"/api/regions/520300/rankings?f=xml", http.StatusBadRequest},
		{"/api/regions/520300/rankings?year=2016", http.StatusBadRequest},
	} {
		resp, body := do(t, s, tt.path, nil)
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s %s, want %d", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status)
		}
	}
}

// jsonNumber writes n as a CSV cell holds it.
func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestRankingsFromTheCountry ranks the counties, townships and units of
// a country of two cities under one province (pgtest.AddProvince), whose
// members are found by a walk down to the counties that crosses the
// province and the cities: every region or unit under it is there, each
// with every figure as SQL over the rows gives it.
func TestRankingsFromTheCountry(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	s := newServer(t, pool, 0)
	for _, by := range []string{"county", "township", "unit"} {
		path := "/api/regions/100000/rankings?by=" + by
		rs := getOK[geo.Rankings](t, s, path)
		want := count(t, pool, `SELECT count(*) FROM regions WHERE level = $1`, by)
		if by == "unit" {
			want = count(t, pool, `SELECT count(DISTINCT pairing_unit) FROM villages`)
		}
		if int64(len(rs.Rows)) != want {
			t.Errorf("%s: %d rows, want %d", path, len(rs.Rows), want)
		}
		rows := make([]geo.RankingRow, len(rs.Rows))
		for i, r := range rs.Rows {
			checkRankingRow(t, pool, by, r.RankingRow, rs.At, rs.YearStart)
			rows[i] = r.RankingRow
		}
		checkRanks(t, path, rows)
	}
}

// TestPairedUnit checks /api/units/{name}: the unit's figures are its row
// of the ranking by unit, and each village's figures SQL over its rows.
func TestPairedUnit(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 64<<20)
	ctx := context.Background()
	var name string
	var villages int
	if err := pool.QueryRow(ctx, `SELECT pairing_unit, count(*) FROM villages WHERE pairing_unit IS NOT NULL
		GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`).Scan(&name, &villages); err != nil {
		t.Fatal(err)
	}
	path := "/api/units/" + url.PathEscape(name) + "?at=2016-06-30"
	u := getOK[geo.Unit](t, s, path)
	db := asOf(t, pool, u.At)
	checkRankingRow(t, db, "unit", u.RankingRow, u.At, u.YearStart)
	if u.Name != name || len(u.Villages) != villages {
		t.Fatalf("%s: %s with %d villages, want %s with %d", path, u.Name, len(u.Villages), name, villages)
	}
	var out int64
	for _, v := range u.Villages {
		if v.Level != "village" {
			t.Errorf("%s: village %s of level %s", path, v.Code, v.Level)
		}
		checkRankingRow(t, db, "village", v, u.At, u.YearStart)
		out += v.PeopleOut
	}
	if out != u.PeopleOut {
		t.Errorf("%s: the villages lifted %d out, the unit %d", path, out, u.PeopleOut)
	}
	checkRanks(t, path, u.Villages)
	for _, p := range []string{"/api/units/" + url.PathEscape("没有这个单位"), "/api/units/x?at=2999-01-01", "/api/units/x?by=unit"} {
		resp, body := do(t, s, p, nil)
		if resp.StatusCode/100 != 4 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
}
