package geo_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// readPage reads a page of s as e writes it, and returns it with the ids
// of its features.
func readPage(t *testing.T, db geo.DB, s geo.Selection, e geo.Encoding) (*geo.Features, []string) {
	t.Helper()
	f, err := geo.Items(context.Background(), db, s, e)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	for f.Next() {
		switch e {
		case geo.GeoJSON:
			var feature struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			}
			if err := json.Unmarshal(f.Feature(), &feature); err != nil || feature.Type != "Feature" {
				t.Fatalf("feature %.200s: type %q, %v", f.Feature(), feature.Type, err)
			}
			ids = append(ids, feature.ID)
		case geo.CSV:
			record, err := csv.NewReader(strings.NewReader(string(f.Feature()))).Read()
			if err != nil {
				t.Fatalf("record %.200s: %v", f.Feature(), err)
			}
			ids = append(ids, record[0])
		}
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	return f, ids
}

// TestDensePagesPlannedEachTime checks that the statement of a page over
// more features than Items counts is never kept prepared on a connection:
// PostgreSQL would then plan it once for any box (a country's page took
// seconds), where its plan for the values asked is made each time. The
// first statement, which stops at the count's end, is kept.
func TestDensePagesPlannedEachTime(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	conn := pgtest.Acquire(t, pool)
	s := geo.Villages.Select(5)
	s.CountUpTo = 1
	for range 8 {
		f, err := geo.Items(ctx, conn, s, geo.GeoJSON)
		if err != nil {
			t.Fatal(err)
		}
		for f.Next() {
		}
		f.Close()
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
		if f.Matched != -1 || f.NextCursor == "" {
			t.Fatalf("a page of 5 counting up to 1: matched %d, next %q; want the dense page", f.Matched, f.NextCursor)
		}
	}
	var first, dense int
	// The patterns are parameters, so that this statement, prepared too,
	// does not match them.
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE $1), count(*) FILTER (WHERE statement LIKE $2)
		FROM pg_prepared_statements`, "%lead(id,%", "%nth_value(id,%").Scan(&first, &dense); err != nil {
		t.Fatal(err)
	}
	if first != 1 || dense != 0 {
		t.Errorf("prepared on the connection: %d first statements (want 1), %d dense ones (want 0)", first, dense)
	}
}

// TestDensePagesFiltered checks that a dense page, whose statement is
// planned for its values (its parameters typed from their Go values),
// holds the features a counted page holds, with each kind of filter: a
// code, an enumeration, a boolean, a percentage and days.
func TestDensePagesFiltered(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var county string
	if err := pool.QueryRow(ctx, `SELECT min(county_code) FROM projects`).Scan(&county); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		c        *geo.Collection
		values   map[string]string
		from, to string
	}{
		{"villages of a county, not exited", geo.Villages, map[string]string{"county": county, "status": "not_exited"}, "", ""},
		{"demonstration villages", geo.Villages, map[string]string{"demonstration": "true"}, "", ""},
		{"projects at least half done", geo.Projects, map[string]string{"completion_gte": "50"}, "", ""},
		{"projects of 2016", geo.Projects, map[string]string{"county": county}, "2016-01-01", "2016-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.c.Select(5)
			set := 0
			for i, f := range tt.c.Filters {
				if raw, ok := tt.values[f.Param]; ok {
					v, err := f.Parse(raw)
					if err != nil {
						t.Fatal(err)
					}
					s.Values[i], set = v, set+1
				}
			}
			if set != len(tt.values) {
				t.Fatalf("%d of the filters %v are %s's", set, tt.values, tt.c.ID)
			}
			s.From, s.To = tt.from, tt.to
			_, counted := readPage(t, pool, s, geo.GeoJSON)
			s.CountUpTo = 1
			f, dense := readPage(t, pool, s, geo.GeoJSON)
			if len(counted) < 2 || f.Matched != -1 || !slices.Equal(dense, counted) {
				t.Errorf("dense page %v (matched %d), counted page %v", dense, f.Matched, counted)
			}
		})
	}
}

// TestItemsPages checks what the one statement of a page says around its
// features (how many matched, how many it holds, where the next page
// starts) against the sites' codes read apart, for pages at the start,
// in the middle, at the end and past it, each as GeoJSON and as CSV; and
// with the count stopped below the sites there are, the same pages
// without numberMatched (Matched -1).
func TestItemsPages(t *testing.T) {
	pool := pgtest.New(t)
	all := []string{}
	rows, err := pool.Query(context.Background(), `SELECT code FROM sites ORDER BY code COLLATE "C"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			t.Fatal(err)
		}
		all = append(all, code)
	}
	if err := rows.Err(); err != nil || len(all) < 10 {
		t.Fatalf("%d sites, %v", len(all), err)
	}
	n := len(all)
	tests := []struct {
		name   string
		cursor string
		limit  int
		want   []string // the page's ids
		next   string
	}{
		{"first page", "", 5, all[:5], all[4]},
		{"all on one page", "", n, all, ""},
		{"more than all", "", n + 10, all, ""},
		{"one", "", 1, all[:1], all[0]},
		{"middle page", all[4], 5, all[5:10], all[9]},
		{"cursor between ids", all[4] + "0", 3, all[5:8], all[7]},
		{"last page, full", all[n-4], 3, all[n-3:], ""},
		{"last page, short", all[n-3], 5, all[n-2:], ""},
		{"after the last", all[n-1], 5, nil, ""},
		{"past every id", "zzz", 5, nil, ""},
		{"before every id", "0", 2, all[:2], all[1]},
	}
	encodings := []struct {
		name string
		e    geo.Encoding
	}{{"GeoJSON", geo.GeoJSON}, {"CSV", geo.CSV}}
	counts := []struct {
		name    string
		upTo    int
		matched int64
	}{{"counted", 0, int64(n)}, {"counted up to all", n, int64(n)}, {"too many to count", n - 1, -1}}
	for _, tt := range tests {
		for _, enc := range encodings {
			for _, count := range counts {
				t.Run(tt.name+"/"+enc.name+"/"+count.name, func(t *testing.T) {
					s := geo.Sites.Select(tt.limit)
					s.Cursor = tt.cursor
					s.CountUpTo = count.upTo
					f, ids := readPage(t, pool, s, enc.e)
					if f.Matched != count.matched || f.Returned != int64(len(tt.want)) || f.NextCursor != tt.next {
						t.Errorf("matched %d, returned %d, next %q; want %d, %d, %q", f.Matched, f.Returned, f.NextCursor, count.matched, len(tt.want), tt.next)
					}
					if !slices.Equal(ids, tt.want) {
						t.Errorf("ids %v, want %v", ids, tt.want)
					}
				})
			}
		}
	}
	t.Run("nothing matches", func(t *testing.T) {
		s := geo.Sites.Select(5)
		s.BBox = &orb.Bound{Min: orb.Point{0, 0}, Max: orb.Point{1, 1}}
		f, ids := readPage(t, pool, s, geo.GeoJSON)
		if f.Matched != 0 || f.Returned != 0 || f.NextCursor != "" || len(ids) != 0 {
			t.Errorf("matched %d, returned %d, next %q, %d features; want none", f.Matched, f.Returned, f.NextCursor, len(ids))
		}
	})
}

// TestItemsCloseEarly: a page closed before its last feature is read gives
// its connection back, and the next statement on it runs.
func TestItemsCloseEarly(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	for range int(pool.Config().MaxConns) + 1 {
		f, err := geo.Items(ctx, pool, geo.Villages.Select(1000), geo.GeoJSON)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Next() {
			t.Fatalf("no feature: %v", f.Err())
		}
		f.Close()
	}
	if got := pool.Stat().AcquiredConns(); got != 0 {
		t.Errorf("%d connections still held, want 0", got)
	}
}
