// Package migrations holds battlemap's schema as versioned SQL files,
// embedded in the binary and applied with jackc/tern at start.
//
// tern was chosen over goose because it speaks pgx natively (no
// database/sql bridge), reads migrations from an fs.FS, and takes an
// advisory lock while migrating, so several server instances starting at
// once against one database apply each migration exactly once.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

// files are the migrations, named NNN_what.sql; tern runs them in order.
//
//go:embed *.sql
var files embed.FS

// Files is the embedded migrations, for tools that fingerprint the schema.
func Files() fs.FS { return files }

// VersionTable is where tern records the schema version.
const VersionTable = "schema_version"

// MinPostGIS is the oldest PostGIS release battlemap runs on: ST_AsMVT's
// feature ids and ST_TileEnvelope arrived in 3.0.
const MinPostGIS = 30000

// ErrPostGISTooOld reports a PostGIS older than MinPostGIS.
var ErrPostGISTooOld = errors.New("PostGIS 3.0 or newer is required")

func newMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return nil, fmt.Errorf("migrations: load: %w", err)
	}
	return m, nil
}

// Up brings the database to the latest schema and checks that PostGIS is
// recent enough. It is safe to call concurrently from several processes.
//
// The migrations run without conn's statement_timeout, which is set to
// bound the server's requests: over a country's data a migration that
// builds an index takes longer than any request may, and a cut one would
// leave the server unable to start. conn's timeout is set back after.
// A superuser's session on a database another role owns runs them as
// that owner (asOwner), and is its own again after.
func Up(ctx context.Context, conn *pgx.Conn) (err error) {
	var timeout string
	if err := conn.QueryRow(ctx, `SELECT current_setting('statement_timeout'), set_config('statement_timeout', '0', false)`).Scan(&timeout, nil); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer func() {
		if _, reset := conn.Exec(ctx, `SELECT set_config('statement_timeout', $1, false)`, timeout); err == nil && reset != nil {
			err = fmt.Errorf("migrations: %w", reset)
		}
	}()
	owner, err := asOwner(ctx, conn)
	if err != nil {
		return err
	}
	if owner {
		defer func() {
			if _, reset := conn.Exec(ctx, `RESET ROLE`); err == nil && reset != nil {
				err = fmt.Errorf("migrations: %w", reset)
			}
		}()
	}
	m, err := newMigrator(ctx, conn)
	if err != nil {
		return err
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return checkPostGIS(ctx, conn)
}

// sqlOwner says whether the session is a superuser's on a database that
// another role, no superuser, owns, and names that owner.
const sqlOwner = `
SELECT u.rolsuper AND d.datdba <> u.oid AND NOT o.rolsuper, o.rolname
FROM pg_roles u, pg_database d JOIN pg_roles o ON o.oid = d.datdba
WHERE u.rolname = session_user AND d.datname = current_database()`

// asOwner makes conn's session, when a superuser's on a database that
// another role owns (battlemap's cluster gives its database to
// pgcluster.OwnerRole), act as that owner for the migrations, and says
// whether it did. What they create then belongs to the owner, like what
// they created before: the history's triggers, which run as the owner,
// can write the tables a later migration adds, and the server's role is
// granted them by their owner. PostGIS and its raster, which only a
// superuser may create, are created first, as the cluster does.
func asOwner(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var other bool
	var owner string
	if err := conn.QueryRow(ctx, sqlOwner).Scan(&other, &owner); err != nil {
		return false, fmt.Errorf("migrations: owner: %w", err)
	}
	if !other {
		return false, nil
	}
	for _, sql := range []string{`CREATE EXTENSION IF NOT EXISTS postgis`, `CREATE EXTENSION IF NOT EXISTS postgis_raster`,
		`SET ROLE ` + pgx.Identifier{owner}.Sanitize()} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return false, fmt.Errorf("migrations: %s: %w", sql, err)
		}
	}
	return true, nil
}

// Latest is the version the embedded migrations bring a database to.
func Latest() (int32, error) {
	names, err := migrate.FindMigrations(files)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	return int32(len(names)), nil
}

// Current reports the schema version recorded in the database without
// writing anything (it serves readiness probes, also on read replicas);
// 0 means no migration has run.
func Current(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int32, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, VersionTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("migrations: current version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int32
	if err := db.QueryRow(ctx, `SELECT version FROM `+VersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("migrations: current version: %w", err)
	}
	return v, nil
}

func checkPostGIS(ctx context.Context, conn *pgx.Conn) error {
	var num int
	var full string
	err := conn.QueryRow(ctx, `SELECT postgis_lib_version(),
		(string_to_array(postgis_lib_version(), '.')::int[])[1] * 10000 +
		(string_to_array(postgis_lib_version(), '.')::int[])[2] * 100`).Scan(&full, &num)
	if err != nil {
		return fmt.Errorf("migrations: PostGIS version: %w", err)
	}
	if num < MinPostGIS {
		return fmt.Errorf("%w, found %s", ErrPostGISTooOld, full)
	}
	return nil
}
