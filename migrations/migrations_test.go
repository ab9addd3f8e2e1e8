package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func up(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if err := migrations.Up(ctx, conn.Conn()); err != nil {
		t.Fatalf("Up: %v", err)
	}
}

// TestUpFromEmpty migrates an empty database, twice (the second run must
// change nothing), and checks the version, the tables and the spatial
// indexes.
func TestUpFromEmpty(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewEmpty(t)
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
	for _, table := range []string{"regions", "villages", "sites", "relocation_assignments", "projects", "audit_log", "data_version"} {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing (%v)", table, err)
		}
	}
	for _, idx := range []string{"regions_boundary_gix", "regions_point_gix", "sites_geom_gix", "projects_geom_gix"} {
		var method string
		err := pool.QueryRow(ctx, `SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = $1`, idx).Scan(&method)
		if err != nil || method != "gist" {
			t.Errorf("index %s: got %q (%v), want a gist index", idx, method, err)
		}
	}
	var triggers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\_rollups\_%'`).Scan(&triggers); err != nil || triggers != 20 {
		t.Errorf("rollup triggers: %d (%v), want 20 (insert, update, delete, truncate on five tables)", triggers, err)
	}
	var srid int
	if err := pool.QueryRow(ctx, `SELECT srid FROM geometry_columns WHERE f_table_name = 'regions' AND f_geometry_column = 'point'`).Scan(&srid); err != nil || srid != 4326 {
		t.Errorf("regions.point SRID = %d (%v), want 4326", srid, err)
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
		{"village under the wrong township", `INSERT INTO regions (code, name, level, parent_code, point) VALUES ('520304116999', 'x', 'village', '520322002', ST_Point(107, 27.5, 4326))`, "regions_parent_matches_level"},
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
	for _, sql := range []string{`UPDATE audit_log SET actor = 'someone else'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: got nil error, want refusal", sql)
		}
	}
}

// TestDataVersionMoves checks that a committed change to map data moves
// the data version and announces it, and that a rolled-back one does not.
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
	listener, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Release()
	if _, err := listener.Exec(ctx, `LISTEN battlemap_data_version`); err != nil {
		t.Fatal(err)
	}

	before := version()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
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
	n, err := listener.Conn().WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Payload == "" {
		t.Errorf("notification payload empty, want the new version")
	}
}
