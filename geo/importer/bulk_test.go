package importer_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// sqlBulkChecksum sums up everything a bulk load writes: the map rows,
// the rollups and shapes, every history, the audit log, the flags and the
// registry's events, the versions.
const sqlBulkChecksum = `
SELECT md5(string_agg(h, '' ORDER BY h)) || ' v' || (SELECT version FROM data_version)
       || ' audit ' || (SELECT count(*) || '/' || coalesce(max(id), 0) FROM audit_log)
       || ' counties ' || (SELECT md5(string_agg(code || version, ',' ORDER BY code)) FROM county_versions)
FROM (SELECT md5(r::text) AS h FROM regions r UNION ALL SELECT md5(v::text) FROM villages v
      UNION ALL SELECT md5(o::text) FROM region_rollups o UNION ALL SELECT md5(s::text) FROM region_shapes s
      UNION ALL SELECT md5(s::text) FROM region_tile_shapes s UNION ALL SELECT md5(p::text) FROM region_tile_pieces p
      UNION ALL SELECT md5(h::text) FROM regions_history h UNION ALL SELECT md5(h::text) FROM villages_history h
      UNION ALL SELECT md5(h::text) FROM region_rollups_history h
      UNION ALL SELECT md5(f::text) FROM flags f UNION ALL SELECT md5(e::text) FROM registry_events e) t`

func bulkChecksum(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var sum string
	if err := pool.QueryRow(context.Background(), sqlBulkChecksum).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// sqlNewVillages are n codes of villages the demo does not have, under
// the demo's townships (the last three digits from 500 up), each at its
// township's seat, in code order.
const sqlNewVillages = `
SELECT t.code || lpad(s::text, 3, '0'), t.code, ST_X(t.point), ST_Y(t.point)
FROM regions t, generate_series(500, 999) s
WHERE t.level = 'township' AND NOT EXISTS (SELECT FROM regions r WHERE r.code = t.code || lpad(s::text, 3, '0'))
ORDER BY s, t.code
LIMIT $1`

// villagesCSV writes a villages CSV of n new villages to a pipe, row by
// row as it is read, so that the test holds no file; spoil, if not nil,
// may change row i (from 0), first being row 0.
func villagesCSV(t *testing.T, pool *pgxpool.Pool, n int, spoil func(i int, row, first []string)) io.Reader {
	t.Helper()
	rows, err := pool.Query(context.Background(), sqlNewVillages, n)
	if err != nil {
		t.Fatal(err)
	}
	type village struct {
		code, township string
		lon, lat       float64
	}
	var vs []village
	for rows.Next() {
		var v village
		if err := rows.Scan(&v.code, &v.township, &v.lon, &v.lat); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if rows.Err() != nil || len(vs) != n {
		t.Fatalf("new villages: %d of %d (%v)", len(vs), n, rows.Err())
	}
	pr, pw := io.Pipe()
	go func() {
		w := csv.NewWriter(pw)
		w.Write([]string{"code", "name", "township_code", "poverty_status", "population", "poor_households", "poor_population", "lon", "lat"})
		var first []string
		for i, v := range vs {
			row := []string{v.code, "新村" + v.code[9:], v.township, "none", strconv.Itoa(500 + i%1000), "1", "3",
				strconv.FormatFloat(v.lon, 'f', 6, 64), strconv.FormatFloat(v.lat, 'f', 6, 64)}
			if i == 0 {
				first = slices.Clone(row)
			}
			if spoil != nil {
				spoil(i, row, first)
			}
			w.Write(row)
		}
		w.Flush()
		pw.CloseWithError(w.Error())
	}()
	return pr
}

// TestBulkPastTheCap streams a villages file above the HTTP import's
// limit of features and checks that every village is written, counted in
// the rollups, in the history and the audit log, its county's version
// moved, and that the live heap
// stays small while it is read: the file is never held whole.
func TestBulkPastTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("a large load")
	}
	const n = importer.DefaultMaxFeatures + 10_000
	ctx := context.Background()
	pool := pgtest.New(t)
	before := queryInt(t, pool, `SELECT sum(villages)::bigint FROM region_rollups WHERE level = 'county'`)
	audit := queryInt(t, pool, `SELECT count(*) FROM audit_log`)
	county := queryInt(t, pool, `SELECT version FROM county_versions WHERE code = '520302'`)
	var peak uint64
	var phases []string
	cfg := importer.Config{Progress: func(p importer.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == importer.PhaseReading {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
	}}
	im := newImporter(pool, cfg, io.Discard).im
	rep, err := im.Bulk(ctx, pool, geo.Actor{Name: "test bulk", All: true}, "villages", importer.CSV, villagesCSV(t, pool, n, nil), 0)
	if err != nil {
		t.Fatalf("Bulk: %v (report %+v)", err, rep)
	}
	if rep.Received != n || rep.Inserted != n || rep.Updated != 0 || len(rep.Rejected) != 0 {
		t.Errorf("report %+v, want %d received and inserted", rep, n)
	}
	if got := queryInt(t, pool, `SELECT sum(villages)::bigint FROM region_rollups WHERE level = 'county'`); got != before+n {
		t.Errorf("villages in the counties' rollups: got %d, want %d", got, before+n)
	}
	if got := queryInt(t, pool, `SELECT count(*) FROM villages_history`); got < n {
		t.Errorf("villages' history: %d rows, want at least %d", got, n)
	}
	// Two rows per village (its regions and villages rows), and the
	// import's own.
	if got := queryInt(t, pool, `SELECT count(*) FROM audit_log`) - audit; got != 2*n+1 {
		t.Errorf("audit rows: got %d, want %d", got, 2*n+1)
	}
	// The versions move once, at the end, for every county drawn in.
	if got := queryInt(t, pool, `SELECT version FROM county_versions WHERE code = '520302'`); got <= county {
		t.Errorf("version of county 520302: %d, want it above %d", got, county)
	}
	if got := queryInt(t, pool, `SELECT version FROM data_version`); got != rep.DataVersion {
		t.Errorf("data version %d, reported %d", got, rep.DataVersion)
	}
	want := []string{importer.PhaseReading, importer.PhaseChecking, importer.PhaseWriting, importer.PhaseRefreshing, importer.PhaseCommitting}
	if strings.Join(phases, " ") != strings.Join(want, " ") {
		t.Errorf("phases %v, want %v", phases, want)
	}
	// Held whole, the file's records alone were over 60 MB.
	const bound = 40 << 20
	t.Logf("live heap at most %.1f MB while reading %d features", float64(peak)/(1<<20), n)
	if peak > bound {
		t.Errorf("live heap reached %d bytes while reading, want under %d", peak, bound)
	}
}

// TestBulkFailsLate makes a bulk load fail late, at each phase that
// writes (after the first batch is staged, after the upserts, during the
// refresh of the rollups), and checks that the database is as it was:
// rows, rollups, histories, audit log, flags, versions.
func TestBulkFailsLate(t *testing.T) {
	fault := errors.New("injected fault")
	for _, at := range []struct {
		phase string
		n     int
	}{
		{importer.PhaseReading, 1},
		{importer.PhaseWriting, 2},
		{importer.PhaseRefreshing, 1},
	} {
		t.Run(fmt.Sprintf("%s %d", at.phase, at.n), func(t *testing.T) {
			ctx := context.Background()
			pool := pgtest.New(t)
			sum := bulkChecksum(t, pool)
			im := newImporter(pool, importer.Config{}, io.Discard).im
			failed := false
			importer.FailAfter(im, func(phase string, n int) error {
				if phase == at.phase && n == at.n {
					failed = true
					return fault
				}
				return nil
			})
			_, err := im.Bulk(ctx, pool, geo.Actor{Name: "test bulk", All: true}, "villages", importer.CSV, villagesCSV(t, pool, 6000, nil), 0)
			if !errors.Is(err, fault) || !failed {
				t.Fatalf("Bulk: %v, want the injected fault", err)
			}
			if got := bulkChecksum(t, pool); got != sum {
				t.Errorf("the database changed: checksum %s, was %s", got, sum)
			}
		})
	}
}

// TestBulkRejects checks that a bulk load with rejected features writes
// nothing and lists the first 1,000 problems in file order, counting
// the others, with the codes given twice found over the whole file.
func TestBulkRejects(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	sum := bulkChecksum(t, pool)
	im := newImporter(pool, importer.Config{}, io.Discard).im
	// Rows 7000 and up are spoilt: 1,200 problems.
	rep, err := im.Bulk(ctx, pool, geo.Actor{Name: "test bulk", All: true}, "villages", importer.CSV,
		villagesCSV(t, pool, 8200, func(i int, row, _ []string) {
			if i >= 7000 {
				row[4] = "many"
			}
		}), 0)
	if geo.ErrorCode(err) != geo.EInvalid || rep == nil {
		t.Fatalf("Bulk: %v, want EInvalid with a report", err)
	}
	if len(rep.Rejected) != 1000 || rep.RejectedCount != 1200 || rep.Received != 8200 {
		t.Errorf("report: %d listed, %d counted, %d received; want 1000, 1200, 8200", len(rep.Rejected), rep.RejectedCount, rep.Received)
	}
	if r := rep.Rejected[0]; r.Line != 7002 || r.Field != "population" {
		t.Errorf("first rejection %+v, want line 7002 (the 7001st row), population", r)
	}
	if !strings.Contains(err.Error(), "1200 of 8200 features rejected") {
		t.Errorf("error %q, want the counts", err)
	}
	if got := bulkChecksum(t, pool); got != sum {
		t.Errorf("the database changed: checksum %s, was %s", got, sum)
	}

	// A code given twice, 6,000 rows apart, in batches of their own.
	rep, err = im.Bulk(ctx, pool, geo.Actor{Name: "test bulk", All: true}, "villages", importer.CSV,
		villagesCSV(t, pool, 6001, func(i int, row, first []string) {
			if i == 6000 {
				row[0] = first[0]
			}
		}), 0)
	if geo.ErrorCode(err) != geo.EInvalid || rep == nil || len(rep.Rejected) != 1 {
		t.Fatalf("Bulk: %v (report %+v), want EInvalid with one rejection", err, rep)
	}
	if r := rep.Rejected[0]; r.Line != 6002 || r.Field != "code" || r.Reason != "duplicate code: line 2 has it too" {
		t.Errorf("rejection %+v, want line 6002's code, given on line 2 too", r)
	}
	if got := bulkChecksum(t, pool); got != sum {
		t.Errorf("the database changed: checksum %s, was %s", got, sum)
	}

	// A village placed where the first one lies, in another county, in
	// the second batch: only the database sees it, in the checks that
	// run beside the load.
	rep, err = im.Bulk(ctx, pool, geo.Actor{Name: "test bulk", All: true}, "villages", importer.CSV,
		villagesCSV(t, pool, 6001, func(i int, row, first []string) {
			if i == 6000 {
				row[7], row[8] = first[7], first[8]
			}
		}), 0)
	if geo.ErrorCode(err) != geo.EInvalid || rep == nil || len(rep.Rejected) != 1 {
		t.Fatalf("Bulk: %v (report %+v), want EInvalid with one rejection", err, rep)
	}
	if r := rep.Rejected[0]; r.Line != 6002 || r.Field != "geometry" || !strings.Contains(r.Reason, "lies outside county") {
		t.Errorf("rejection %v (%s: %s), want line 6002's geometry, outside its county", r, r.Field, r.Reason)
	}
	if got := bulkChecksum(t, pool); got != sum {
		t.Errorf("the database changed: checksum %s, was %s", got, sum)
	}
}
