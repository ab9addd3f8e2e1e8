-- The map as of any moment.
--
-- 012 keeps every version of the map's rows. A read as of a moment must
-- also see the figures rolled up from them as they stood, computed by the
-- same definitions as today's: so the tables that refresh_rollups derives
-- (region_rollups, region_shapes, flows) keep their history too, by the
-- same trigger, in the same transaction as the change they follow. A
-- past figure is then the rollup row that held at the moment, made when
-- it held by the one definition there is, not recomputed by a second.
--
-- The schema as_of holds, for each table a read uses, a view of the same
-- name and columns over its history at the moment the session's setting
-- battlemap.at names (as_of_moment()), and the views of figures
-- (rollup_figures, region_figures) made again from their public
-- definitions over those. A connection whose search_path is "as_of,
-- public" therefore runs the very same SQL as any other read — the
-- collections' items, a feature, the drill-down, search, a tile — and
-- gets the map as of that moment (geo/asof.go opens such connections).
-- Functions a read calls that are written in SQL without a search_path of
-- their own (region_lineage, region_tree, counted_in) read the as_of
-- views too, for the same reason.
--
-- as_of_views() makes the schema's views; a migration that changes a
-- table or view listed there runs it again (a test compares them).

-- The history of the derived tables, as 012 keeps the others'. What they
-- held before this migration is their first version.
SELECT keep_history_of('region_rollups', ARRAY['code']);
SELECT keep_history_of('region_shapes', ARRAY['code']);
SELECT keep_history_of('flows', ARRAY['village_code', 'site_code']);

-- What the reads of the past look up: each index pairs what a read of
-- today's table filters on with the version's range, so that one index
-- scan finds the rows of the tile, box or parent that held at the moment.
CREATE INDEX region_rollups_history_village_gix ON region_rollups_history USING gist (point, valid) WHERE level = 'village';
CREATE INDEX region_rollups_history_county_gix ON region_rollups_history USING gist (point, valid) WHERE level = 'county';
CREATE INDEX region_rollups_history_township_gix ON region_rollups_history USING gist (point, valid) WHERE level = 'township';
CREATE INDEX region_rollups_history_label_gix ON region_rollups_history USING gist (point, valid) WHERE level IN ('county', 'township');
CREATE INDEX region_rollups_history_parent_idx ON region_rollups_history (parent_code, lower(valid));
CREATE INDEX region_rollups_history_county_idx ON region_rollups_history (county_code, lower(valid));
-- Where the history of the figures begins (history_span).
CREATE INDEX region_rollups_history_begins_idx ON region_rollups_history (lower(valid));
CREATE INDEX region_shapes_history_county_gix ON region_shapes_history USING gist (shape, valid) WHERE level = 'county';
CREATE INDEX region_shapes_history_township_gix ON region_shapes_history USING gist (shape, valid) WHERE level = 'township';
CREATE INDEX flows_history_geom_gix ON flows_history USING gist (geom, valid);
CREATE INDEX regions_history_parent_idx ON regions_history (parent_code, lower(valid));
CREATE INDEX regions_history_boundary_gix ON regions_history USING gist (boundary, valid);
CREATE INDEX regions_history_point_gix ON regions_history USING gist (point, valid);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'projects', 'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gist (geom, valid)', t || '_history_geom_gix', t || '_history');
        EXECUTE format('CREATE INDEX %I ON %I USING gist (ST_Transform(geom, 3857), valid)',
                       t || '_history_geom_3857_gix', t || '_history');
    END LOOP;
END
$$;

-- A change's audit rows say when it took effect (battlemap.valid_from, or
-- when it was made), which with its transaction finds the version it
-- made. Rows from before this migration have none: theirs is their time.
ALTER TABLE audit_log ADD COLUMN valid_from timestamptz;
ALTER TABLE audit_log
    ALTER COLUMN valid_from SET DEFAULT coalesce(nullif(current_setting('battlemap.valid_from', true), '')::timestamptz, now());
CREATE INDEX audit_log_txid_idx ON audit_log (txid);

-- as_of_moment is the moment the session reads the map as of: the
-- setting battlemap.at (a timestamptz), set for each connection that
-- reads as of (geo/asof.go). A session that never set it fails loudly
-- rather than reading some other time.
CREATE FUNCTION as_of_moment() RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
RETURN current_setting('battlemap.at')::timestamptz;

-- history_span is when the map's figures have a history: from the start
-- of the first version of a rollup to now; none before there is data.
CREATE FUNCTION history_span() RETURNS tstzrange LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tstzrange(min(lower(valid)), now(), '[]') FROM region_rollups_history HAVING count(*) > 0
$$;

CREATE SCHEMA as_of;
GRANT USAGE ON SCHEMA as_of TO battlemap_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA as_of GRANT SELECT ON TABLES TO battlemap_app;

-- as_of_views (re)makes the as_of schema: for each table with a history,
-- a view with the table's columns over the versions that held at
-- as_of_moment(); then the views of figures, from their public
-- definitions read again with as_of first in the search path, so that
-- they name the as_of views.
CREATE FUNCTION as_of_views() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t    text;
    defs text[];
    v    text;
BEGIN
    -- The figures' definitions, read while the public names are the
    -- visible ones, so that they print unqualified.
    PERFORM set_config('search_path', 'public', true);
    defs := ARRAY[pg_get_viewdef('public.rollup_figures'::regclass), pg_get_viewdef('public.region_figures'::regclass)];
    DROP VIEW IF EXISTS as_of.region_figures, as_of.rollup_figures;
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments',
                             'hazard_zones', 'roads', 'services', 'region_targets',
                             'region_rollups', 'region_shapes', 'flows'] LOOP
        EXECUTE format('DROP VIEW IF EXISTS as_of.%I', t);
        EXECUTE format('CREATE VIEW as_of.%I AS SELECT %s FROM public.%I WHERE valid @> as_of_moment()', t,
                       (SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
                        WHERE attrelid = format('public.%I', t)::regclass AND attnum > 0 AND NOT attisdropped),
                       t || '_history');
    END LOOP;
    PERFORM set_config('search_path', 'as_of, public', true);
    FOREACH v IN ARRAY ARRAY['rollup_figures', 'region_figures'] LOOP
        EXECUTE format('CREATE VIEW as_of.%I AS %s', v, defs[array_position(ARRAY['rollup_figures', 'region_figures'], v)]);
    END LOOP;
    PERFORM set_config('search_path', 'public', true);
END
$$;
REVOKE EXECUTE ON FUNCTION as_of_views() FROM PUBLIC;
SELECT as_of_views();

---- create above / drop below ----

DROP SCHEMA as_of CASCADE;
DROP FUNCTION as_of_views();
DROP FUNCTION history_span();
DROP FUNCTION as_of_moment();
DROP INDEX audit_log_txid_idx;
ALTER TABLE audit_log DROP COLUMN valid_from;
DROP INDEX regions_history_parent_idx, regions_history_boundary_gix, regions_history_point_gix;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'projects', 'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('DROP INDEX %I, %I', t || '_history_geom_gix', t || '_history_geom_3857_gix');
    END LOOP;
    FOREACH t IN ARRAY ARRAY['region_rollups', 'region_shapes', 'flows'] LOOP
        PERFORM drop_history_of(t);
    END LOOP;
END
$$;
