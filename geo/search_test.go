package geo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

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
				rows, err := pool.Query(ctx, bruteSearchSQL, q, limit)
				if err != nil {
					t.Fatal(err)
				}
				want, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				matches, err := geo.Search(ctx, pool, geo.SearchQuery{Q: q, Limit: limit})
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
			})
		}
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
