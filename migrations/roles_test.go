package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestAppRolePrivileges runs statements as the server's role
// (pgcluster.AppRole, granted its rights by 004_roles): it reads and
// writes the map's rows, but cannot rewrite the audit log, move the
// schema version or change the schema.
func TestAppRolePrivileges(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		sql     string
		allowed bool
	}{
		{"read villages", `SELECT count(*) FROM villages`, true},
		{"read the rollups through their view", `SELECT count(*) FROM region_figures`, true},
		{"update a village, its rollups following", `UPDATE villages SET population = population WHERE code = '520304116203'`, true},
		{"read the audit log", `SELECT count(*) FROM audit_log`, true},
		{"read the terrain", `SELECT count(*) FROM terrain_at(ST_SetSRID(ST_MakePoint(106.93, 27.72), 4326)) WHERE elevation > 0 AND slope >= 0`, true},
		{"read the service points", `SELECT count(*) FROM service_points`, true},
		{"gather the statistics of what a bulk load wrote", `SELECT analyze_loaded()`, true},
		{"add terrain without the whole scope", `INSERT INTO terrain SELECT rid + 1000, rast FROM terrain LIMIT 1`, false},
		{"drop the raster extension", `DROP EXTENSION postgis_raster CASCADE`, false},
		{"rewrite the audit log", `DELETE FROM audit_log`, false},
		{"move the schema version", `UPDATE schema_version SET version = 0`, false},
		{"empty a table", `TRUNCATE projects`, false},
		{"change the schema", `ALTER TABLE villages ADD COLUMN intruder int`, false},
		{"create a table", `CREATE TABLE intruder (v int)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+pgcluster.AppRole); err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			denied := errors.As(err, &pgErr) && pgErr.Code == "42501"
			switch {
			case tt.allowed && err != nil:
				t.Errorf("got %v, want it allowed", err)
			case !tt.allowed && !denied:
				t.Errorf("got %v, want permission denied (42501)", err)
			}
		})
	}
}
