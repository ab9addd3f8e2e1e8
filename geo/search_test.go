package geo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// bruteSearchSQL is what geo.Search answers, written as plainly as it
// can be: every region read, the matches ranked whole. It is the
// ground truth the indexed tiers of migrations/021_search.sql must agree
// with.
const bruteSearchSQL = `
SELECT g.code FROM regions g
WHERE CASE WHEN $1 ~ '^[0-9]+$' THEN starts_with(g.code, $1) ELSE strpos(g.name, $1) > 0 END
ORDER BY CASE WHEN $1 ~ '^[0-9]+$' THEN CASE WHEN g.code = $1 THEN 0 ELSE 1 END
              WHEN g.name = $1 OR short_name(g.name) = $1 THEN 0
              WHEN starts_with(g.name, $1) THEN 1
              ELSE 2 END,
         level_rank(g.level),
         CASE WHEN $1 ~ '^[0-9]+$' THEN 0 ELSE length(g.name) END,
         g.code COLLATE "C"
LIMIT $2`

// TestSearchMatchesBruteForce: for queries of every kind (whole names,
// short names, their first characters, characters from inside names,
// one character most names hold, code prefixes of every length), the
// search finds the same regions in the same order as reading every
// region would.
func TestSearchMatchesBruteForce(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// Queries drawn from the data: a sample of regions of every level,
	// each giving its name, short name, first two characters, two
	// characters from its middle, its last character, and its code's
	// first 2, 4, 6 and 9 digits.
	rows, err := pool.Query(ctx, `
SELECT DISTINCT q FROM (
  SELECT g.name, g.code FROM regions g ORDER BY md5(g.code) LIMIT 60
) s, LATERAL (VALUES (s.name), (short_name(s.name)), (left(s.name, 2)), (substr(s.name, 2, 2)),
                     (right(s.name, 1)), (left(s.code, 2)), (left(s.code, 4)), (left(s.code, 6)), (left(s.code, 9))) v (q)
WHERE q <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	queries = append(queries, "村", "委", "镇", "遵义", "茂村", "社区居委会", "5", "52030", "999", "不存在的名字")
	for _, q := range queries {
		for _, limit := range []int{1, 10} {
			t.Run(fmt.Sprintf("%s/%d", q, limit), func(t *testing.T) {
				searchAsBruteForce(t, pool, q, limit)
			})
		}
	}
}

// searchAsBruteForce fails t unless geo.Search finds for q what
// bruteSearchSQL does, in the same order.
func searchAsBruteForce(t *testing.T, db geo.DB, q string, limit int) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, bruteSearchSQL, q, limit)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	matches, err := geo.Search(ctx, db, geo.SearchQuery{Q: q, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, m := range matches {
		got = append(got, m.Code)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("search %q: %v, want %v", q, got, want)
	}
}

// sqlSharedFragment renames the first 1,902 villages by code so that
// 1,504 names hold 测试坝 past their first character, laid out for each
// way geo.Search reads a group of names of one level and one length: the
// 8-character names, 300 without it and then 1,500 with it (its first
// names hold none, its n-gram index more than a search sorts: the walk);
// the 7-character ones, 100 of which two hold it (the n-gram index,
// sorted); and the names that are it or start with it.
const sqlSharedFragment = `
UPDATE regions r SET name = CASE
    WHEN v.n <= 300 THEN '甲乙丙丁戊己庚村'
    WHEN v.n <= 1800 THEN '某某测试坝村委会'
    WHEN v.n IN (1850, 1890) THEN '某某测试坝村委'
    WHEN v.n <= 1900 THEN '甲乙丙丁戊己村'
    WHEN v.n = 1901 THEN '测试坝'
    ELSE '测试坝村' END
FROM (SELECT code, row_number() OVER (ORDER BY code) AS n FROM regions WHERE level = 'village') v
WHERE r.code = v.code AND v.n <= 1902`

// TestSearchSharedFragment: a fragment that many names hold, in groups of
// every kind, is found as reading every region would find it, and (up to
// the default limit) no scan of the regions reads as many rows as there
// are matches: a search
// that read them all and sorted them, or walked every shorter name
// first, cost 83 ms with the country's 45,600 names that hold 社区居委会.
func TestSearchSharedFragment(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, sqlSharedFragment); err != nil {
		t.Fatal(err)
	}
	const matches = 1504
	for _, q := range []string{"测试坝", "试坝", "测试", "测试坝村", "坝村委会", "村委"} {
		for _, limit := range []int{1, 10, geo.MaxSearchLimit} {
			t.Run(fmt.Sprintf("%s/%d", q, limit), func(t *testing.T) {
				searchAsBruteForce(t, pool, q, limit)
				// At the largest limit the planner reads a group of the
				// demo's whole and sorts it, rightly: it holds some
				// thousand names, where a country's groups hold 100,000.
				if limit == geo.MaxSearchLimit {
					return
				}
				if read := mostRowsRead(t, pool, q, limit); read >= matches {
					t.Errorf("search %q, limit %d: a scan of regions read %.0f rows, want fewer than the %d names that hold it", q, limit, read, matches)
				}
			})
		}
	}
}

// planNode is what mostRowsRead reads of a node of EXPLAIN's JSON plan.
type planNode struct {
	Relation  string     `json:"Relation Name"`
	Rows      float64    `json:"Actual Rows"`
	Filtered  float64    `json:"Rows Removed by Filter"`
	Rechecked float64    `json:"Rows Removed by Index Recheck"`
	Plans     []planNode `json:"Plans"`
}

// mostRowsRead is the most rows that one scan of regions read, in one of
// its loops, when geo.Search's name search ran for q: by its generic
// plan, as geo.Search runs it.
func mostRowsRead(t *testing.T, db geo.DB, q string, limit int) float64 {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var plan []struct{ Plan planNode }
	for _, sql := range []string{geo.GenericPlansSQL, "PREPARE search_name AS " + geo.SearchNameSQL} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// EXECUTE's arguments are values, not parameters: pgx writes them in.
	if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE search_name($1, $2)",
		pgx.QueryExecModeSimpleProtocol, q, limit).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	// A prepared statement outlives the transaction it was made in.
	if _, err := tx.Exec(ctx, "DEALLOCATE search_name"); err != nil {
		t.Fatal(err)
	}
	var most func(n planNode) float64
	most = func(n planNode) float64 {
		m := 0.0
		if n.Relation == "regions" {
			m = n.Rows + n.Filtered + n.Rechecked
		}
		for _, c := range n.Plans {
			m = max(m, most(c))
		}
		return m
	}
	return most(plan[0].Plan)
}

// TestWarmSearch: after WarmSearch, the connections it held have run the
// search's statements, by name and by code, by their generic plans (kept
// on them for every search after).
func TestWarmSearch(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := geo.WarmSearch(ctx, pool, 2); err != nil {
		t.Fatal(err)
	}
	statements := []string{geo.SearchNameSQL, geo.SearchCodeSQL}
	err := geo.OnConns(ctx, pool, 2, func(c *pgxpool.Conn) error {
		var planned int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements
			WHERE statement = ANY ($1) AND generic_plans > 0 AND custom_plans = 0`, statements).Scan(&planned); err != nil {
			return err
		}
		if planned != len(statements) {
			t.Errorf("a connection has run %d of the %d search statements by a generic plan", planned, len(statements))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLevelRank: the schema's level_rank orders the catalogue's levels as
// the catalogue lists them, from the top down, and knows each of them.
func TestLevelRank(t *testing.T) {
	pool := pgtest.New(t)
	prev := 0
	for _, v := range geo.RegionLevels.Values {
		var rank *int
		if err := pool.QueryRow(context.Background(), `SELECT level_rank($1)`, v.Value).Scan(&rank); err != nil {
			t.Fatal(err)
		}
		if rank == nil || *rank <= prev {
			t.Errorf("level_rank(%s) = %v, want a rank after %d (the catalogue's order)", v.Value, rank, prev)
			continue
		}
		prev = *rank
	}
}
