package migrations_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func up(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Acquire(t, pool)
	if err := migrations.Up(ctx, conn.Conn()); err != nil {
		t.Fatalf("Up: %v", err)
	}
}

// TestUpFromEmpty migrates an empty database, twice (the second run must
// change nothing), and checks the version, the tables and the spatial
// indexes. The database belongs to pgcluster.OwnerRole, as battlemap's
// cluster gives it, and a superuser migrates it: everything the
// migrations create belongs to the owner all the same (asOwner), and the
// session is the superuser's again after.
func TestUpFromEmpty(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewEmpty(t)
	if _, err := pool.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{pool.Config().ConnConfig.Database}.Sanitize()+
		" OWNER TO "+pgx.Identifier{pgcluster.OwnerRole}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if v, err := migrations.Current(ctx, pool); err != nil || v != 0 {
		t.Fatalf("Current on empty database = %d, %v; want 0, nil", v, err)
	}
	up(t, pool)
	up(t, pool)
	want, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := migrations.Current(ctx, pool); err != nil || got != want {
		t.Fatalf("Current = %d, %v; want %d", got, err, want)
	}
	for _, table := range []string{"regions", "villages", "sites", "relocation_assignments", "projects", "audit_log", "data_version",
		"terrain", "terrain_slope", "hazard_zones", "roads", "services", "service_points"} {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing (%v)", table, err)
		}
	}
	for _, idx := range []string{"regions_boundary_gix", "regions_point_gix", "sites_geom_gix", "projects_geom_gix",
		"hazard_zones_geom_gix", "roads_geom_gix", "services_geom_gix", "terrain_rast_gix", "terrain_slope_rast_gix"} {
		var method string
		err := pool.QueryRow(ctx, `SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = $1`, idx).Scan(&method)
		if err != nil || method != "gist" {
			t.Errorf("index %s: got %q (%v), want a gist index", idx, method, err)
		}
	}
	var triggers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\_rollups\_%' AND tgrelid <> 'region_rollups'::regclass`).Scan(&triggers); err != nil || triggers != 21 {
		t.Errorf("rollup triggers: %d (%v), want 21 (insert, update, delete, truncate on five tables, and a region's move)", triggers, err)
	}
	var srid int
	if err := pool.QueryRow(ctx, `SELECT srid FROM geometry_columns WHERE f_table_name = 'regions' AND f_geometry_column = 'point'`).Scan(&srid); err != nil || srid != 4326 {
		t.Errorf("regions.point SRID = %d (%v), want 4326", srid, err)
	}
	var others []string
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT c.oid::regclass::text || ' of ' || c.relowner::regrole::text FROM pg_class c
			WHERE c.relnamespace = 'public'::regnamespace AND c.relowner::regrole::text <> $1
			  AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
			UNION ALL
			SELECT p.oid::regprocedure::text || ' of ' || p.proowner::regrole::text FROM pg_proc p
			WHERE p.pronamespace = 'public'::regnamespace AND p.proowner::regrole::text <> $1
			  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
			pgcluster.OwnerRole)
		if err != nil {
			return err
		}
		others, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(others) > 0 {
		t.Errorf("objects not the owner's (%v): %q", err, others)
	}
	var super bool
	if err := pool.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || !super {
		t.Errorf("after Up the session is no superuser's (%v)", err)
	}
}

// TestUpPastStatementTimeout migrates an empty database over a connection
// whose statement_timeout is far shorter than the migrations take, as a
// server's is beside a country's data, and finds the timeout as it was.
func TestUpPastStatementTimeout(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewEmpty(t)
	conn := pgtest.Acquire(t, pool)
	if _, err := conn.Exec(ctx, `SET statement_timeout = '5ms'`); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Up(ctx, conn.Conn()); err != nil {
		t.Fatalf("Up: %v", err)
	}
	var timeout string
	if err := conn.QueryRow(ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil || timeout != "5ms" {
		t.Errorf("statement_timeout after Up = %q (%v), want 5ms", timeout, err)
	}
}

// TestConstraints checks that data that cannot be true is refused with
// the named constraint, on a database holding the demo data.
func TestConstraints(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		sql        string
		constraint string // "" when several constraints reject it
	}{
		{"negative poor households", `UPDATE villages SET poor_households = -1 WHERE code = '520304116203'`, "villages_poor_households_nonnegative"},
		{"negative population", `UPDATE villages SET population = -1, poor_population = -1, poor_households = -1 WHERE code = '520304116203'`, ""},
		{"more poor than people", `UPDATE villages SET poor_population = population + 1 WHERE code = '520304116203'`, "villages_poor_within_population"},
		{"unknown poverty status", `UPDATE regions SET poverty_status = 'almost' WHERE code = '520304116203'`, "regions_poverty_status_known"},
		{"exited without a year", `UPDATE regions SET poverty_status = 'exited', exit_year = NULL WHERE code = '520304116203'`, "regions_exit_year_iff_exited"},
		{"village code of wrong length", `INSERT INTO regions (code, name, level, parent_code, point) VALUES ('5203041162', 'x', 'village', '520304116', ST_Point(107, 27.5, 4326))`, "regions_code_matches_level"},
		{"completion over 100", `UPDATE projects SET completion = 101 WHERE code = (SELECT min(code) FROM projects)`, "projects_completion_range"},
		{"negative completion", `UPDATE projects SET completion = -5 WHERE code = (SELECT min(code) FROM projects)`, "projects_completion_range"},
		{"unknown project status", `UPDATE projects SET status = 'done-ish' WHERE code = (SELECT min(code) FROM projects)`, "projects_status_known"},
		{"unknown category", `UPDATE projects SET category = 'bridges' WHERE code = (SELECT min(code) FROM projects)`, "projects_category_known"},
		{"disbursed more than planned", `UPDATE projects SET funds_disbursed = funds_planned + 1 WHERE code = (SELECT min(code) FROM projects)`, "projects_funds_disbursed_range"},
		{"polygon project", `UPDATE projects SET geom = ST_Buffer(geom, 0.01) WHERE code = (SELECT min(code) FROM projects)`, "projects_geom_point_or_line"},
		{"site over capacity", `UPDATE sites SET moved_in_people = capacity_people + 1 WHERE code = (SELECT min(code) FROM sites)`, "sites_moved_in_people_range"},
		{"negative site capacity", `UPDATE sites SET capacity_households = -1 WHERE code = (SELECT min(code) FROM sites)`, "sites_capacity_households_nonnegative"},
		{"unknown site status", `UPDATE sites SET status = 'maybe' WHERE code = (SELECT min(code) FROM sites)`, "sites_status_known"},
		{"negative households moving", `UPDATE relocation_assignments SET households = -1 WHERE (village_code, site_code) = (SELECT village_code, site_code FROM relocation_assignments LIMIT 1)`, "relocation_assignments_households_positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
				t.Fatalf("got %v, want a check violation", err)
			}
			if tt.constraint != "" && pgErr.ConstraintName != tt.constraint {
				t.Errorf("got %v, want a violation of %s", err, tt.constraint)
			}
		})
	}
}

// TestAuditLogAppendOnly checks the audit log takes rows and refuses to
// have them changed or removed.
func TestAuditLogAppendOnly(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (actor, action, table_name, row_key) VALUES ('test', 'update', 'villages', '520304116203')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	// A position may be set, alone, on a row that has none.
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET position = -id WHERE position IS NULL`); err != nil {
		t.Errorf("setting the positions of rows without one: %v", err)
	}
	for _, sql := range []string{`UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`UPDATE audit_log SET position = position - 1`} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: got nil error, want refusal", sql)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (actor, action, table_name, row_key) VALUES ('test', 'update', 'villages', '520304116203')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE audit_log SET position = -id, actor = actor WHERE position IS NULL`); err == nil {
		t.Errorf("a position set with another column: got nil error, want refusal")
	}
	// The trigger that refuses an UPDATE names every column but position:
	// a column added to the log and not to it could be rewritten.
	var missing []string
	if err := pool.QueryRow(ctx, `
SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') FROM pg_attribute a
WHERE a.attrelid = 'audit_log'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'position'
  AND a.attnum <> ALL (coalesce((SELECT t.tgattr FROM pg_trigger t
                                 WHERE t.tgrelid = 'audit_log'::regclass AND t.tgname = 'audit_log_positions_only')::int2[], '{}'))`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("audit_log_positions_only does not refuse updates of %v: run audit_log_update_columns() in the migration that added them", missing)
	}
}

// TestDataVersionMoves checks that a committed change to map data moves
// the data version and announces the change, and that a rolled-back one
// does not.
func TestDataVersionMoves(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	version := func() int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRow(ctx, `SELECT version FROM data_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	listener := pgtest.Acquire(t, pool)
	if _, err := listener.Exec(ctx, `LISTEN battlemap_changes`); err != nil {
		t.Fatal(err)
	}

	before := version()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE villages SET poor_population = poor_population - 1 WHERE code = '520304116203'`); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil || version() != before {
		t.Fatalf("rolled-back change: version %d → %d (err %v), want unchanged", before, version(), err)
	}
	if _, err := pool.Exec(ctx, `UPDATE villages SET poor_population = poor_population - 1 WHERE code = '520304116203'`); err != nil {
		t.Fatal(err)
	}
	after := version()
	if after <= before {
		t.Fatalf("version after update = %d, want > %d", after, before)
	}
	if _, err := listener.Conn().WaitForNotification(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestParentLevel checks the parent rule of 003_parents, which reads no
// code: a region's parent is one level up, and only a city has none.
func TestParentLevel(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct{ name, sql string }{
		{"village under a county", `INSERT INTO regions (code, name, level, parent_code, point)
			VALUES ('520304116999', 'x', 'village', '520304', ST_Point(107, 27.5, 4326))`},
		{"township moved under a village", `UPDATE regions SET parent_code = '520304116203' WHERE code = '520322002'`},
		{"county without a parent", `INSERT INTO regions (code, name, level, boundary, point)
			VALUES ('520399', 'x', 'county', ST_Multi(ST_MakeEnvelope(107, 27.5, 107.1, 27.6, 4326)), ST_Point(107.05, 27.55, 4326))`},
		{"city with a parent", `INSERT INTO regions (code, name, level, parent_code, boundary, point)
			VALUES ('520400', 'x', 'city', '520300', ST_Multi(ST_MakeEnvelope(107, 27.5, 107.1, 27.6, 4326)), ST_Point(107.05, 27.55, 4326))`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "regions_parent_level_fkey" {
				t.Fatalf("got %v, want a violation of regions_parent_level_fkey", err)
			}
		})
	}
	// The code no longer has to start with the parent's: where a region
	// sits is its parent_code.
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520304' WHERE code = '520322002'`); err != nil {
		t.Errorf("township moved to another county: %v", err)
	}
}

// TestWhereThingsLie checks the rules of 003_parents on where villages,
// sites and projects lie, which read no code: a village's township and
// county are its region's parent and that township's parent, a site's
// county is its township's parent and a project's its village's county.
// Writes that break them are refused by name; moves follow them.
func TestWhereThingsLie(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct{ name, sql, constraint string }{
		{"village filed under another township", `UPDATE villages SET township_code = '520302001' WHERE code = '520304116203'`,
			"villages_township_of_region"},
		{"village in another county than its township", `UPDATE villages SET county_code = '520302' WHERE code = '520304116203'`,
			"villages_county_of_township"},
		{"registry row without its region", `INSERT INTO villages (code, population, poor_households, poor_population)
			VALUES ('520304116999', 10, 0, 0)`, "villages_township_of_region"},
		{"site in another county than its township", `UPDATE sites SET county_code = '520304' WHERE code = '520302-S01'`,
			"sites_township_in_county"},
		{"project in another county than its village", `UPDATE projects SET county_code = '520304'
			WHERE code = (SELECT min(code) FROM projects WHERE village_code = '520302110203')`, "projects_village_in_county"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != tt.constraint {
				t.Fatalf("got %v, want a violation of %s", err, tt.constraint)
			}
		})
	}

	// where reads where the village, the site and the village's projects lie.
	where := func() (township, county, siteCounty, projectCounty string) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT v.township_code, v.county_code,
			(SELECT county_code FROM sites WHERE code = '520302-S01'),
			(SELECT string_agg(DISTINCT county_code, ',') FROM projects WHERE village_code = v.code)
			FROM villages v WHERE v.code = '520302110203'`).Scan(&township, &county, &siteCounty, &projectCounty)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	steps := []struct {
		sql                                         string
		township, county, siteCounty, projectCounty string
	}{
		// The village is filed under a township of another county: its
		// registry row and its projects follow.
		{`UPDATE regions SET parent_code = '520303108' WHERE code = '520302110203'`, "520303108", "520303", "520302", "520303"},
		// That township moves to a third county, then the site's township
		// to another county: what lies in them follows.
		{`UPDATE regions SET parent_code = '520304' WHERE code = '520303108'`, "520303108", "520304", "520302", "520304"},
		{`UPDATE regions SET parent_code = '520303' WHERE code = '520302001'`, "520303108", "520304", "520303", "520304"},
	}
	for _, st := range steps {
		if _, err := pool.Exec(ctx, st.sql); err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
		township, county, siteCounty, projectCounty := where()
		if township != st.township || county != st.county || siteCounty != st.siteCounty || projectCounty != st.projectCounty {
			t.Errorf("after %s: village in %s, %s, site in %s, project in %s; want %s, %s, %s, %s", st.sql,
				township, county, siteCounty, projectCounty, st.township, st.county, st.siteCounty, st.projectCounty)
		}
	}

	// A new registry row takes its township and county from its region,
	// whatever its code begins with.
	for _, sql := range []string{
		`INSERT INTO regions (code, name, level, parent_code, point)
		 VALUES ('520302110999', '新村', 'village', '520304001', ST_Point(106.9, 27.7, 4326))`,
		`INSERT INTO villages (code, population, poor_households, poor_population) VALUES ('520302110999', 10, 0, 0)`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var township, county string
	if err := pool.QueryRow(ctx, `SELECT township_code, county_code FROM villages WHERE code = '520302110999'`).Scan(&township, &county); err != nil {
		t.Fatal(err)
	}
	if township != "520304001" || county != "520304" {
		t.Errorf("new village in %s, %s; want 520304001, 520304", township, county)
	}
}

// rollupDigest is a digest of the rollups, flows and shapes of the regions
// under top (every region when top is empty), to compare two states.
func rollupDigest(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, top string) string {
	t.Helper()
	var digest string
	err := db.QueryRow(context.Background(), `
		WITH under AS (
			WITH RECURSIVE down (code) AS (
				SELECT code FROM regions WHERE code = $1 OR ($1 = '' AND parent_code IS NULL)
				UNION ALL
				SELECT r.code FROM down JOIN regions r ON r.parent_code = down.code
			)
			SELECT code FROM down
		)
		SELECT md5(concat_ws('/',
			(SELECT string_agg(f::text, '|' ORDER BY f.code) FROM region_figures f WHERE f.code IN (SELECT code FROM under)),
			(SELECT string_agg(concat_ws(',', l.village_code, l.site_code, l.households, l.people, ST_AsEWKB(l.geom)), '|'
			        ORDER BY l.village_code, l.site_code) FROM flows l WHERE l.village_code IN (SELECT code FROM under)),
			(SELECT string_agg(concat_ws(',', s.code, s.level, ST_AsEWKB(s.shape_z7), ST_AsEWKB(s.shape_z10), ST_AsEWKB(s.shape)), '|'
			        ORDER BY s.code) FROM region_shapes s WHERE s.code IN (SELECT code FROM under))))`, top).Scan(&digest)
	if err != nil {
		t.Fatalf("rollup digest: %v", err)
	}
	return digest
}

// poorPeople is region code's rolled-up poor people.
func poorPeople(t *testing.T, pool *pgxpool.Pool, code string) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT poor_population FROM region_figures WHERE code = $1`, code).Scan(&n); err != nil {
		t.Fatalf("poor people of %s: %v", code, err)
	}
	return n
}

// TestParentsDownAndUp takes 003_parents down and up again on the demo
// data: each way the rollups stay as they were, the parent rule is the one
// of that version, and an edit still moves the figures.
func TestParentsDownAndUp(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	conn := pgtest.Acquire(t, pool)
	m, err := migrate.NewMigrator(ctx, conn.Conn(), migrations.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadMigrations(migrations.Files()); err != nil {
		t.Fatal(err)
	}
	const village, city = "520304116203", "520300"
	before := rollupDigest(t, conn, "")
	edit := func(version int32, delta int) {
		t.Helper()
		poor := poorPeople(t, pool, city)
		if _, err := conn.Exec(ctx, `UPDATE villages SET poor_population = poor_population + $2 WHERE code = $1`, village, delta); err != nil {
			t.Fatalf("version %d: edit: %v", version, err)
		}
		if got, want := poorPeople(t, pool, city), poor+int64(delta); got != want {
			t.Errorf("version %d: the city's poor people after an edit of %+d: %d, want %d", version, delta, got, want)
		}
	}
	// timeEdits logs what one edit costs, the statement and the refresh of
	// its city: logged, not asserted, as a busy machine would make it
	// flaky. Each edit is rolled back, so that the commit's flush to disk,
	// which on a shared machine varies most, is not in the figure; each
	// measure starts from vacuumed, analysed rollups.
	timeEdits := func(version int32) {
		t.Helper()
		if _, err := conn.Exec(ctx, `VACUUM ANALYZE region_rollups, flows`); err != nil {
			t.Fatal(err)
		}
		var took []time.Duration
		var wal int64 // bytes of write-ahead log an edit writes: what the refresh rewrites
		for i := 0; i < 20; i++ {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var lsn string
			if err := tx.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = tx.Exec(ctx, `UPDATE villages SET poor_population = poor_population + 1 WHERE code = $1`, village)
			took = append(took, time.Since(start))
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&wal); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(took)
		t.Logf("version %d: one edit of a village, with the refresh of its rollups: median %v (fastest %v), %d kB of WAL",
			version, took[len(took)/2].Round(time.Millisecond), took[0].Round(time.Millisecond), wal/1024)
	}
	latest, err := migrations.Latest()
	if err != nil {
		t.Fatal(err)
	}
	timeEdits(latest)
	for _, step := range []struct {
		version              int32
		constraint, notThere string
		// rules is the type (pg_constraint's contype) of the rules on a
		// site's and a project's county, and generated whether villages'
		// township and county are cut from the code.
		rules     string
		generated bool
	}{
		{2, "regions_parent_matches_level", "regions_parent_level_fkey", "c", true},
		{3, "regions_parent_level_fkey", "regions_parent_matches_level", "f", false},
	} {
		if err := m.MigrateTo(ctx, step.version); err != nil {
			t.Fatalf("migrate to %d: %v", step.version, err)
		}
		var has, hasNot bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_constraint WHERE conname = $1),
			EXISTS (SELECT FROM pg_constraint WHERE conname = $2)`, step.constraint, step.notThere).Scan(&has, &hasNot)
		if err != nil || !has || hasNot {
			t.Errorf("version %d: constraint %s there: %v, %s there: %v (%v); want only the first", step.version,
				step.constraint, has, step.notThere, hasNot, err)
		}
		var rules []string
		var generated []bool
		err = conn.QueryRow(ctx, `SELECT
			ARRAY(SELECT contype::text FROM pg_constraint WHERE conname IN ('sites_township_in_county', 'projects_village_in_county')),
			ARRAY(SELECT attgenerated <> '' FROM pg_attribute WHERE attrelid = 'villages'::regclass AND attname IN ('township_code', 'county_code'))`).
			Scan(&rules, &generated)
		if err != nil || !slices.Equal(rules, []string{step.rules, step.rules}) || !slices.Equal(generated, []bool{step.generated, step.generated}) {
			t.Errorf("version %d: the county rules are of type %v, villages' township and county generated: %v (%v); want %s and %v",
				step.version, rules, generated, err, step.rules, step.generated)
		}
		if got := rollupDigest(t, conn, ""); got != before {
			t.Errorf("version %d: the rollups changed on the way", step.version)
		}
		edit(step.version, -7)
		edit(step.version, +7)
		timeEdits(step.version)
		if got := rollupDigest(t, conn, ""); got != before {
			t.Errorf("version %d: the rollups differ after an edit and its reverse", step.version)
		}
	}
	var functions int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE proname IN ('region_lineage', 'region_tree', 'region_tops', 'counted_in')`).Scan(&functions); err != nil || functions != 4 {
		t.Errorf("003's functions: %d (%v), want 4", functions, err)
	}
}

// TestRollupsFollowParents loads a second city beside Zunyi, moves its
// county into Zunyi and deletes it, checking at each step the second
// city's rollups, that Zunyi's are untouched (or, with the county, hold
// it), and that the refresh of what a statement touched agrees with a
// full one.
func TestRollupsFollowParents(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	c := pgtest.SecondCity
	zunyi := rollupDigest(t, pool, "520300")
	zunyiPoor := poorPeople(t, pool, "520300")
	agreesWithFull := func(when string) {
		t.Helper()
		incremental := rollupDigest(t, pool, "")
		if _, err := pool.Exec(ctx, `SELECT refresh_rollups(NULL), refresh_shapes(NULL)`); err != nil {
			t.Fatal(err)
		}
		if full := rollupDigest(t, pool, ""); full != incremental {
			t.Errorf("%s: the refresh of what was touched differs from a full one", when)
		}
	}

	start := time.Now()
	pgtest.AddSecondCity(t, pool)
	t.Logf("second city loaded in %v (8 statements, each refreshing what it touched)", time.Since(start))
	if got := rollupDigest(t, pool, "520300"); got != zunyi {
		t.Errorf("Zunyi's rollups changed when another city was loaded")
	}
	type figures struct {
		top                                  string
		villages, notExited, sites, projects int
		poor, relocation, capacity, funds    int64
	}
	want := map[string]figures{
		c.City:     {c.City, 1, 1, 1, 1, int64(c.PoorPopulation), int64(c.RelocationPeople), int64(c.SiteCapacityPeople), int64(c.FundsPlanned)},
		c.County:   {c.City, 1, 1, 1, 1, int64(c.PoorPopulation), int64(c.RelocationPeople), int64(c.SiteCapacityPeople), int64(c.FundsPlanned)},
		c.Township: {c.City, 1, 1, 1, 1, int64(c.PoorPopulation), int64(c.RelocationPeople), int64(c.SiteCapacityPeople), int64(c.FundsPlanned)},
		c.Village:  {c.City, 1, 1, 0, 1, int64(c.PoorPopulation), int64(c.RelocationPeople), 0, int64(c.FundsPlanned)},
	}
	for code, w := range want {
		var g figures
		err := pool.QueryRow(ctx, `SELECT coalesce(r.lineage[1], f.code), f.villages, f.villages_not_exited, f.sites, f.projects,
			f.poor_population, f.relocation_people, f.site_capacity_people, f.funds_planned
			FROM region_figures f LEFT JOIN region_rollups r USING (code) WHERE f.code = $1`, code).
			Scan(&g.top, &g.villages, &g.notExited, &g.sites, &g.projects, &g.poor, &g.relocation, &g.capacity, &g.funds)
		if err != nil {
			t.Fatalf("rollup of %s: %v", code, err)
		}
		if g != w {
			t.Errorf("rollup of %s: got %+v, want %+v", code, g, w)
		}
	}
	var flows, shapes int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM flows WHERE village_code = $1),
		(SELECT count(*) FROM region_shapes WHERE code = ANY ($2))`, c.Village, []string{c.City, c.County, c.Township}).Scan(&flows, &shapes); err != nil {
		t.Fatal(err)
	}
	if flows != 1 || shapes != 3 {
		t.Errorf("second city: %d flows, %d shapes; want 1 and 3", flows, shapes)
	}
	agreesWithFull("second city loaded")

	// Its county moves into Zunyi: both cities are refreshed.
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520300' WHERE code = $1`, c.County); err != nil {
		t.Fatal(err)
	}
	if got, want := poorPeople(t, pool, "520300"), zunyiPoor+int64(c.PoorPopulation); got != want {
		t.Errorf("Zunyi's poor people with the county moved in: %d, want %d", got, want)
	}
	if got := poorPeople(t, pool, c.City); got != 0 {
		t.Errorf("the second city's poor people with its county gone: %d, want 0", got)
	}
	var top string
	if err := pool.QueryRow(ctx, `SELECT lineage[1] FROM region_rollups WHERE code = $1`, c.Village).Scan(&top); err != nil || top != "520300" {
		t.Errorf("the village's top after the move: %q (%v), want 520300", top, err)
	}
	agreesWithFull("county moved")

	// The county, its township and village go in one statement: their
	// rows leave the rollups, the flows and the shapes with them.
	for _, del := range []struct {
		sql string
		arg any
	}{
		{`DELETE FROM projects WHERE code = $1`, c.Project},
		{`DELETE FROM sites WHERE code = $1`, c.Site},
		{`DELETE FROM villages WHERE code = $1`, c.Village},
		{`DELETE FROM regions WHERE code = ANY ($1)`, []string{c.County, c.Township, c.Village}},
	} {
		if _, err := pool.Exec(ctx, del.sql, del.arg); err != nil {
			t.Fatalf("%s: %v", del.sql, err)
		}
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM region_rollups WHERE code = ANY ($1))
		+ (SELECT count(*) FROM flows WHERE village_code = $2) + (SELECT count(*) FROM region_shapes WHERE code = ANY ($1))`,
		[]string{c.County, c.Township, c.Village}, c.Village).Scan(&left); err != nil || left != 0 {
		t.Errorf("rows left of the deleted regions: %d (%v), want 0", left, err)
	}
	if got := rollupDigest(t, pool, "520300"); got != zunyi {
		t.Errorf("Zunyi's rollups after the county left again differ from before")
	}
	agreesWithFull("county deleted")
}

// TestCountiesWriteApart holds an edit of a village uncommitted while an
// edit of a village in another county, whose point lies in other
// counties' boxes, commits: the second does not wait for the first (no
// lock and no row all writes share), and once both have committed the
// figures, a city's included, agree with a full refresh.
func TestCountiesWriteApart(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	a, b := pgtest.ApartVillages(t, pool)
	const city = "520300"
	population := func() (n int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT population FROM region_figures WHERE code = $1`, city).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := population()

	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	if _, err := first.Exec(ctx, `UPDATE villages SET population = population + 3 WHERE code = $1`, a); err != nil {
		t.Fatal(err)
	}

	second := pgtest.Acquire(t, pool)
	// Waiting for the first edit would run into the lock timeout.
	if _, err := second.Exec(ctx, `SET lock_timeout = '5s'`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := second.Exec(ctx, `UPDATE villages SET population = population + 4 WHERE code = $1`, b); err != nil {
		t.Fatalf("an edit in another county while the first is open: %v", err)
	}
	t.Logf("the second edit committed in %v with the first still open", time.Since(start).Round(time.Millisecond))
	if _, err := second.Exec(ctx, `RESET lock_timeout`); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	if got, want := population(), before+7; got != want {
		t.Errorf("the city's population after both edits: %d, want %d", got, want)
	}
	incremental := rollupDigest(t, pool, "")
	if _, err := pool.Exec(ctx, `SELECT refresh_rollups(NULL), refresh_shapes(NULL)`); err != nil {
		t.Fatal(err)
	}
	if full := rollupDigest(t, pool, ""); full != incremental {
		t.Errorf("after two edits made at once, the rollups differ from a full refresh")
	}
}

// TestRegionLineages: region_lineages answers, for a set of codes, what
// region_lineage answers for each (the codes of no region not at all),
// and the audit rows of a statement carry those lineages.
func TestRegionLineages(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var regions, differ, answered int
	if err := pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE l.lineage IS DISTINCT FROM region_lineage(r.code)),
		       (SELECT count(*) FROM region_lineages(ARRAY(SELECT code FROM regions) || ARRAY['999999', NULL, '520302']))
		FROM regions r LEFT JOIN region_lineages(ARRAY(SELECT code FROM regions)) l USING (code)`).Scan(&regions, &differ, &answered); err != nil {
		t.Fatal(err)
	}
	if regions == 0 || differ != 0 || answered != regions {
		t.Errorf("%d regions, %d lineages differ from region_lineage, %d answered; want some, 0, %[1]d", regions, differ, answered)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var written, audited, wrong int
	if err := tx.QueryRow(ctx, `
		WITH v AS (UPDATE villages SET cooperatives = cooperatives + 1 WHERE county_code = '520302' RETURNING code)
		SELECT count(*) FROM v`).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE lineage IS DISTINCT FROM region_lineage(row_key))
		FROM audit_log WHERE txid = txid_current() AND table_name = 'villages'`).Scan(&audited, &wrong); err != nil {
		t.Fatal(err)
	}
	if written == 0 || audited != written || wrong != 0 {
		t.Errorf("%d villages updated, %d audit rows, %d with another lineage than region_lineage's; want some, as many, 0",
			written, audited, wrong)
	}
	// The regions rows and the villages rows are audited with the lineage
	// of their parent and their own code after it (039), as it stands
	// after the statement: a region renamed, a township moved to another
	// county with its villages, and a village deleted, whose lineage the
	// audit still gives.
	for _, q := range []string{
		`UPDATE regions SET name = name || '村' WHERE parent_code IN (SELECT code FROM regions WHERE parent_code = '520302')`,
		`UPDATE regions SET parent_code = '520303' WHERE code = (SELECT min(code) FROM regions WHERE parent_code = '520302' AND level = 'township')`,
	} {
		var mark int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&mark); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := tx.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE lineage IS DISTINCT FROM region_lineage(row_key))
			FROM audit_log WHERE id > $1 AND table_name IN ('regions', 'villages')`, mark).Scan(&audited, &wrong); err != nil {
			t.Fatal(err)
		}
		if audited == 0 || wrong != 0 {
			t.Errorf("%s: %d regions and villages rows audited, %d with another lineage than region_lineage's; want some, 0", q, audited, wrong)
		}
	}
	var village string
	var before []string
	if err := tx.QueryRow(ctx, `SELECT code, region_lineage(code) FROM villages WHERE county_code = '520303' ORDER BY code LIMIT 1`).
		Scan(&village, &before); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM regions WHERE code = $1`, village); err != nil {
		t.Fatal(err)
	}
	var deleted [][]string
	rows, err := tx.Query(ctx, `SELECT lineage FROM audit_log WHERE txid = txid_current() AND row_key = $1 AND action = 'delete' ORDER BY table_name`, village)
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err = pgx.CollectRows(rows, pgx.RowTo[[]string]); err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 2 || !slices.Equal(deleted[0], before) || !slices.Equal(deleted[1], before) {
		t.Errorf("village %s deleted: its regions and villages rows audited with lineages %v; want both %v", village, deleted, before)
	}
}

// TestAuditJSON: the JSON audit_rows writes of a row is to_jsonb of it,
// geometries included, for every row of every table it audits.
func TestAuditJSON(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	total := 0
	for _, table := range []string{"regions", "villages", "sites", "projects", "relocation_assignments", "users"} {
		var sql string
		if err := pool.QueryRow(ctx, `SELECT format('SELECT count(*), count(*) FILTER (WHERE to_jsonb(r) IS DISTINCT FROM %s) FROM %I r',
			audit_json($1::regclass), $1)`, table).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		var rows, differ int
		if err := pool.QueryRow(ctx, sql).Scan(&rows, &differ); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if differ != 0 {
			t.Errorf("%s: %d of %d rows written otherwise than to_jsonb", table, differ, rows)
		}
		total += rows
	}
	if total == 0 {
		t.Error("no rows to compare")
	}
}
