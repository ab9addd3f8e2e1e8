-- Accounts, scope and the audit of every row.
--
-- Who may change what is the database's to enforce, not only the
-- handlers': every write of map data runs under battlemap_app (or the
-- owner), with row-level security forced, in a transaction whose actor and
-- scope geo.Change sets with set_config(…, true). A county user's scope is
-- a list of county codes; an admin's and the command line tools' is '*';
-- a viewer's, or a session that set none, is empty and may write nothing.
-- A superuser bypasses all of it, as PostgreSQL makes it.
--
-- Every changed row appends its audit row, in the same statement, from
-- triggers that read the transaction's actor (or, for a change made
-- straight in SQL, name the database role): no write path can skip it.

-- users: who may sign in, and what they may change.
CREATE TABLE users (
    name        text PRIMARY KEY CONSTRAINT users_name_form CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role        text NOT NULL CONSTRAINT users_role_known CHECK (role IN ('admin', 'county', 'viewer')),
    -- The counties a county user may change; none for the other roles.
    counties    text[] NOT NULL DEFAULT '{}' CONSTRAINT users_counties_codes
                    CHECK (array_to_string(counties, ',') ~ '^([0-9]{6}(,[0-9]{6})*)?$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    CONSTRAINT users_counties_iff_county CHECK ((role = 'county') = (cardinality(counties) > 0))
);

-- credentials: API tokens (made by `battlemap token create`) and the
-- sessions of the login page. The secret is never stored: hash is its
-- argon2id digest in PHC form; id is the public half that finds the row.
CREATE TABLE credentials (
    id         text PRIMARY KEY CONSTRAINT credentials_id_form CHECK (id ~ '^[0-9a-f]{16}$'),
    user_name  text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind       text NOT NULL CONSTRAINT credentials_kind_known CHECK (kind IN ('token', 'session')),
    hash       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE INDEX credentials_user_idx ON credentials (user_name);

-- The server reads accounts and keeps sessions; only the owner (the
-- command line) creates users and tokens.
REVOKE INSERT, UPDATE, DELETE ON users FROM battlemap_app;
REVOKE UPDATE ON credentials FROM battlemap_app;

-- may_write says whether the transaction's scope covers county: '*'
-- covers everything, a list of codes those counties.
CREATE FUNCTION may_write(county text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('battlemap.scope', true) = '*'
                    OR county = ANY (string_to_array(current_setting('battlemap.scope', true), ',')), false)
$$;

-- may_write_under says whether the scope covers a region whose parent is
-- parent: one of the parent's ancestors (or the parent) is a county in
-- scope. So a county user may change the townships and villages of the
-- county, never the county itself, nor move a village out of it.
CREATE FUNCTION may_write_under(parent text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('battlemap.scope', true) = '*'
                    OR region_lineage(parent) && string_to_array(current_setting('battlemap.scope', true), ','), false)
$$;

-- Row-level security: everyone who may connect reads every row (reads
-- are scoped, when they are, by the server's sign-in); writes only
-- within scope. Forced, so the owner is held too. A row outside the scope
-- is invisible to UPDATE and DELETE, and a new or changed row that leaves
-- it is refused (SQLSTATE 42501).
-- regions: a county user may change the townships and villages of the
-- county. An assignment moves people of a village to a site: it belongs
-- to both counties, and a county user may change it only when both are
-- theirs.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('regions', 'may_write_under(parent_code)'),
        ('villages', 'may_write(county_code)'),
        ('sites', 'may_write(county_code)'),
        ('projects', 'may_write(county_code)'),
        ('relocation_assignments', 'may_write((SELECT county_code FROM villages WHERE code = village_code))
            AND may_write((SELECT county_code FROM sites WHERE code = site_code))')) v (tbl, allowed)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t.tbl || '_read', t.tbl);
        EXECUTE format('CREATE POLICY %I ON %I USING (%s) WITH CHECK (%s)', t.tbl || '_write', t.tbl, t.allowed, t.allowed);
    END LOOP;
END
$$;

-- The people assigned to move out of a village are at most its
-- population: checked after each statement that changes either, over the
-- villages it touched.
CREATE FUNCTION assignments_within_population() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad text;
BEGIN
    IF TG_TABLE_NAME = 'villages' THEN
        SELECT v.code INTO bad FROM new_rows v
        WHERE v.population < (SELECT coalesce(sum(a.people), 0) FROM relocation_assignments a WHERE a.village_code = v.code)
        LIMIT 1;
    ELSE
        SELECT v.code INTO bad FROM villages v
        WHERE v.code IN (SELECT village_code FROM new_rows)
          AND v.population < (SELECT sum(a.people) FROM relocation_assignments a WHERE a.village_code = v.code)
        LIMIT 1;
    END IF;
    IF bad IS NOT NULL THEN
        RAISE check_violation USING
            MESSAGE = format('the people assigned to move out of village %s exceed its population', bad),
            TABLE = 'relocation_assignments', CONSTRAINT = 'relocation_assignments_people_within_population';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER relocation_assignments_within_population_ins AFTER INSERT ON relocation_assignments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION assignments_within_population();
CREATE TRIGGER relocation_assignments_within_population_upd AFTER UPDATE ON relocation_assignments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION assignments_within_population();
CREATE TRIGGER villages_within_population AFTER UPDATE ON villages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION assignments_within_population();

-- The audit log gains, per row: the database role of the session that
-- made the change, the change's transaction (the rows of one edit or one
-- import share it), and where the row lies: the lineage of its region
-- from the top down, when the change was made, which the audit's region
-- filter matches.
ALTER TABLE audit_log
    ADD COLUMN db_role text NOT NULL DEFAULT session_user,
    ADD COLUMN txid bigint NOT NULL DEFAULT txid_current(),
    ADD COLUMN lineage text[];
CREATE INDEX audit_log_lineage_gix ON audit_log USING gin (lineage);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_row_idx ON audit_log (table_name, row_key, id);

-- create_statement_triggers makes the AFTER INSERT, UPDATE and DELETE
-- statement triggers of table tbl named tbl_name_ins, _upd and _del,
-- which run fn(args) with the statement's transition tables (new_rows,
-- old_rows); drop_statement_triggers drops them. Triggers that follow
-- every changed row of the map tables are made this way.
CREATE FUNCTION create_statement_triggers(tbl text, name text, fn text, args text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a text := (SELECT string_agg(quote_literal(x), ', ') FROM unnest(args) x);
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION %I(%s)', tbl || '_' || name || '_ins', tbl, fn, a);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION %I(%s)', tbl || '_' || name || '_upd', tbl, fn, a);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION %I(%s)', tbl || '_' || name || '_del', tbl, fn, a);
END
$$;

CREATE FUNCTION drop_statement_triggers(tbl text, name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_' || name || '_ins', tbl);
    EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_' || name || '_upd', tbl);
    EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_' || name || '_del', tbl);
END
$$;
-- They are the migrations' tools: nobody else runs them.
REVOKE EXECUTE ON FUNCTION create_statement_triggers(text, text, text, text[]), drop_statement_triggers(text, text) FROM PUBLIC;

-- audit_rows appends an audit row for each row a statement changed, with
-- the fields that changed, old and new (whole rows for an insert or a
-- delete); a row updated to what it was writes nothing. TG_ARGV[0] is the
-- SQL of a row's key over the transition row r, TG_ARGV[1] that of its
-- region's code. It runs after the data version trigger (triggers of a
-- kind fire in name order: "…_data_version" before "…_row_audit"), so
-- the version it records is the one the change moved to.
CREATE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := coalesce(nullif(current_setting('battlemap.actor', true), ''), session_user);
    action text := lower(TG_OP);
    old_sql text := 'SELECT NULL::text AS k, NULL::text AS region, NULL::jsonb AS j WHERE false';
    new_sql text := old_sql;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_sql := format('SELECT %s AS k, %s AS region, to_jsonb(r) AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        new_sql := format('SELECT %s AS k, %s AS region, to_jsonb(r) AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1]);
    END IF;
    EXECUTE format($f$
        INSERT INTO audit_log (actor, action, table_name, row_key, before, after, data_version, lineage)
        SELECT $1, $2, $3, coalesce(n.k, o.k), d.before, d.after,
               (SELECT version FROM data_version), region_lineage(coalesce(n.region, o.region))
        FROM (%s) o FULL JOIN (%s) n ON n.k = o.k,
        LATERAL (
            SELECT CASE WHEN o.j IS NULL OR n.j IS NULL THEN o.j
                        ELSE (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(o.j) e
                              WHERE e.value IS DISTINCT FROM n.j -> e.key) END AS before,
                   CASE WHEN o.j IS NULL OR n.j IS NULL THEN n.j
                        ELSE (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(n.j) e
                              WHERE e.value IS DISTINCT FROM o.j -> e.key) END AS after
        ) d
        WHERE o.j IS NULL OR n.j IS NULL OR o.j IS DISTINCT FROM n.j
        ORDER BY coalesce(n.k, o.k) COLLATE "C"$f$, old_sql, new_sql)
    USING actor, action, TG_TABLE_NAME;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('regions', 'r.code', 'r.code'),
        ('villages', 'r.code', 'r.code'),
        ('sites', 'r.code', 'coalesce(r.township_code, r.county_code)'),
        ('projects', 'r.code', 'coalesce(r.village_code, r.county_code)'),
        ('relocation_assignments', 'r.village_code || ''~'' || r.site_code', 'r.village_code'),
        ('users', 'r.name', 'NULL::text')) v (tbl, key_sql, region_sql)
    LOOP
        PERFORM create_statement_triggers(t.tbl, 'row_audit', 'audit_rows', ARRAY[t.key_sql, t.region_sql]);
    END LOOP;
END
$$;

---- create above / drop below ----

SELECT drop_statement_triggers(t, 'row_audit')
FROM unnest(ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments', 'users']) t;
DROP FUNCTION audit_rows();
DROP FUNCTION drop_statement_triggers(text, text);
DROP FUNCTION create_statement_triggers(text, text, text, text[]);
ALTER TABLE audit_log DROP COLUMN lineage, DROP COLUMN txid, DROP COLUMN db_role;
DROP TRIGGER villages_within_population ON villages;
DROP TRIGGER relocation_assignments_within_population_upd ON relocation_assignments;
DROP TRIGGER relocation_assignments_within_population_ins ON relocation_assignments;
DROP FUNCTION assignments_within_population();
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments'] LOOP
        EXECUTE format('DROP POLICY %I ON %I', t || '_write', t);
        EXECUTE format('DROP POLICY %I ON %I', t || '_read', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
DROP FUNCTION may_write_under(text);
DROP FUNCTION may_write(text);
DROP TABLE credentials;
DROP TABLE users;
