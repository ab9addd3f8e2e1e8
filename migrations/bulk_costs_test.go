package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// The checks of migrations/037_bulk_write_costs.sql: what a national
// load no longer pays for is still done where it is needed.

// TestShapesFollowRegions: a region inserted with a boundary gets its
// shapes and tile pieces, and loses them when deleted; a village, which
// has a point and no boundary, is written without re-cutting anything.
func TestShapesFollowRegions(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	pieces := func() (shapes, pieces int) {
		t.Helper()
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM region_shapes WHERE code = '520302999'),
			(SELECT count(*) FROM region_tile_pieces WHERE code = '520302999')`).Scan(&shapes, &pieces); err != nil {
			t.Fatal(err)
		}
		return shapes, pieces
	}
	// A township of 红花岗区 drawn over another's boundary.
	if _, err := tx.Exec(ctx, `INSERT INTO regions (code, name, level, parent_code, boundary, point)
		SELECT '520302999', '测试镇', 'township', parent_code, boundary, point FROM regions WHERE code = '520302001'`); err != nil {
		t.Fatal(err)
	}
	if s, p := pieces(); s != 1 || p == 0 {
		t.Fatalf("a township inserted: %d shapes, %d pieces; want 1 and some", s, p)
	}
	var before, after int
	count := `SELECT count(*) FROM region_tile_pieces`
	if err := tx.QueryRow(ctx, count).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO regions (code, name, level, parent_code, point)
		SELECT '520302999001', '测试村', 'village', '520302999', point FROM regions WHERE code = '520302999'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, count).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("a village inserted: %d pieces, were %d", after, before)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM regions WHERE code IN ('520302999001', '520302999')`); err != nil {
		t.Fatal(err)
	}
	if s, p := pieces(); s != 0 || p != 0 {
		t.Errorf("the township deleted: %d shapes, %d pieces left", s, p)
	}
}

// TestFlagsRefreshOnce: the flags of what a transaction marked are
// computed when it commits, once, from every mark it made, including a
// mark made after a savepoint that took the first mark back; nothing is
// left pending.
func TestFlagsRefreshOnce(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = '520322101200'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = '520322101201'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var pending, transactions int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM flags_pending), (SELECT count(*) FROM flags_pending_transactions)`).
		Scan(&pending, &transactions); err != nil {
		t.Fatal(err)
	}
	if pending != 0 || transactions != 0 {
		t.Errorf("after commit: %d subjects and %d transactions pending, want none", pending, transactions)
	}
}

// TestRankedGrams: the search keys written in PL/pgSQL are the keys the
// SQL of 027 made, for every region's name and for names of one
// character and of one character repeated; since 040 in the order of
// the name and with a key the name holds twice given twice, which the
// index and the search's containment do not tell apart.
func TestRankedGrams(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var names, differ int
	if err := pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE ARRAY(SELECT DISTINCT g FROM unnest(ranked_grams(level, name)) g ORDER BY 1) IS DISTINCT FROM
			(SELECT coalesce(array_agg(DISTINCT level_rank(level) || '/' || length(name) || '/' || g), '{}') FROM (
				SELECT substr(name, i, 1) FROM generate_series(1, length(name)) i
				UNION ALL
				SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) i) x (g)))
		FROM (SELECT level, name FROM regions
		      UNION ALL VALUES ('village', '村'), ('village', '村村村'), ('township', 'ab'), ('county', '')) r (level, name)`).
		Scan(&names, &differ); err != nil {
		t.Fatal(err)
	}
	if names < 100 || differ != 0 {
		t.Errorf("%d of %d names have other keys", differ, names)
	}
}
