package pgcluster

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// OwnerRole owns the battlemap database, its public schema and every
// object battlemap's migrations create; battlemap migrates as this role.
// It is no superuser and may create neither roles nor databases.
const OwnerRole = "battlemap_owner"

// AppRole is the role battlemap serve's sessions run as. It owns nothing:
// it may read and write the map's tables (migrations/004_roles.sql grants
// exactly that), so row-level security applies to it even where a table
// does not force it, and a bug or an injected statement cannot change the
// schema, read files or bypass a policy.
const AppRole = "battlemap_app"

// sqlHandover lists the ALTER … OWNER statements that hand the objects of
// the public schema still owned by role $1 over to role $2: clusters made
// before battlemap had roles kept their tables under the superuser.
// Members of extensions (PostGIS) stay where they are, and so do
// sequences that belong to a column: they follow their table.
const sqlHandover = `
SELECT format('ALTER %s %s OWNER TO %I', kind, name, $2::text) FROM (
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                          WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind,
           c.oid::regclass::text AS name
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = $1::text::regrole
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
    UNION ALL
    SELECT 'ROUTINE', p.oid::regprocedure::text
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = $1::text::regrole
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
) o`

// ensureRoles creates OwnerRole and AppRole unless they exist, makes sure
// neither is a superuser, gives the battlemap database to OwnerRole, and
// creates PostGIS and PostGIS raster in it, which only a superuser may
// (neither is a trusted extension), so that the migrations' CREATE
// EXTENSION IF NOT EXISTS finds them there. Roles are cluster-wide, so
// they are made here, where the cluster is; the grants are per database
// and live in the migrations.
func (c *Cluster) ensureRoles(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return fmt.Errorf("pgcluster: roles: %w", err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgcluster: roles: %w", err)
	}
	defer tx.Rollback(ctx)
	owner := pgx.Identifier{OwnerRole}.Sanitize()
	stmts := []string{}
	for _, role := range []string{OwnerRole, AppRole} {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
			return fmt.Errorf("pgcluster: roles: %w", err)
		}
		r := pgx.Identifier{role}.Sanitize()
		if !exists {
			stmts = append(stmts, "CREATE ROLE "+r+" LOGIN")
			c.log.Info("creating database role", slog.String("role", role))
		}
		stmts = append(stmts, "ALTER ROLE "+r+" NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
	}
	stmts = append(stmts,
		"ALTER DATABASE "+pgx.Identifier{Database}.Sanitize()+" OWNER TO "+owner,
		"CREATE EXTENSION IF NOT EXISTS postgis",
		"CREATE EXTENSION IF NOT EXISTS postgis_raster",
		// PostgreSQL 15 no longer lets everyone create in public; a
		// cluster made by an older initdb would.
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	for _, sql := range stmts {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("pgcluster: roles: %s: %w", sql, err)
		}
	}
	rows, err := tx.Query(ctx, sqlHandover, Superuser, OwnerRole)
	if err != nil {
		return fmt.Errorf("pgcluster: roles: %w", err)
	}
	alters, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("pgcluster: roles: %w", err)
	}
	for _, sql := range alters {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("pgcluster: roles: %s: %w", sql, err)
		}
	}
	if len(alters) > 0 {
		c.log.Warn("handed the schema's objects over from the superuser to the owner role",
			slog.Int("objects", len(alters)), slog.String("role", OwnerRole))
	}
	return tx.Commit(ctx)
}
