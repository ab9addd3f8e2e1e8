-- Rollups: per-region figures (villages by status, poor people, sites,
-- projects, funds, relocation) and tile-ready geometry in Web Mercator,
-- kept up to date inside the transaction that changes the data. Tiles at
-- city zoom read one row per county from here instead of aggregating
-- villages per request, so their cost does not grow with the data.
--
-- A change is re-aggregated per city (prefecture): an edit anywhere
-- recomputes the rows of its city only, a few thousand villages at most,
-- however large the whole data set grows.

CREATE TABLE region_rollups (
    code                    text PRIMARY KEY,
    level                   text NOT NULL,
    parent_code             text,
    name                    text NOT NULL,
    poverty_status          text NOT NULL,
    exit_year               smallint,
    demonstration           boolean NOT NULL,
    point                   geometry(Point, 3857) NOT NULL, -- EPSG:3857, the tiles' projection
    villages                integer NOT NULL,
    villages_not_exited     integer NOT NULL,
    villages_exited         integer NOT NULL,
    villages_demonstration  integer NOT NULL,
    population              bigint NOT NULL,
    poor_households         bigint NOT NULL,
    poor_population         bigint NOT NULL,
    cooperatives            bigint NOT NULL,
    relocation_households   bigint NOT NULL, -- assigned to move out of this region
    relocation_people       bigint NOT NULL,
    sites                   integer NOT NULL, -- relocation sites in this region
    site_capacity_people    bigint NOT NULL,
    site_moved_in_people    bigint NOT NULL,
    site_progress_avg       real,
    projects                integer NOT NULL,
    projects_completed      integer NOT NULL,
    completion_avg          real,
    funds_planned           bigint NOT NULL,
    funds_disbursed         bigint NOT NULL
);
-- One spatial index per level drawn: a tile query names its level, which
-- selects the index.
CREATE INDEX region_rollups_village_point_gix ON region_rollups USING gist (point) WHERE level = 'village';
CREATE INDEX region_rollups_county_point_gix ON region_rollups USING gist (point) WHERE level = 'county';
CREATE INDEX region_rollups_township_point_gix ON region_rollups USING gist (point) WHERE level = 'township';
CREATE INDEX region_rollups_label_point_gix ON region_rollups USING gist (point) WHERE level IN ('county', 'township');
CREATE INDEX region_rollups_parent_idx ON region_rollups (parent_code);
CREATE INDEX region_rollups_city_idx ON region_rollups (left(code, 4));

-- short_name is how people say a village's name: without the committee
-- suffix of its official name (花茂村村民委员会 → 花茂村).
CREATE FUNCTION short_name(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(name, '(村民委员会|居民委员会|村委会|居委会)$', '');

-- region_figures: the rollups with the ratios every reader shows, defined
-- once here for tiles and the drill-down alike.
CREATE VIEW region_figures AS
SELECT r.*,
       CASE WHEN r.villages_not_exited + r.villages_exited > 0
            THEN round(r.villages_exited::numeric / (r.villages_not_exited + r.villages_exited), 4)::float8
       END AS share_exited,
       CASE WHEN r.population > 0 THEN round(r.poor_population::numeric / r.population, 4)::float8 END AS poverty_incidence
FROM region_rollups r;

-- region_shapes: each region's boundary in EPSG:3857, three times,
-- simplified for each zoom band (tolerances well under a pixel at the
-- band's largest zoom). Kept apart from the figures because simplifying
-- is the costly part and only a change to regions calls for it.
CREATE TABLE region_shapes (
    code      text PRIMARY KEY,
    level     text NOT NULL,
    shape_z7  geometry(MultiPolygon, 3857) NOT NULL,
    shape_z10 geometry(MultiPolygon, 3857) NOT NULL,
    shape     geometry(MultiPolygon, 3857) NOT NULL
);
CREATE INDEX region_shapes_county_gix ON region_shapes USING gist (shape) WHERE level = 'county';
CREATE INDEX region_shapes_township_gix ON region_shapes USING gist (shape) WHERE level = 'township';
CREATE INDEX region_shapes_city_idx ON region_shapes (left(code, 4));

-- flows: one line per relocation assignment, village → site, in 3857.
CREATE TABLE flows (
    village_code text NOT NULL,
    site_code    text NOT NULL,
    households   integer NOT NULL,
    people       integer NOT NULL,
    geom         geometry(LineString, 3857) NOT NULL,
    PRIMARY KEY (village_code, site_code)
);
CREATE INDEX flows_geom_gix ON flows USING gist (geom);
CREATE INDEX flows_city_idx ON flows (left(village_code, 4));

-- Sites and projects are drawn straight from their tables; these indexes
-- let a tile envelope in 3857 find them.
CREATE INDEX sites_geom_3857_gix ON sites USING gist (ST_Transform(geom, 3857));
CREATE INDEX projects_geom_3857_gix ON projects USING gist (ST_Transform(geom, 3857));
-- The refresh reads one city at a time.
CREATE INDEX regions_city_idx ON regions (left(code, 4));
CREATE INDEX villages_city_idx ON villages (left(code, 4));
CREATE INDEX sites_city_idx ON sites (left(county_code, 4));
CREATE INDEX projects_city_idx ON projects (left(county_code, 4));
CREATE INDEX relocation_assignments_city_idx ON relocation_assignments (left(village_code, 4));

-- refresh_rollups recomputes the rollups and flows of the cities whose
-- codes start with one of prefixes (4 digits); NULL means every city.
-- With shapes it also re-simplifies their boundaries.
CREATE FUNCTION refresh_rollups(prefixes text[], shapes boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p text;
BEGIN
    -- Serialise refreshes of one city: a second transaction waits here for
    -- the first to commit, and its statements below then see that commit.
    FOR p IN SELECT DISTINCT x FROM unnest(coalesce(prefixes, ARRAY['*'])) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(hashtext('battlemap.rollups'), hashtext(p));
    END LOOP;

    DELETE FROM region_rollups WHERE prefixes IS NULL OR left(code, 4) = ANY (prefixes);
    DELETE FROM flows WHERE prefixes IS NULL OR left(village_code, 4) = ANY (prefixes);
    IF shapes THEN
        DELETE FROM region_shapes WHERE prefixes IS NULL OR left(code, 4) = ANY (prefixes);
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions
              WHERE boundary IS NOT NULL AND (prefixes IS NULL OR left(code, 4) = ANY (prefixes))) b;
    END IF;

    WITH village_rows AS (
        SELECT k.key, v.population, v.poor_households, v.poor_population, v.cooperatives,
               r.poverty_status, r.demonstration
        FROM villages v
        JOIN regions r ON r.code = v.code
        CROSS JOIN LATERAL (VALUES (v.code), (v.township_code), (v.county_code), (left(v.code, 4) || '00')) k (key)
        WHERE prefixes IS NULL OR left(v.code, 4) = ANY (prefixes)
    ), village_figures AS (
        SELECT key,
               count(*)::int AS villages,
               count(*) FILTER (WHERE poverty_status = 'not_exited')::int AS villages_not_exited,
               count(*) FILTER (WHERE poverty_status = 'exited')::int AS villages_exited,
               count(*) FILTER (WHERE demonstration)::int AS villages_demonstration,
               sum(population)::bigint AS population,
               sum(poor_households)::bigint AS poor_households,
               sum(poor_population)::bigint AS poor_population,
               sum(cooperatives)::bigint AS cooperatives
        FROM village_rows GROUP BY key
    ), site_figures AS (
        SELECT k.key, count(*)::int AS sites,
               sum(s.capacity_people)::bigint AS site_capacity_people,
               sum(s.moved_in_people)::bigint AS site_moved_in_people,
               avg(s.progress)::real AS site_progress_avg
        FROM sites s
        CROSS JOIN LATERAL (VALUES (s.township_code), (s.county_code), (left(s.county_code, 4) || '00')) k (key)
        WHERE k.key IS NOT NULL AND (prefixes IS NULL OR left(s.county_code, 4) = ANY (prefixes))
        GROUP BY k.key
    ), project_figures AS (
        SELECT k.key, count(*)::int AS projects,
               count(*) FILTER (WHERE p.status = 'completed')::int AS projects_completed,
               avg(p.completion)::real AS completion_avg,
               sum(p.funds_planned)::bigint AS funds_planned,
               sum(p.funds_disbursed)::bigint AS funds_disbursed
        FROM projects p
        CROSS JOIN LATERAL (VALUES (p.village_code), (left(p.village_code, 9)), (p.county_code), (left(p.county_code, 4) || '00')) k (key)
        WHERE k.key IS NOT NULL AND (prefixes IS NULL OR left(p.county_code, 4) = ANY (prefixes))
        GROUP BY k.key
    ), relocation_figures AS (
        SELECT k.key, sum(a.households)::bigint AS relocation_households, sum(a.people)::bigint AS relocation_people
        FROM relocation_assignments a
        CROSS JOIN LATERAL (VALUES (a.village_code), (left(a.village_code, 9)), (left(a.village_code, 6)), (left(a.village_code, 4) || '00')) k (key)
        WHERE prefixes IS NULL OR left(a.village_code, 4) = ANY (prefixes)
        GROUP BY k.key
    )
    INSERT INTO region_rollups
    SELECT r.code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year, r.demonstration,
           ST_Transform(r.point, 3857),
           coalesce(v.villages, 0), coalesce(v.villages_not_exited, 0), coalesce(v.villages_exited, 0),
           coalesce(v.villages_demonstration, 0),
           coalesce(v.population, 0), coalesce(v.poor_households, 0), coalesce(v.poor_population, 0),
           coalesce(v.cooperatives, 0),
           coalesce(rf.relocation_households, 0), coalesce(rf.relocation_people, 0),
           coalesce(s.sites, 0), coalesce(s.site_capacity_people, 0), coalesce(s.site_moved_in_people, 0),
           s.site_progress_avg,
           coalesce(pf.projects, 0), coalesce(pf.projects_completed, 0), pf.completion_avg,
           coalesce(pf.funds_planned, 0), coalesce(pf.funds_disbursed, 0)
    FROM regions r
    LEFT JOIN village_figures v ON v.key = r.code
    LEFT JOIN site_figures s ON s.key = r.code
    LEFT JOIN project_figures pf ON pf.key = r.code
    LEFT JOIN relocation_figures rf ON rf.key = r.code
    WHERE prefixes IS NULL OR left(r.code, 4) = ANY (prefixes);

    INSERT INTO flows (village_code, site_code, households, people, geom)
    SELECT a.village_code, a.site_code, a.households, a.people,
           ST_Transform(ST_MakeLine(r.point, s.geom), 3857)
    FROM relocation_assignments a
    JOIN regions r ON r.code = a.village_code
    JOIN sites s ON s.code = a.site_code
    WHERE prefixes IS NULL OR left(a.village_code, 4) = ANY (prefixes);
END
$$;

-- rollups_on_change refreshes the cities touched by a statement. TG_ARGV[0]
-- names the column whose first four digits are the city of a row; the
-- changed rows come from the statement's transition tables. Shapes are
-- redone only when regions change.
CREATE FUNCTION rollups_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched text[] := '{}';
    more    text[];
    shapes  boolean := TG_TABLE_NAME = 'regions';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM refresh_rollups(NULL, shapes);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT left(%I, 4)) FROM new_rows', TG_ARGV[0]) INTO more;
        touched := touched || coalesce(more, '{}');
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT left(%I, 4)) FROM old_rows', TG_ARGV[0]) INTO more;
        touched := touched || coalesce(more, '{}');
    END IF;
    IF shapes AND TG_OP = 'UPDATE' THEN
        -- A change of status or name leaves the polygons as they were.
        shapes := EXISTS (SELECT FROM new_rows n JOIN old_rows o USING (code)
                          WHERE n.boundary IS DISTINCT FROM o.boundary);
    END IF;
    IF cardinality(touched) > 0 THEN
        PERFORM refresh_rollups(touched, shapes);
    END IF;
    RETURN NULL;
END
$$;

-- The triggers: transition tables allow one event per trigger, hence
-- three per table, and one for TRUNCATE. Each table names the column whose
-- first four digits are the city of its rows.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('regions', 'code'), ('villages', 'code'), ('sites', 'county_code'),
                                   ('projects', 'county_code'), ('relocation_assignments', 'village_code')) v (tbl, city_column)
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_ins', t.tbl, t.city_column);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_upd', t.tbl, t.city_column);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_del', t.tbl, t.city_column);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change()', t.tbl || '_rollups_trunc', t.tbl);
    END LOOP;
END
$$;

SELECT refresh_rollups(NULL, true);

---- create above / drop below ----

-- CASCADE drops the twenty triggers that call it.
DROP FUNCTION rollups_on_change() CASCADE;
DROP FUNCTION refresh_rollups(text[], boolean);
DROP INDEX sites_geom_3857_gix, projects_geom_3857_gix, regions_city_idx, villages_city_idx,
    sites_city_idx, projects_city_idx, relocation_assignments_city_idx;
DROP TABLE flows;
DROP TABLE region_shapes;
DROP VIEW region_figures;
DROP FUNCTION short_name(text);
DROP TABLE region_rollups;
