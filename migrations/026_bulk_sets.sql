-- Bulk loads, set by set: what a statement of a national load (600,000
-- rows) still paid row by row.
--
-- The audit's lineage. audit_rows (005) asked region_lineage for every
-- row it wrote, a recursive query each: some 35 µs a row, 40 seconds of
-- a country's villages (their regions rows, then their villages rows).
-- region_lineages answers for a set of regions at once: a region's
-- lineage is its parent's with its own code after it, and the rows of a
-- statement share few parents (a country's 600,000 villages, 40,000
-- townships), each looked up once. And it wrote each row as to_jsonb(r),
-- whose geometries PostGIS turns into GeoJSON with their CRS named, which
-- it looks up in spatial_ref_sys by a query of its own, parsed and
-- planned for every geometry: 47 µs a village's point, half a minute of
-- a country's. audit_geometry makes the same JSON from ST_AsGeoJSON and
-- one planned look-up, and audit_rows builds each row's JSON from its
-- columns (audit_json), geometries through it. The audit rows are the
-- same, written in the same order.
--
-- Where a region lies. lies_within (020) asked of an area ST_Covers
-- first, then the area of what lies outside: a region drawn against its
-- parent shares stretches of its border, so ST_Covers found the borders
-- touching and fell back to a full relate every time, and for half of a
-- country's townships (drawn at another scale, a little over the line)
-- the difference was computed after it anyway: 150 seconds of a national
-- check. An area covered has nothing outside it, so the area outside
-- alone says the same, in half the time. Points and lines are tested as
-- they were. And misplaced_features asked ST_IsValid again of every
-- feature the importer had just found valid (9 seconds of a country's
-- regions): it now takes, for each feature, whether its shape is known to
-- be valid (NULL: not known, and it asks, as for an edit's feature).
--
-- The planner's statistics. A load fills tables whose statistics say
-- they are empty, or a tenth of what they now hold, until autovacuum
-- looks at them after the commit; the statements the load runs before
-- it then plan with guesses. registry_transition, run at commit for each
-- region that enters the registry, looked up its figures in
-- region_rollups_history by code and moment, and with no statistics the
-- planner ANDed the index on the moment, which every row of the load
-- matches: 14 ms a region, 83 seconds for a country's 6,000 poverty
-- counties and townships. analyze_loaded gathers, within the load's
-- transaction, the statistics of the columns the load's later
-- statements look rows up by (the whole tables would take seconds more,
-- for their geometries and indexes on expressions); ANALYZE needs the
-- tables' owner, which the function runs as.

-- region_lineages is region_lineage of each region of codes that exists,
-- by code (a code given twice answers once).
CREATE FUNCTION region_lineages(codes text[]) RETURNS TABLE (code text, lineage text[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH here AS MATERIALIZED (
        SELECT r.code, r.parent_code FROM (SELECT DISTINCT c FROM unnest(codes) c) c JOIN regions r ON r.code = c.c
    ), above AS MATERIALIZED (
        SELECT p.code, region_lineage(p.code) AS lineage
        FROM (SELECT DISTINCT parent_code FROM here WHERE parent_code IS NOT NULL) p (code)
    )
    -- A parent missing ends the path, as region_lineage's walk up ends.
    SELECT h.code, coalesce(a.lineage, '{}') || h.code FROM here h LEFT JOIN above a ON a.code = h.parent_code
$$;

-- audit_geometry is to_jsonb(g): GeoJSON with 15 digits, and for a
-- known SRID the CRS by its short name, as PostGIS's cast writes it.
CREATE FUNCTION audit_geometry(g geometry) RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE
RETURN ST_AsGeoJSON(g, 15, 0)::jsonb || coalesce((
    SELECT jsonb_build_object('crs', jsonb_build_object('type', 'name', 'properties',
                                                        jsonb_build_object('name', s.auth_name || ':' || s.auth_srid)))
    FROM spatial_ref_sys s WHERE s.srid = ST_SRID(g) AND ST_SRID(g) <> 0), '{}');

-- audit_json is the SQL of to_jsonb(r) for a row r of tbl, its
-- geometries made by audit_geometry.
CREATE FUNCTION audit_json(tbl regclass) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('jsonb_build_object(%s)', string_agg(format('%L, %s', a.attname,
               CASE WHEN a.atttypid = 'geometry'::regtype THEN format('audit_geometry(r.%I)', a.attname)
                    ELSE format('r.%I', a.attname) END), ', ' ORDER BY a.attnum))
    FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
$$;

CREATE OR REPLACE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := coalesce(nullif(current_setting('battlemap.actor', true), ''), session_user);
    action text := lower(TG_OP);
    j text := audit_json(TG_RELID);
    old_sql text := 'SELECT NULL::text AS k, NULL::text AS region, NULL::jsonb AS j WHERE false';
    new_sql text := old_sql;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_sql := format('SELECT %s AS k, %s AS region, %s AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1], j);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        new_sql := format('SELECT %s AS k, %s AS region, %s AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1], j);
    END IF;
    EXECUTE format($f$
        INSERT INTO audit_log (actor, action, table_name, row_key, before, after, data_version, lineage)
        SELECT $1, $2, $3, coalesce(n.k, o.k), d.before, d.after, (SELECT version FROM data_version), l.lineage
        FROM (%1$s) o FULL JOIN (%2$s) n ON n.k = o.k
        LEFT JOIN region_lineages(ARRAY(SELECT region FROM (%1$s) o UNION ALL SELECT region FROM (%2$s) n)) l
            ON l.code = coalesce(n.region, o.region),
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


CREATE OR REPLACE FUNCTION lies_within(g geometry, holder geometry) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN holder IS NULL OR CASE ST_Dimension(g)
    WHEN 2 THEN ST_Area(ST_Difference(g, holder)) <= 0.01 * ST_Area(g)
    ELSE ST_Covers(holder, g) OR ST_DWithin(holder, g, 0.01) END;

CREATE FUNCTION analyze_loaded() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    ANALYZE regions (code, parent_code, level), villages (code, township_code, county_code),
            regions_history (code), villages_history (code),
            region_rollups (code, county_code), region_rollups_history (code);
END
$$;
REVOKE EXECUTE ON FUNCTION analyze_loaded() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_loaded() TO battlemap_app;

DROP FUNCTION misplaced_features(text[], text[], text[], bytea[]);
CREATE FUNCTION misplaced_features(codes text[], levels text[], holders text[], wkbs bytea[], valid boolean[])
RETURNS TABLE (i integer, field text, reason text) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH f AS MATERIALIZED (
        SELECT u.i::int AS i, u.code, u.level, u.holder, ST_GeomFromWKB(u.b, 4326) AS g, u.valid
        FROM unnest(codes, levels, holders, wkbs, valid) WITH ORDINALITY u (code, level, holder, b, valid, i)
    ), named AS (
        SELECT DISTINCT holder AS code FROM f WHERE holder IS NOT NULL
    ), h AS MATERIALIZED (
        SELECT DISTINCT ON (k.code) k.code, k.level, k.parent_code, k.boundary
        FROM (SELECT f.code, f.level, f.holder AS parent_code, f.g AS boundary, 0 AS pick
              FROM f WHERE f.level IS NOT NULL AND f.code IN (SELECT code FROM named)
              UNION ALL
              SELECT r.code, r.level, r.parent_code, r.boundary, 1
              FROM regions r WHERE r.code IN (SELECT code FROM named)) k
        ORDER BY k.code, k.pick
    ), c AS (
        SELECT h.code, h.level,
               coalesce(p.code, h.code) AS holding, coalesce(p.level, h.level) AS holding_level,
               CASE WHEN h.level = 'township' THEN p.boundary ELSE h.boundary END AS boundary
        FROM h LEFT JOIN regions p ON h.level = 'township' AND p.code = h.parent_code
    )
    SELECT f.i, 'parent_code', format('required: a %s lies in a %s', f.level, parent_level_of(f.level))
    FROM f WHERE f.level IS NOT NULL AND f.holder IS NULL AND NOT above_counties(f.level)
    UNION ALL
    SELECT f.i, 'parent_code',
           CASE WHEN c.code IS NULL THEN format('no region with code %s, in the database or the file', f.holder)
                WHEN parent_level_of(f.level) IS NULL THEN format('a %s has no parent, got %s', f.level, f.holder)
                ELSE format('%s is a %s, and a %s lies in a %s', f.holder, c.level, f.level, parent_level_of(f.level)) END
    FROM f LEFT JOIN c ON c.code = f.holder
    WHERE f.level IS NOT NULL AND f.holder IS NOT NULL AND c.level IS DISTINCT FROM parent_level_of(f.level)
    UNION ALL
    SELECT f.i, 'geometry',
           format('lies outside %s %s, which holds it (beyond the tolerance: 0.01° for a point or a line, 1%% of an area)',
                  c.holding_level, c.holding)
    FROM f JOIN c ON c.code = f.holder
    WHERE (f.level IS NULL OR c.level = parent_level_of(f.level)) AND coalesce(f.valid, ST_IsValid(f.g)) AND NOT lies_within(f.g, c.boundary)
    ORDER BY 1
$$;

---- create above / drop below ----
DROP FUNCTION misplaced_features(text[], text[], text[], bytea[], boolean[]);
CREATE FUNCTION misplaced_features(codes text[], levels text[], holders text[], wkbs bytea[])
RETURNS TABLE (i integer, field text, reason text) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH f AS MATERIALIZED (
        SELECT u.i::int AS i, u.code, u.level, u.holder, ST_GeomFromWKB(u.b, 4326) AS g
        FROM unnest(codes, levels, holders, wkbs) WITH ORDINALITY u (code, level, holder, b, i)
    ), named AS (
        SELECT DISTINCT holder AS code FROM f WHERE holder IS NOT NULL
    ), h AS MATERIALIZED (
        SELECT DISTINCT ON (k.code) k.code, k.level, k.parent_code, k.boundary
        FROM (SELECT f.code, f.level, f.holder AS parent_code, f.g AS boundary, 0 AS pick
              FROM f WHERE f.level IS NOT NULL AND f.code IN (SELECT code FROM named)
              UNION ALL
              SELECT r.code, r.level, r.parent_code, r.boundary, 1
              FROM regions r WHERE r.code IN (SELECT code FROM named)) k
        ORDER BY k.code, k.pick
    ), c AS (
        SELECT h.code, h.level,
               coalesce(p.code, h.code) AS holding, coalesce(p.level, h.level) AS holding_level,
               CASE WHEN h.level = 'township' THEN p.boundary ELSE h.boundary END AS boundary
        FROM h LEFT JOIN regions p ON h.level = 'township' AND p.code = h.parent_code
    )
    SELECT f.i, 'parent_code', format('required: a %s lies in a %s', f.level, parent_level_of(f.level))
    FROM f WHERE f.level IS NOT NULL AND f.holder IS NULL AND NOT above_counties(f.level)
    UNION ALL
    SELECT f.i, 'parent_code',
           CASE WHEN c.code IS NULL THEN format('no region with code %s, in the database or the file', f.holder)
                WHEN parent_level_of(f.level) IS NULL THEN format('a %s has no parent, got %s', f.level, f.holder)
                ELSE format('%s is a %s, and a %s lies in a %s', f.holder, c.level, f.level, parent_level_of(f.level)) END
    FROM f LEFT JOIN c ON c.code = f.holder
    WHERE f.level IS NOT NULL AND f.holder IS NOT NULL AND c.level IS DISTINCT FROM parent_level_of(f.level)
    UNION ALL
    SELECT f.i, 'geometry',
           format('lies outside %s %s, which holds it (beyond the tolerance: 0.01° for a point or a line, 1%% of an area)',
                  c.holding_level, c.holding)
    FROM f JOIN c ON c.code = f.holder
    WHERE (f.level IS NULL OR c.level = parent_level_of(f.level)) AND ST_IsValid(f.g) AND NOT lies_within(f.g, c.boundary)
    ORDER BY 1
$$;

DROP FUNCTION analyze_loaded();
CREATE OR REPLACE FUNCTION lies_within(g geometry, holder geometry) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN holder IS NULL OR ST_Covers(holder, g) OR CASE ST_Dimension(g)
    WHEN 2 THEN ST_Area(ST_Difference(g, holder)) <= 0.01 * ST_Area(g)
    ELSE ST_DWithin(holder, g, 0.01) END;

CREATE OR REPLACE FUNCTION audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION audit_json(regclass);
DROP FUNCTION audit_geometry(geometry);
DROP FUNCTION region_lineages(text[]);
