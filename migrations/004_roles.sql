-- Roles: battlemap's server runs as battlemap_app, which owns nothing and
-- may only read and write the map's rows, so that row-level security
-- applies to it (an owner escapes a policy unless the table forces it; a
-- superuser always does) and nothing it runs can change the schema.
-- Roles belong to the cluster, not to a database: the embedded cluster
-- creates battlemap_owner and battlemap_app when it starts (geo/pgcluster);
-- with DATABASE_URL the operator creates them first (README, "Running it
-- safely"). The migrations run as the owner.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'battlemap_app') THEN
        RAISE EXCEPTION 'role battlemap_app does not exist'
            USING HINT = 'Create it first: CREATE ROLE battlemap_app LOGIN (see README, "Running it safely").';
    END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO battlemap_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO battlemap_app;
-- The audit log is append-only (its trigger refuses rewrites; this says
-- so in the grants too), and the schema version is the migrations' own.
REVOKE UPDATE, DELETE ON audit_log FROM battlemap_app;
REVOKE INSERT, UPDATE, DELETE ON schema_version FROM battlemap_app;
-- Tables and sequences later migrations create, as the same role, come
-- with the same rights; a migration that wants less says so.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO battlemap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO battlemap_app;

---- create above / drop below ----

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM battlemap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM battlemap_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM battlemap_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM battlemap_app;
