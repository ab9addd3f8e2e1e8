package migrations_test

import (
	"context"
	"testing"

	"github.com/zunyi/battlemap/geo/pgcluster"
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

// TestShortName: short_name (migrations/036_short_name_suffixes.sql)
// drops one committee suffix at the end of a name and nothing else.
func TestShortName(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	for in, want := range map[string]string{
		"花茂村村民委员会":   "花茂村",
		"大兴路社区居民委员会": "大兴路社区",
		"新华村村委会":     "新华村",
		"东门居委会":      "东门",
		"村民委员会":      "",
		"村委会路村":      "村委会路村",
		"花茂村":        "花茂村",
		"委员会":        "委员会",
		"村民委员会村委会":   "村民委员会",
		"":           "",
	} {
		var got string
		if err := pool.QueryRow(ctx, `SELECT short_name($1)`, in).Scan(&got); err != nil || got != want {
			t.Errorf("short_name(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
	var null *string
	if err := pool.QueryRow(ctx, `SELECT short_name(NULL)`).Scan(&null); err != nil || null != nil {
		t.Errorf("short_name(NULL) = %v (%v), want NULL", null, err)
	}
}

// TestEditFunction: a migration's edit of a function fails, changing
// nothing, unless what it replaces is in the definition exactly once;
// and the servers' role may not call it.
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
	var may bool
	if err := pool.QueryRow(ctx, `SELECT has_function_privilege($1, 'edit_function(regprocedure, text, text)', 'EXECUTE')`,
		pgcluster.AppRole).Scan(&may); err != nil || may {
		t.Errorf("%s may call edit_function: %v (%v), want false", pgcluster.AppRole, may, err)
	}
}
