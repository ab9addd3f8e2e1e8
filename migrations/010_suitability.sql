-- Site suitability: where a new relocation site should go.
--
-- Each county is covered by hexagons of 500 m a side (ST_HexagonGrid in
-- EPSG:32648, UTM 48N, the terrain's grid: every distance here is in its
-- metres, which at Zunyi's longitudes are true to 0.1%). A cell belongs
-- to the county holding its centre, so the counties' cells tile the city
-- once. What a cell's factors are computed from changes seldom (terrain,
-- hazard zones, roads, services, county and township boundaries and
-- seats), so they are computed once per county and kept in
-- suitability_cells until one of those tables changes
-- (suitability_factors); the people a cell would serve change with every
-- assignment, and are counted per request, which is cheap: a county has
-- a few dozen unassigned poverty villages. Weights and thresholds come
-- from the caller as one jsonb value (geo.SuitabilityParams declares
-- them, their defaults and bounds); nothing here has defaults of its own.
--
-- The cache tables are no map data: they move no data version and carry
-- no audit. The functions that fill them run inside reads (a tile, an
-- answer), so the server's role writes them.

-- unassigned_villages are the poverty villages not yet exited, with poor
-- people, that no relocation assignment names: the people a new site is
-- for. geo.Unassigned lists them; the analysis counts them.
CREATE VIEW unassigned_villages AS
    SELECT v.code, v.county_code, v.poor_households, v.poor_population, r.point
    FROM villages v JOIN regions r ON r.code = v.code
    WHERE r.level = 'village' AND r.poverty_status = 'not_exited' AND v.poor_population > 0
      AND NOT EXISTS (SELECT FROM relocation_assignments a WHERE a.village_code = v.code);

-- suitability_factors holds one number that moves whenever a table the
-- cells' factors are computed from changes; a county's cells are current
-- while suitability_state holds that number for it.
CREATE TABLE suitability_factors (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT suitability_factors_singleton CHECK (singleton),
    version   bigint NOT NULL
);
INSERT INTO suitability_factors (version) VALUES (1);

CREATE TABLE suitability_state (
    county_code     text PRIMARY KEY,
    factors_version bigint NOT NULL,
    cells           integer NOT NULL,
    computed_at     timestamptz NOT NULL,
    took            interval NOT NULL
);

-- suitability_cells: the cells of each county computed so far, with the
-- factors that do not depend on the request. slope and elevation are the
-- terrain's at the cell's centre, read as terrain_at reads them (NULL
-- where there is no terrain); road_m and service_m the distances from the
-- centre to the nearest road and service point, in whole metres (NULL
-- when there is none).
CREATE TABLE suitability_cells (
    county_code text NOT NULL,
    i           integer NOT NULL,
    j           integer NOT NULL,
    geom        geometry(Polygon, 4326) NOT NULL,
    geom_3857   geometry(Polygon, 3857) NOT NULL,
    centre      geometry(Point, 4326) NOT NULL,
    centre_m    geometry(Point, 32648) NOT NULL,
    elevation   float8,
    slope       float8,
    hazard      boolean NOT NULL,
    road_m      float8,
    service_m   float8,
    PRIMARY KEY (county_code, i, j)
);
CREATE INDEX suitability_cells_geom_gix ON suitability_cells USING gist (geom);
CREATE INDEX suitability_cells_geom_3857_gix ON suitability_cells USING gist (geom_3857);
CREATE INDEX suitability_cells_centre_m_gix ON suitability_cells USING gist (centre_m);

-- The distances are nearest-neighbour searches in metres, served by
-- indexes on the factors' geometry in EPSG:32648.
CREATE INDEX roads_geom_32648_gix ON roads USING gist (ST_Transform(geom, 32648));
CREATE INDEX services_geom_32648_gix ON services USING gist (ST_Transform(geom, 32648));
CREATE INDEX regions_township_point_32648_gix ON regions USING gist (ST_Transform(point, 32648)) WHERE level = 'township';

-- suitability_factors_moved moves suitability_factors: after any change
-- to the factor tables; after a change to regions only when it touched
-- a county or a township (boundaries, and seats, which are service
-- points), not for the villages' edits, which are the common ones.
CREATE FUNCTION suitability_factors_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched boolean := true;
BEGIN
    IF TG_TABLE_NAME = 'regions' THEN
        IF TG_OP = 'DELETE' THEN
            EXECUTE 'SELECT EXISTS (SELECT FROM old_rows WHERE level IN (''county'', ''township''))' INTO touched;
        ELSIF TG_OP = 'INSERT' THEN
            EXECUTE 'SELECT EXISTS (SELECT FROM new_rows WHERE level IN (''county'', ''township''))' INTO touched;
        ELSE
            EXECUTE 'SELECT EXISTS (SELECT FROM old_rows WHERE level IN (''county'', ''township''))
                         OR EXISTS (SELECT FROM new_rows WHERE level IN (''county'', ''township''))' INTO touched;
        END IF;
    END IF;
    IF touched THEN
        UPDATE suitability_factors SET version = version + 1;
    END IF;
    RETURN NULL;
END
$$;

SELECT create_statement_triggers('regions', 'suitability', 'suitability_factors_moved', '{}');
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['terrain', 'terrain_slope', 'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION suitability_factors_moved()', t || '_suitability', t);
    END LOOP;
END
$$;

-- suitability_refresh computes the cells of county unless they are
-- current. Callers that arrive together wait for the first (an advisory
-- lock per county, held to the end of its transaction) and then find the
-- cells current. The factors' version is read before the cells are
-- computed, so cells computed while a factor changes are labelled with
-- the older version and computed again on the next call.
CREATE FUNCTION suitability_refresh(county text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v     bigint;
    n     integer;
    start timestamptz := clock_timestamp();
    slope_raster     raster;
    elevation_raster raster;
BEGIN
    IF EXISTS (SELECT FROM suitability_state s JOIN suitability_factors f ON f.version = s.factors_version
               WHERE s.county_code = county) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('battlemap.suitability'), hashtext(county));
    SELECT version INTO v FROM suitability_factors;
    IF EXISTS (SELECT FROM suitability_state s WHERE s.county_code = county AND s.factors_version = v) THEN
        RETURN;
    END IF;
    -- The terrain under the county as one raster in memory, read with
    -- one ST_Value per cell: the value of the pixel holding the centre,
    -- as terrain_at reads it (the tiles share the terrain's grid and do
    -- not overlap). Held in a variable, each call gets the raster as it
    -- is; joining the cells to the tiles, or to a row holding the union,
    -- copied a tile or the union for every cell and took several times
    -- as long.
    SELECT ST_Union(t.rast) INTO slope_raster FROM terrain_slope t, regions r
    WHERE r.code = county AND ST_ConvexHull(t.rast) && ST_Transform(r.boundary, 32648);
    SELECT ST_Union(t.rast) INTO elevation_raster FROM terrain t, regions r
    WHERE r.code = county AND ST_ConvexHull(t.rast) && ST_Transform(r.boundary, 32648);
    DELETE FROM suitability_cells WHERE county_code = county;
    INSERT INTO suitability_cells (county_code, i, j, geom, geom_3857, centre, centre_m, elevation, slope, hazard, road_m, service_m)
    WITH c AS (
        SELECT boundary, ST_Transform(boundary, 32648) AS boundary_m FROM regions WHERE code = county AND level = 'county'
    ), hex AS (
        SELECT g.i, g.j, g.geom AS hex_m, ST_Transform(ST_Centroid(g.geom), 4326) AS centre
        FROM c, ST_HexagonGrid(500, c.boundary_m) g
    ), cells AS MATERIALIZED (
        -- The centre in metres is the centre in degrees projected, as
        -- terrain_at projects a point it is given: both read the same cell.
        SELECT h.i, h.j, h.hex_m, h.centre, ST_Transform(h.centre, 32648) AS centre_m
        FROM hex h, c WHERE ST_Intersects(c.boundary, h.centre)
    )
    SELECT county, x.i, x.j, ST_Transform(x.hex_m, 4326), ST_Transform(x.hex_m, 3857), x.centre, x.centre_m,
           ST_Value(elevation_raster, 1, x.centre_m), ST_Value(slope_raster, 1, x.centre_m),
           EXISTS (SELECT FROM hazard_zones h WHERE ST_Intersects(h.geom, ST_Transform(x.hex_m, 4326))),
           round((SELECT ST_Transform(r.geom, 32648) <-> x.centre_m FROM roads r
                  ORDER BY ST_Transform(r.geom, 32648) <-> x.centre_m LIMIT 1)::numeric)::float8,
           -- The nearest of service_points, each of its two parts searched
           -- by its own index: through the view's UNION ALL, the township
           -- seats were sorted whole for every cell.
           round(least(
               (SELECT ST_Transform(v.geom, 32648) <-> x.centre_m FROM services v
                ORDER BY ST_Transform(v.geom, 32648) <-> x.centre_m LIMIT 1),
               (SELECT ST_Transform(t.point, 32648) <-> x.centre_m FROM regions t WHERE t.level = 'township'
                ORDER BY ST_Transform(t.point, 32648) <-> x.centre_m LIMIT 1))::numeric)::float8
    FROM cells x;
    SELECT count(*) INTO n FROM suitability_cells WHERE county_code = county;
    INSERT INTO suitability_state (county_code, factors_version, cells, computed_at, took)
    VALUES (county, v, n, now(), clock_timestamp() - start)
    ON CONFLICT (county_code) DO UPDATE
    SET factors_version = EXCLUDED.factors_version, cells = EXCLUDED.cells, computed_at = EXCLUDED.computed_at, took = EXCLUDED.took;
END
$$;

-- suitability_cell is a scored cell: its factors, the people it would
-- serve (the unassigned villages within reach: how many, their codes
-- and poor people, and the sum), why it is excluded (none: '{}') and,
-- when it is not, the points of each part and the score (0–100).
CREATE TYPE suitability_cell AS (
    county_code text, i integer, j integer, geom geometry, geom_3857 geometry, centre geometry,
    elevation float8, slope float8, hazard boolean, road_m float8, service_m float8,
    people bigint, villages integer, reached text[], reached_people integer[], excluded text[],
    slope_part float8, road_part float8, service_part float8, people_part float8, score float8
);

-- suitability_scored scores the cells of county that meet area (all of
-- them when area is NULL), as computed so far, with the parameters p
-- (geo.SuitabilityParams by name). A cell is excluded, and has no score
-- and no parts, when it has no terrain (no_terrain), is steeper than
-- max_slope (slope) or meets a hazard zone (hazard). Otherwise each part
-- is its weight's share of 100 points times its factor from 0 to 1, and
-- the score is their sum:
--   slope    1 − slope ÷ max_slope
--   road     max(0, 1 − road_m ÷ road_range); 0 with no road
--   service  max(0, 1 − service_m ÷ service_range); 0 with no service
--   people   min(1, people ÷ people_full), people being the poor people
--            of the county's unassigned villages within reach.
CREATE FUNCTION suitability_scored(county text, area geometry, p jsonb)
RETURNS SETOF suitability_cell LANGUAGE sql STABLE AS $$
    WITH k AS (
        SELECT (p->>'w_slope')::float8 AS w_slope, (p->>'w_road')::float8 AS w_road,
               (p->>'w_service')::float8 AS w_service, (p->>'w_people')::float8 AS w_people,
               (p->>'max_slope')::float8 AS max_slope, (p->>'road_range')::float8 AS road_range,
               (p->>'service_range')::float8 AS service_range, (p->>'reach')::float8 AS reach,
               (p->>'people_full')::float8 AS people_full,
               100 / ((p->>'w_slope')::float8 + (p->>'w_road')::float8 + (p->>'w_service')::float8
                      + (p->>'w_people')::float8) AS unit
    ),
    -- The county's unassigned villages, first and once: a few dozen rows,
    -- which each cell then reads. (Joined the other way, villages to
    -- cells by the index on their centres, the planner, which has no
    -- statistics of freshly computed cells, rescanned the whole join
    -- for every cell.)
    u AS MATERIALIZED (
        SELECT v.code, v.poor_population, ST_Transform(v.point, 32648) AS pt FROM unassigned_villages v WHERE v.county_code = county
    ), f AS (
        SELECT c.*, coalesce(r.people, 0) AS people, r.villages,
               coalesce(r.reached, '{}') AS reached, coalesce(r.reached_people, '{}') AS reached_people,
               array_remove(ARRAY[CASE WHEN c.slope IS NULL THEN 'no_terrain' END,
                                  CASE WHEN c.slope > k.max_slope THEN 'slope' END,
                                  CASE WHEN c.hazard THEN 'hazard' END], NULL) AS excluded
        FROM suitability_cells c CROSS JOIN k
        CROSS JOIN LATERAL (
            SELECT sum(u.poor_population) AS people, count(*)::integer AS villages,
                   array_agg(u.code ORDER BY u.code) AS reached, array_agg(u.poor_population ORDER BY u.code) AS reached_people
            FROM u WHERE ST_DWithin(c.centre_m, u.pt, k.reach)) r
        WHERE c.county_code = county AND (area IS NULL OR (c.geom && area AND ST_Intersects(c.geom, area)))
    ), parts AS (
        SELECT f.*,
               CASE WHEN f.excluded = '{}' THEN k.unit * k.w_slope * (1 - f.slope / k.max_slope) END AS slope_part,
               CASE WHEN f.excluded = '{}' THEN k.unit * k.w_road * coalesce(greatest(0, 1 - f.road_m / k.road_range), 0) END AS road_part,
               CASE WHEN f.excluded = '{}' THEN k.unit * k.w_service * coalesce(greatest(0, 1 - f.service_m / k.service_range), 0) END AS service_part,
               CASE WHEN f.excluded = '{}' THEN k.unit * k.w_people * least(1, f.people / k.people_full) END AS people_part
        FROM f CROSS JOIN k
    )
    SELECT p.county_code, p.i, p.j, p.geom, p.geom_3857, p.centre, p.elevation, p.slope, p.hazard, p.road_m, p.service_m,
           p.people, p.villages, p.reached, p.reached_people, p.excluded, p.slope_part, p.road_part, p.service_part, p.people_part,
           p.slope_part + p.road_part + p.service_part + p.people_part
    FROM parts p
$$;

-- suitability_surface is suitability_scored after making sure the cells
-- of county are current: a county's surface, or the part of it in area.
CREATE FUNCTION suitability_surface(county text, area geometry, p jsonb)
RETURNS SETOF suitability_cell LANGUAGE plpgsql AS $$
BEGIN
    PERFORM suitability_refresh(county);
    RETURN QUERY SELECT * FROM suitability_scored(county, area, p);
END
$$;

-- suitability_tile is the scored cells of every county that meet tile
-- z/x/y, grown by the buffer its features are drawn in.
CREATE FUNCTION suitability_tile(z integer, x integer, y integer, p jsonb)
RETURNS SETOF suitability_cell LANGUAGE plpgsql AS $$
DECLARE
    area     geometry := ST_Transform(ST_TileEnvelope(z, x, y, margin => 0.015625), 4326);
    counties text[];
BEGIN
    -- In code order, so that two tiles never wait for each other's locks.
    counties := ARRAY(SELECT r.code FROM regions r WHERE r.level = 'county' AND r.boundary && area ORDER BY r.code);
    PERFORM suitability_refresh(c) FROM unnest(counties) c;
    RETURN QUERY SELECT s.* FROM unnest(counties) c, LATERAL suitability_scored(c, area, p) s;
END
$$;

-- suitability_at is the cell holding point pt (EPSG:4326), whichever
-- county it belongs to; none when the cell's centre lies in no county.
CREATE FUNCTION suitability_at(pt geometry, p jsonb)
RETURNS SETOF suitability_cell LANGUAGE plpgsql AS $$
DECLARE
    -- The cell's centre is within 500 m of pt, and its county's boundary
    -- holds the centre: 0.01° is 980 m of longitude at 28° N.
    near text[] := ARRAY(SELECT r.code FROM regions r WHERE r.level = 'county' AND ST_DWithin(r.boundary, pt, 0.01) ORDER BY r.code);
BEGIN
    PERFORM suitability_refresh(c) FROM unnest(near) c;
    RETURN QUERY SELECT s.* FROM unnest(near) c, LATERAL suitability_scored(c, pt, p) s ORDER BY s.county_code LIMIT 1;
END
$$;

-- suitability_candidates proposes up to n sites for the unassigned
-- poverty villages of county that together reach the most of their poor
-- people: greedy maximum coverage over the cells not excluded. Each round
-- takes the cell whose reach holds the most people not covered yet (ties
-- to the higher score, then the lower i, j), at least spacing metres from
-- every cell taken before, with the villages it covers; it stops early
-- when no such cell reaches anyone new.
CREATE FUNCTION suitability_candidates(county text, p jsonb, n integer, spacing float8)
RETURNS TABLE (rank integer, i integer, j integer, centre geometry, score float8, people bigint, villages text[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    -- The pairs of a cell that may take a site and a village within its
    -- reach, as arrays of scalars, which each round reads whole: cell,
    -- its centre in metres (EPSG:32648, where the spacing is a plain
    -- Euclidean distance), its score, the village and its people.
    pi integer[]; pj integer[]; px float8[]; py float8[]; ps float8[]; pv text[]; pp integer[];
    covered text[] := '{}';
    tx      float8[] := '{}';
    ty      float8[] := '{}';
    pick    record;
BEGIN
    PERFORM suitability_refresh(county);
    SELECT array_agg(s.i), array_agg(s.j), array_agg(ST_X(m.g)), array_agg(ST_Y(m.g)), array_agg(s.score),
           array_agg(r.village), array_agg(r.people)
    INTO pi, pj, px, py, ps, pv, pp
    FROM suitability_scored(county, NULL, p) s
    CROSS JOIN LATERAL (SELECT ST_Transform(s.centre, 32648) AS g) m
    CROSS JOIN LATERAL unnest(s.reached, s.reached_people) r (village, people)
    WHERE s.excluded = '{}';
    FOR k IN 1..n LOOP
        SELECT x.i, x.j, max(x.score) AS score, sum(x.people) AS gain, array_agg(x.village ORDER BY x.village) AS villages,
               min(x.x) AS x, min(x.y) AS y
        INTO pick
        FROM unnest(pi, pj, px, py, ps, pv, pp) x (i, j, x, y, score, village, people)
        WHERE x.village <> ALL (covered)
          AND NOT EXISTS (SELECT FROM unnest(tx, ty) t (x, y) WHERE (t.x - x.x) ^ 2 + (t.y - x.y) ^ 2 < spacing ^ 2)
        GROUP BY x.i, x.j
        ORDER BY gain DESC, score DESC, x.i, x.j
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        covered := covered || pick.villages;
        tx := tx || pick.x;
        ty := ty || pick.y;
        rank := k;
        i := pick.i;
        j := pick.j;
        centre := (SELECT c.centre FROM suitability_cells c WHERE c.county_code = county AND c.i = pick.i AND c.j = pick.j);
        score := pick.score;
        people := pick.gain;
        villages := pick.villages;
        RETURN NEXT;
    END LOOP;
END
$$;

---- create above / drop below ----

DROP FUNCTION suitability_candidates(text, jsonb, integer, float8);
DROP FUNCTION suitability_at(geometry, jsonb);
DROP FUNCTION suitability_tile(integer, integer, integer, jsonb);
DROP FUNCTION suitability_surface(text, geometry, jsonb);
DROP FUNCTION suitability_scored(text, geometry, jsonb);
DROP TYPE suitability_cell;
DROP FUNCTION suitability_refresh(text);
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['terrain', 'terrain_slope', 'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_suitability', t);
    END LOOP;
END
$$;
SELECT drop_statement_triggers('regions', 'suitability');
DROP FUNCTION suitability_factors_moved();
DROP INDEX regions_township_point_32648_gix;
DROP INDEX services_geom_32648_gix;
DROP INDEX roads_geom_32648_gix;
DROP TABLE suitability_cells;
DROP TABLE suitability_state;
DROP TABLE suitability_factors;
DROP VIEW unassigned_villages;
