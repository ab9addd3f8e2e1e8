package migrations_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestHistoryKeepsEveryVersion makes a village's figure change in several
// transactions, twice in one, and once not at all, and an assignment go
// and come back, recording what each transaction left; then reads each
// back from the history as of the time it was made. Each version holds
// from its transaction to the next change, no two versions of a row
// overlap, a statement that changes nothing writes no version, and the
// servers' role may read the history but not write it.
func TestHistoryKeepsEveryVersion(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	a, _ := pgtest.ApartVillages(t, pool)
	var site string
	var households, people int
	if err := pool.QueryRow(ctx, `SELECT site_code, households, people FROM relocation_assignments ORDER BY village_code, site_code LIMIT 1`).
		Scan(&site, &households, &people); err != nil {
		t.Fatal(err)
	}
	var village string
	if err := pool.QueryRow(ctx, `SELECT village_code FROM relocation_assignments WHERE site_code = $1 ORDER BY village_code LIMIT 1`, site).Scan(&village); err != nil {
		t.Fatal(err)
	}
	versions := func() (n int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM villages_history WHERE code = $1`, a).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	type state struct {
		at           time.Time
		cooperatives int
		assigned     bool
	}
	var states []state
	// change runs statements in one transaction and records what it left.
	change := func(statements ...string) {
		t.Helper()
		var s state
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&s.at); err != nil {
				return err
			}
			for _, sql := range statements {
				if _, err := tx.Exec(ctx, sql, a); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, `SELECT (SELECT cooperatives FROM villages WHERE code = $1),
				EXISTS (SELECT FROM relocation_assignments WHERE village_code = $2 AND site_code = $3)`, a, village, site).
				Scan(&s.cooperatives, &s.assigned)
		})
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, s)
		time.Sleep(2 * time.Millisecond) // transactions' times apart
	}
	change() // as loaded
	before := versions()
	change(`UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`)
	change(`UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`,
		`UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`)
	if got := versions(); got != before+2 {
		t.Errorf("versions after two changes, the second of two statements: %d, want %d", got, before+2)
	}
	change(`UPDATE villages SET cooperatives = cooperatives WHERE code = $1`)
	if got := versions(); got != before+2 {
		t.Errorf("versions after a statement that changed nothing: %d, want %d", got, before+2)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM relocation_assignments WHERE village_code = $1 AND site_code = $2`, village, site); err != nil {
		t.Fatal(err)
	}
	change()
	if _, err := pool.Exec(ctx, `INSERT INTO relocation_assignments (village_code, site_code, households, people) VALUES ($1, $2, $3, $4)`,
		village, site, households, people); err != nil {
		t.Fatal(err)
	}
	change(`UPDATE villages SET cooperatives = cooperatives - 3 WHERE code = $1`)

	for i, s := range states {
		var cooperatives int
		var assigned bool
		err := pool.QueryRow(ctx, `SELECT (SELECT cooperatives FROM villages_history WHERE code = $1 AND valid @> $4::timestamptz),
			EXISTS (SELECT FROM relocation_assignments_history WHERE village_code = $2 AND site_code = $3 AND valid @> $4::timestamptz)`,
			a, village, site, s.at).Scan(&cooperatives, &assigned)
		if err != nil {
			t.Fatal(err)
		}
		if cooperatives != s.cooperatives || assigned != s.assigned {
			t.Errorf("as of change %d: cooperatives %d, assigned %v; the change left %d, %v", i, cooperatives, assigned, s.cooperatives, s.assigned)
		}
	}
	var overlaps int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM villages_history x JOIN villages_history y USING (code) WHERE x.ctid <> y.ctid AND x.valid && y.valid)
		+ (SELECT count(*) FROM relocation_assignments_history x JOIN relocation_assignments_history y USING (village_code, site_code)
		   WHERE x.ctid <> y.ctid AND x.valid && y.valid)`).Scan(&overlaps); err != nil || overlaps != 0 {
		t.Errorf("overlapping versions: %d (%v), want none", overlaps, err)
	}

	app := pgtest.AsApp(t, pool)
	if _, err := app.Exec(ctx, `SELECT count(*) FROM villages_history`); err != nil {
		t.Errorf("the servers' role reading the history: %v", err)
	}
	if _, err := app.Exec(ctx, `DELETE FROM villages_history WHERE code = $1`, a); err == nil {
		t.Error("the servers' role deleted history")
	}
}

// TestHistoryDatedChanges loads a past: changes dated by
// battlemap.valid_from take effect at that time, and a date in the
// future, or before a version the change would replace (or before a
// deleted row's end, for its return), is refused with nothing written.
func TestHistoryDatedChanges(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	a, _ := pgtest.ApartVillages(t, pool)
	// A moment between the version loaded and now.
	var at time.Time
	if err := pool.QueryRow(ctx, `SELECT lower(valid) + (clock_timestamp() - lower(valid)) / 2
		FROM villages_history WHERE code = $1 AND upper_inf(valid)`, a).Scan(&at); err != nil {
		t.Fatal(err)
	}
	dated := func(at time.Time, sql string) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('battlemap.valid_from', $1, true)`, at.Format(time.RFC3339Nano)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql, a)
			return err
		})
	}
	if err := dated(at, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`); err != nil {
		t.Fatalf("a change dated after the version it replaces: %v", err)
	}
	var from time.Time
	if err := pool.QueryRow(ctx, `SELECT lower(valid) FROM villages_history WHERE code = $1 AND upper_inf(valid)`, a).Scan(&from); err != nil {
		t.Fatal(err)
	}
	if !from.Equal(at) {
		t.Errorf("the new version begins at %v, want %v", from, at)
	}
	for _, tt := range []struct {
		name string
		at   time.Time
	}{
		{"in the future", time.Now().Add(time.Hour)},
		{"before the version it replaces", at.Add(-time.Second)},
	} {
		if err := dated(tt.at, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`); err == nil {
			t.Errorf("a change dated %s was taken", tt.name)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM villages_history WHERE code = $1 AND lower(valid) > $2`, a, at).Scan(&n); err != nil || n != 0 {
		t.Errorf("versions after the refused changes: %d (%v), want none", n, err)
	}
}

// TestAsOfFollowsToday holds the as_of schema to what it shows: each of
// its views of a table has the table's columns, of the same types, in the
// same order; each table whose history is kept is there; and its views
// of figures are today's definitions naming the as_of relations. A
// migration that changes one without running as_of_views() again fails
// here.
func TestAsOfFollowsToday(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	columns := func(schema, rel string) string {
		t.Helper()
		var cols string
		err := pool.QueryRow(ctx, `SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
			FROM pg_attribute a WHERE a.attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
			schema, rel).Scan(&cols)
		if err != nil {
			t.Fatalf("columns of %s.%s: %v", schema, rel, err)
		}
		return cols
	}
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'as_of' AND c.relkind = 'v' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	views, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if got, want := columns("as_of", v), columns("public", v); got != want {
			t.Errorf("as_of.%s has columns %s; public.%s has %s", v, got, v, want)
		}
	}
	rows, err = pool.Query(ctx, `SELECT left(c.relname, -length('_history')) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE '%\_history' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) < 12 {
		t.Fatalf("only %d tables keep their history: %v", len(kept), kept)
	}
	for _, table := range kept {
		if !slices.Contains(views, table) {
			t.Errorf("%s keeps its history, but as_of has no view of it", table)
		}
	}
	for _, v := range []string{"rollup_figures", "region_figures"} {
		var today, past string
		if err := pool.QueryRow(ctx, `SELECT pg_get_viewdef(('public.' || $1)::regclass), replace(pg_get_viewdef(('as_of.' || $1)::regclass), 'as_of.', '')`,
			v).Scan(&today, &past); err != nil {
			t.Fatal(err)
		}
		if today != past {
			t.Errorf("as_of.%s is not today's definition:\n%s\ntoday:\n%s", v, past, today)
		}
	}
}

// TestHistoryUnderContention: a change whose transaction started first
// but reached the rows second — another edit of the same county (whose
// rollup rows both refresh) or of the same village committed meanwhile —
// commits too, and the history stays one line of versions per row, no
// gap and no overlap, in the order the changes reached the rows.
func TestHistoryUnderContention(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var a, b, county string
	// Two villages of one county with poor people to take off.
	if err := pool.QueryRow(ctx, `SELECT min(code), max(code), county_code FROM villages WHERE poor_population >= 16
		GROUP BY county_code ORDER BY county_code LIMIT 1`).Scan(&a, &b, &county); err != nil {
		t.Fatal(err)
	}
	edit := func(tx pgx.Tx, village string) {
		t.Helper()
		if tag, err := tx.Exec(ctx, `UPDATE villages SET poor_households = 0, poor_population = poor_population / 2
			WHERE code = $1 AND poor_population >= 2`, village); err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("edit %s: %v (%d rows)", village, err, tag.RowsAffected())
		}
	}
	begin := func() pgx.Tx {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A test that fails half-way leaves no transaction open, which
		// would hold the pool from closing. (After a commit it does nothing.)
		t.Cleanup(func() { tx.Rollback(ctx) })
		// The transaction's start, now(), is fixed by its first statement.
		if _, err := tx.Exec(ctx, `SELECT set_config('battlemap.scope', '*', true), now()`); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	for _, second := range []string{b, a} { // another village of the county; the same village
		first := begin()
		other := begin()
		edit(other, second)
		if err := other.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		edit(first, a)
		if err := first.Commit(ctx); err != nil {
			t.Fatalf("the change that started first, committed second (other edit of %s): %v", second, err)
		}
	}
	for _, c := range []struct{ table, key, code string }{
		{"region_rollups_history", "code", county}, {"region_rollups_history", "code", a}, {"villages_history", "code", a},
	} {
		var broken int64
		err := pool.QueryRow(ctx, `SELECT count(*) FROM (
			SELECT valid, lead(lower(valid)) OVER (ORDER BY lower(valid)) AS next FROM `+c.table+` WHERE `+c.key+` = $1) v
			WHERE (next IS NULL) <> upper_inf(valid) OR upper(valid) <> next OR isempty(valid)`, c.code).Scan(&broken)
		if err != nil || broken != 0 {
			t.Errorf("%s of %s: %d versions that do not meet the next (%v)", c.table, c.code, broken, err)
		}
	}
	var current, last int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT poor_population FROM region_rollups WHERE code = $1),
		(SELECT poor_population FROM region_rollups_history WHERE code = $1 AND upper_inf(valid))`, county).Scan(&current, &last); err != nil || current != last {
		t.Errorf("county %s: %d poor people, its last version %d (%v)", county, current, last, err)
	}
}
