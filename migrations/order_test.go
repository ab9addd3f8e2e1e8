package migrations_test

import (
	"context"
	"testing"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestTileRowsLieTogether: the refreshes write the rows a tile reads in
// the order a tile reads them (migrations/035_tile_order.sql), so that a
// tile made cold reads few pages. A city's rollups are written again by
// one statement over all its villages, as a bulk load's refresh does,
// and every piece by refresh_shapes(NULL); each table is then read in
// key order, and a row that lies on an earlier page than the row before
// it counts as a step back. Written in order, a step back comes only
// where the table hands out free space behind its end (on the demo, 2%
// of the rollups and 3% of the pieces); written as before, in the order
// a hash join left them, 49% and 19% did.
func TestTileRowsLieTogether(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT refresh_shapes(NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ table, key, where string }{
		{"region_rollups", "code", "xmin = pg_current_xact_id()::xid"},
		{"region_tile_pieces", "z, x, y, code", "true"},
	} {
		var rows, back int
		if err := tx.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE page < before)
			FROM (SELECT (ctid::text::point)[0] AS page, lag((ctid::text::point)[0]) OVER (ORDER BY `+c.key+`) AS before
			      FROM `+c.table+` WHERE `+c.where+`) r`).Scan(&rows, &back); err != nil {
			t.Fatal(err)
		}
		if rows < 100 || back > rows/20 {
			t.Errorf("%s: %d rows written, %d on an earlier page than the row before them in key order; want 100 or more, at most %d",
				c.table, rows, back, rows/20)
		}
	}
}

// TestEditFunction: a migration's edit of a function fails, changing
// nothing, unless what it replaces is in the definition exactly once.
func TestEditFunction(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	for _, old := range []string{"no such text", "委员会"} {
		if _, err := pool.Exec(ctx, `SELECT edit_function('short_name(text)', $1, 'x')`, old); err == nil {
			t.Errorf("edit_function replacing %q: no error, want one", old)
		}
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT short_name('新华村村委会')`).Scan(&got); err != nil || got != "新华村" {
		t.Errorf("short_name after the failed edits = %q (%v), want 新华村", got, err)
	}
}
