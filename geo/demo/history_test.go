package demo_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// liftedOut sums, over the village versions that begin in [$1, $2), what
// each took off the poor population of the version before it: people
// lifted out of poverty. entered sums what they added: returns to
// poverty, counted apart.
const (
	liftedOut = `SELECT coalesce(sum(greatest(prev - poor_population, 0)), 0) FROM (
		SELECT lower(valid) AS at, poor_population, lag(poor_population) OVER (PARTITION BY code ORDER BY lower(valid)) AS prev
		FROM villages_history) v
		WHERE at >= $1::timestamptz AND at < $2::timestamptz`
	entered = `SELECT coalesce(sum(greatest(poor_population - prev, 0)), 0) FROM (
		SELECT lower(valid) AS at, poor_population, lag(poor_population) OVER (PARTITION BY code ORDER BY lower(valid)) AS prev
		FROM villages_history) v
		WHERE at >= $1::timestamptz AND at < $2::timestamptz`
)

// The half-year, in Zunyi's time.
const (
	yearStart = "2016-01-01 00:00+08"
	juneStart = "2016-06-01 00:00+08"
	julyStart = "2016-07-01 00:00+08"
)

// TestHistoryFigures asserts, from the history tables, the published
// progress of the first half of 2016 (shared/DATA.md) and the state the
// year started from.
func TestHistoryFigures(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var entries int64
	if err := pool.QueryRow(ctx, entered, yearStart, julyStart).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries <= 0 || entries > 1000 {
		t.Errorf("people who fell back into poverty in the half-year: %d, want a few hundred", entries)
	}
	tests := []struct {
		name string
		sql  string
		args []any
		want int64
	}{
		{"lifted out of poverty, January–June", liftedOut, []any{yearStart, julyStart}, 103_000},
		{"lifted out of poverty, January–May", liftedOut, []any{yearStart, juneStart}, 85_000},
		{"poor people on 1 January (558,300 + 103,000 − those who fell back)",
			`SELECT sum(poor_population) FROM villages_history WHERE valid @> $1::timestamptz`, []any{yearStart}, 558_300 + 103_000 - entries},
		{"poor people at the end of June", `SELECT sum(poor_population) FROM villages_history WHERE valid @> $1::timestamptz`, []any{julyStart}, 558_300},
		{"poverty villages not exited on 1 January", `SELECT count(*) FROM regions_history
			WHERE level = 'village' AND poverty_status = 'not_exited' AND valid @> $1::timestamptz`, []any{yearStart}, 643},
		{"villages that fell back from exited to not exited", `SELECT count(*) FROM regions_history h
			JOIN regions_history p ON p.code = h.code AND upper(p.valid) = lower(h.valid)
			WHERE p.poverty_status = 'exited' AND h.poverty_status = 'not_exited' AND lower(h.valid) < $1::timestamptz`, []any{julyStart}, 2},
		{"villages that exited in the half-year (none exited in 2016 by June)", `SELECT count(*) FROM regions_history h
			JOIN regions_history p ON p.code = h.code AND upper(p.valid) = lower(h.valid)
			WHERE p.poverty_status = 'not_exited' AND h.poverty_status = 'exited'`, nil, 0},
		{"projects funded in the half-year", `SELECT count(*) FROM (
			SELECT DISTINCT ON (code) lower(valid) AS funded FROM projects_history ORDER BY code, lower(valid)) f
			WHERE funded >= $1::timestamptz AND funded < $2::timestamptz`, []any{yearStart, julyStart}, 544},
		{"their special funds (yuan)", `SELECT sum(funds_planned) FROM (
			SELECT DISTINCT ON (code) lower(valid) AS funded, funds_planned FROM projects_history ORDER BY code, lower(valid)) f
			WHERE funded >= $1::timestamptz AND funded < $2::timestamptz`, []any{yearStart, julyStart}, 464_000_000},
		{"projects on 1 January (all were funded after it)", `SELECT count(*) FROM projects_history WHERE valid @> $1::timestamptz`, []any{yearStart}, 0},
		{"poverty target 2016", `SELECT poor_people_out FROM region_targets WHERE region_code = '520300' AND year = 2016`, nil, 202_000},
		{"relocation targets 2016–2017", `SELECT sum(relocation_people) FROM region_targets WHERE region_code = '520300' AND year IN (2016, 2017)`, nil, 181_000},
		{"villages to exit 2016–2017 (all not exited on 1 January)", `SELECT sum(villages_exit) FROM region_targets WHERE region_code = '520300'`, nil, 643},
		{"targets set on 1 January", `SELECT count(*) FROM region_targets_history WHERE lower(valid) <> $1::timestamptz OR NOT upper_inf(valid)`, []any{yearStart}, 0},
		{"counties' targets that do not add up to the city's", `SELECT count(*) FROM region_targets c
			JOIN (SELECT year, sum(poor_people_out) AS p, sum(villages_exit) AS v, sum(relocation_people) AS r
			      FROM region_targets WHERE region_code <> '520300' GROUP BY year) s USING (year)
			WHERE c.region_code = '520300' AND (c.poor_people_out, c.villages_exit, c.relocation_people) IS DISTINCT FROM (s.p, s.v, s.r)`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int64
			if err := pool.QueryRow(ctx, tt.sql, tt.args...).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestHistoryVersions checks the shape of the history the load wrote:
// each row's versions follow one another without gap or overlap, the
// last holds now and is the row as it is; every version began on 1
// January at midnight or at 18:00 on a later day of the half-year; and
// each version of a site or a project has a status its figures allow
// (but those of the inconsistencies planted in the half-year, which the
// consistency rules flag: TestFlagsOfTheDemo), and figures that only
// grow.
func TestHistoryVersions(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// unflagged leaves out the versions of what the rules flag.
	const unflagged = `code NOT IN (SELECT subject_code FROM flags)`
	// gaps counts the versions of a table whose end is not the next
	// version's start (the last: open).
	gaps := func(table, key string) string {
		return `SELECT count(*) FROM (SELECT valid, lead(lower(valid)) OVER (PARTITION BY ` + key + ` ORDER BY lower(valid)) AS next
			FROM ` + table + `) h WHERE upper(valid) IS DISTINCT FROM next`
	}
	// when counts the versions that began neither at the start nor at
	// 18:00 on a day of the half-year.
	when := func(table string) string {
		return `SELECT count(*) FROM ` + table + ` WHERE lower(valid) <> '2016-01-01 00:00+08'
			AND ((lower(valid) AT TIME ZONE 'Asia/Shanghai')::time <> '18:00' OR lower(valid) >= '2016-07-01 00:00+08'
			     OR lower(valid) < '2016-01-01 00:00+08')`
	}
	tests := []struct{ name, sql string }{
		{"regions: gaps or overlaps", gaps("regions_history", "code")},
		{"villages: gaps or overlaps", gaps("villages_history", "code")},
		{"sites: gaps or overlaps", gaps("sites_history", "code")},
		{"projects: gaps or overlaps", gaps("projects_history", "code")},
		{"assignments: gaps or overlaps", gaps("relocation_assignments_history", "village_code, site_code")},
		{"targets: gaps or overlaps", gaps("region_targets_history", "region_code, year")},
		{"regions: versions at other times", when("regions_history")},
		{"villages: versions at other times", when("villages_history")},
		{"sites: versions at other times", when("sites_history")},
		{"projects: versions at other times", when("projects_history")},
		{"villages whose last version is not the row", `SELECT count(*) FROM villages v
			FULL JOIN (SELECT * FROM villages_history WHERE upper_inf(valid)) h USING (code)
			WHERE v.code IS NULL OR h.code IS NULL OR (v.poor_households, v.poor_population) IS DISTINCT FROM (h.poor_households, h.poor_population)`},
		{"sites whose last version is not the row", `SELECT count(*) FROM sites s
			FULL JOIN (SELECT * FROM sites_history WHERE upper_inf(valid)) h USING (code)
			WHERE s.code IS NULL OR h.code IS NULL
			   OR (s.moved_in_households, s.moved_in_people, s.progress, s.status) IS DISTINCT FROM (h.moved_in_households, h.moved_in_people, h.progress, h.status)`},
		{"projects whose last version is not the row", `SELECT count(*) FROM projects p
			FULL JOIN (SELECT * FROM projects_history WHERE upper_inf(valid)) h USING (code)
			WHERE p.code IS NULL OR h.code IS NULL
			   OR (p.funds_disbursed, p.completion, p.status) IS DISTINCT FROM (h.funds_disbursed, h.completion, h.status)`},
		{"site versions whose status their figures do not allow", `SELECT count(*) FROM sites_history WHERE ` + unflagged + ` AND NOT CASE status
			WHEN 'planned' THEN progress = 0 AND moved_in_people = 0
			WHEN 'under_construction' THEN progress BETWEEN 1 AND 99 AND moved_in_people = 0
			WHEN 'completed' THEN progress = 100 AND moved_in_people = 0
			WHEN 'occupied' THEN progress = 100 AND moved_in_people > 0 AND moved_in_households > 0 END`},
		{"project versions whose status their figures do not allow", `SELECT count(*) FROM projects_history WHERE ` + unflagged + ` AND NOT CASE status
			WHEN 'planned' THEN completion = 0 AND funds_disbursed = 0
			WHEN 'under_construction' THEN completion BETWEEN 1 AND 99
			WHEN 'completed' THEN completion = 100 END`},
		{"projects under way before their start date", `SELECT count(*) FROM projects_history
			WHERE status <> 'planned' AND (lower(valid) AT TIME ZONE 'Asia/Shanghai')::date < start_date`},
		{"site versions with less progress or fewer people than the one before", `SELECT count(*) FROM (
			SELECT progress, moved_in_people, lag(progress) OVER w AS progress_was, lag(moved_in_people) OVER w AS people_was
			FROM sites_history WINDOW w AS (PARTITION BY code ORDER BY lower(valid))) h
			WHERE progress < progress_was OR moved_in_people < people_was`},
		{"project versions with less done or paid than the one before", `SELECT count(*) FROM (
			SELECT completion, funds_disbursed, lag(completion) OVER w AS completion_was, lag(funds_disbursed) OVER w AS paid_was
			FROM projects_history WINDOW w AS (PARTITION BY code ORDER BY lower(valid))) h
			WHERE completion < completion_was OR funds_disbursed < paid_was`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int64
			if err := pool.QueryRow(ctx, tt.sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("got %d, want 0", n)
			}
		})
	}
}

// demoFlags are the consistency flags of the demo's half-year: one for
// each inconsistency planted in it (cmd/demodata/plant.go: plants), in
// the order they were raised, and the stale figure of 习水县 that the
// generated days leave of their own (a village whose poor population
// was last updated in March while its project moved in June). A flag is
// raised, and cleared, at the day's changes, 18:00 China Standard Time,
// but the stale figure, at the quarter's end; cleared is empty while the
// flag holds.
var demoFlags = []struct{ rule, code, raised, cleared string }{
	{"completed_underfunded", "520322-P030", "2016-03-11 18:00+08", ""},
	{"site_done_unbuilt", "520326-S08", "2016-03-16 18:00+08", ""},
	{"exit_below_standard", "520324107201", "2016-04-20 18:00+08", ""},
	{"completion_not_marked", "520323-P012", "2016-04-28 18:00+08", "2016-05-20 18:00+08"},
	{"funds_ahead", "520304-P019", "2016-05-12 18:00+08", ""},
	{"sudden_cut", "520382117216", "2016-05-25 18:00+08", ""},
	{"site_overfilled", "520381-S07", "2016-06-30 18:00+08", ""},
	{"stale_figures", "520330107206", "2016-07-01 00:00+08", ""},
}

// TestFlagsOfTheDemo asserts that the consistency rules find the
// inconsistencies planted in the demo's half-year, when they were
// planted, and nothing else: none missed, none extra.
func TestFlagsOfTheDemo(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT f.rule, f.subject_code,
		       to_char(f.raised_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI"+08"'),
		       coalesce(to_char(f.cleared_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI"+08"'), '')
		FROM flags f ORDER BY f.raised_at, f.rule, f.subject_code`)
	if err != nil {
		t.Fatal(err)
	}
	type flag struct{ rule, code, raised, cleared string }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (flag, error) {
		var f flag
		return f, r.Scan(&f.rule, &f.code, &f.raised, &f.cleared)
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[flag]bool{}
	for _, f := range got {
		found[f] = true
	}
	for _, w := range demoFlags {
		if !found[flag(w)] {
			t.Errorf("missed: %s of %s raised %s, cleared %q", w.rule, w.code, w.raised, w.cleared)
		}
		delete(found, flag(w))
	}
	for _, f := range got {
		if found[f] {
			t.Errorf("extra: %s of %s raised %s, cleared %q", f.rule, f.code, f.raised, f.cleared)
		}
	}
}
