-- Factor layers for locating relocation sites: terrain (elevation and
-- slope, rasters computed in PostGIS), geological hazard zones
-- (地质灾害隐患区), roads and services (schools, clinics, markets; with the
-- township seats of the regions, the service points).
--
-- postgis_raster, like postgis, is not a trusted extension: the private
-- cluster creates it as the superuser before migrating (geo/pgcluster),
-- and with DATABASE_URL the operator does (README, "Running it safely"),
-- so that this CREATE EXTENSION IF NOT EXISTS, run by the owner, finds it.
-- Its functions are executable by PUBLIC, so the app role reads rasters
-- with the SELECT its default privileges give it on the tables below.
CREATE EXTENSION IF NOT EXISTS postgis_raster;

-- The terrain grid: WGS 84 / UTM zone 48N (EPSG:32648, metres), cells of
-- 200 m aligned on multiples of 200 m, tiles of 128 × 128 cells (25.6 km).
-- 200 m rather than 100 m: the slope runs a PL/pgSQL callback per cell
-- (about 2 µs, see terrain_slope4ma), so the city's slope at 100 m (some
-- 6 million cells) takes four times as long as at 200 m (3 s), in the
-- transaction of every DEM import and of the demo's load; the suitability
-- cells (hexagons of about 500 m) still hold a dozen terrain cells each. 128
-- rather than 256 cells a side keeps a tile at 64 KiB, which a point
-- lookup (terrain_at) reads whole.
-- terrain_grid is the grid as a raster of one empty cell whose alignment
-- every tile shares; the DEM import resamples onto it.
CREATE FUNCTION terrain_grid() RETURNS raster LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_MakeEmptyRaster(1, 1, 0, 0, 200, -200, 0, 0, 32648)
$$;

-- terrain: elevation in metres, band 1 (32-bit float; no data outside
-- the DEM), in tiles of the terrain grid. Replaced whole by each DEM
-- import, in one transaction.
CREATE TABLE terrain (
    rid  integer PRIMARY KEY,
    rast raster NOT NULL,
    CONSTRAINT terrain_on_grid CHECK (ST_SRID(rast) = 32648 AND ST_SameAlignment(rast, terrain_grid())),
    CONSTRAINT terrain_tile_size CHECK (ST_Width(rast) <= 128 AND ST_Height(rast) <= 128),
    CONSTRAINT terrain_has_band CHECK (ST_NumBands(rast) >= 1)
);
CREATE INDEX terrain_rast_gix ON terrain USING gist (ST_ConvexHull(rast));

-- terrain_slope: the slope of terrain in degrees, band 1, one tile per
-- terrain tile (same rid, same extent), written by refresh_terrain_slope.
CREATE TABLE terrain_slope (
    rid  integer PRIMARY KEY,
    rast raster NOT NULL,
    CONSTRAINT terrain_slope_on_grid CHECK (ST_SRID(rast) = 32648 AND ST_SameAlignment(rast, terrain_grid())),
    CONSTRAINT terrain_slope_tile_size CHECK (ST_Width(rast) <= 128 AND ST_Height(rast) <= 128)
);
CREATE INDEX terrain_slope_rast_gix ON terrain_slope USING gist (ST_ConvexHull(rast));

-- terrain_slope4ma is the slope in degrees of the centre of a 3 × 3
-- neighbourhood of elevations, by Horn's method, for ST_MapAlgebra;
-- userargs[1] is the cell size in metres. It is ST_Slope's computation
-- (_st_slope4ma: NULL where the centre has no value, a neighbour without
-- one taken as the centre) without its generality: ST_Slope's callback
-- parses its six arguments and copies the neighbourhood for every cell,
-- which made it five times slower (15 s for the city, against 3 s). A
-- test holds the two equal.
CREATE FUNCTION terrain_slope4ma(value double precision[][][], pos integer[][], VARIADIC userargs text[] DEFAULT NULL)
RETURNS double precision LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    c double precision := value[1][2][2];
BEGIN
    IF c IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN degrees(atan(sqrt(
        ((coalesce(value[1][1][3], c) + 2 * coalesce(value[1][2][3], c) + coalesce(value[1][3][3], c))
         - (coalesce(value[1][1][1], c) + 2 * coalesce(value[1][2][1], c) + coalesce(value[1][3][1], c))) ^ 2
      + ((coalesce(value[1][3][1], c) + 2 * coalesce(value[1][3][2], c) + coalesce(value[1][3][3], c))
         - (coalesce(value[1][1][1], c) + 2 * coalesce(value[1][1][2], c) + coalesce(value[1][1][3], c))) ^ 2)
      / (8 * userargs[1]::double precision)));
END
$$;

-- refresh_terrain_slope computes terrain_slope from terrain. Each tile's
-- slope is computed over the union of the tile and its eight neighbours,
-- cut to the tile's extent (ST_MapAlgebra's custom extent, as ST_Slope's
-- customextent), so that a cell on a tile's edge sees the cells across
-- it and the slope is continuous from tile to tile.
CREATE FUNCTION refresh_terrain_slope() RETURNS void LANGUAGE sql AS $$
    DELETE FROM terrain_slope;
    INSERT INTO terrain_slope (rid, rast)
    SELECT t.rid, ST_MapAlgebra(n.rast, 1, 'terrain_slope4ma(double precision[], integer[], text[])'::regprocedure,
                                '32BF', 'CUSTOM', t.rast, 1, 1, ST_ScaleX(t.rast)::text)
    FROM terrain t
    CROSS JOIN LATERAL (
        SELECT ST_Union(u.rast) AS rast FROM terrain u
        WHERE ST_ConvexHull(u.rast) && ST_Expand(ST_ConvexHull(t.rast), 1)
    ) n;
$$;

-- terrain_at reads the elevation (m) and slope (degrees) of the terrain
-- cell under p, a point in EPSG:4326; NULLs where there is no terrain.
CREATE FUNCTION terrain_at(p geometry) RETURNS TABLE (elevation float8, slope float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH q AS (SELECT ST_Transform(ST_SetSRID(p, 4326), 32648) AS g)
    SELECT (SELECT ST_Value(t.rast, 1, q.g) FROM terrain t
            WHERE ST_Intersects(t.rast, q.g) AND ST_Value(t.rast, 1, q.g) IS NOT NULL ORDER BY t.rid LIMIT 1),
           (SELECT ST_Value(s.rast, 1, q.g) FROM terrain_slope s
            WHERE ST_Intersects(s.rast, q.g) AND ST_Value(s.rast, 1, q.g) IS NOT NULL ORDER BY s.rid LIMIT 1)
    FROM q
$$;

-- hazard_zones: geological hazard zones (地质灾害隐患区).
CREATE TABLE hazard_zones (
    code        text PRIMARY KEY CONSTRAINT hazard_zones_code_not_empty CHECK (btrim(code) <> ''),
    name        text NOT NULL CONSTRAINT hazard_zones_name_not_empty CHECK (btrim(name) <> ''),
    kind        text NOT NULL CONSTRAINT hazard_zones_kind_known
                    CHECK (kind IN ('landslide', 'collapse', 'debris_flow', 'subsidence')),
    risk_level  text NOT NULL CONSTRAINT hazard_zones_risk_level_known CHECK (risk_level IN ('high', 'medium', 'low')),
    county_code text NOT NULL REFERENCES regions (code),
    geom        geometry(MultiPolygon, 4326) NOT NULL CONSTRAINT hazard_zones_geom_valid CHECK (ST_IsValid(geom))
);
CREATE INDEX hazard_zones_county_idx ON hazard_zones (county_code);
CREATE INDEX hazard_zones_geom_gix ON hazard_zones USING gist (geom);

-- roads: the road network by class.
CREATE TABLE roads (
    code        text PRIMARY KEY CONSTRAINT roads_code_not_empty CHECK (btrim(code) <> ''),
    name        text NOT NULL CONSTRAINT roads_name_not_empty CHECK (btrim(name) <> ''),
    class       text NOT NULL CONSTRAINT roads_class_known
                    CHECK (class IN ('expressway', 'national', 'provincial', 'county', 'township', 'village')),
    county_code text NOT NULL REFERENCES regions (code),
    geom        geometry(MultiLineString, 4326) NOT NULL
);
CREATE INDEX roads_county_idx ON roads (county_code);
CREATE INDEX roads_geom_gix ON roads USING gist (geom);

-- services: schools, clinics and markets.
CREATE TABLE services (
    code          text PRIMARY KEY CONSTRAINT services_code_not_empty CHECK (btrim(code) <> ''),
    name          text NOT NULL CONSTRAINT services_name_not_empty CHECK (btrim(name) <> ''),
    kind          text NOT NULL CONSTRAINT services_kind_known CHECK (kind IN ('school', 'clinic', 'market')),
    county_code   text NOT NULL REFERENCES regions (code),
    township_code text REFERENCES regions (code),
    geom          geometry(Point, 4326) NOT NULL,
    -- A service's township lies in its county, as the hierarchy has it
    -- (as a site's: 003_parents).
    CONSTRAINT services_township_in_county FOREIGN KEY (township_code, county_code)
        REFERENCES regions (code, parent_code) ON UPDATE CASCADE
);
CREATE INDEX services_township_idx ON services (township_code);
CREATE INDEX services_county_idx ON services (county_code);
CREATE INDEX services_geom_gix ON services USING gist (geom);

-- service_points: the services and the township seats (a township's
-- government is a service point of its own), for distances to services.
CREATE VIEW service_points AS
    SELECT code, name, kind, county_code, geom FROM services
    UNION ALL
    SELECT code, name, 'township_seat', parent_code, point FROM regions WHERE level = 'township';

-- Row-level security as on the other map tables: everyone reads; a county
-- user writes the rows of their counties. The terrain covers the whole
-- city, so only an unrestricted scope ('*': admins, the command line)
-- may replace it.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('hazard_zones', 'may_write(county_code)'),
        ('roads', 'may_write(county_code)'),
        ('services', 'may_write(county_code)'),
        ('terrain', 'coalesce(current_setting(''battlemap.scope'', true) = ''*'', false)'),
        ('terrain_slope', 'coalesce(current_setting(''battlemap.scope'', true) = ''*'', false)')) v (tbl, allowed)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.tbl);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t.tbl || '_read', t.tbl);
        EXECUTE format('CREATE POLICY %I ON %I USING (%s) WITH CHECK (%s)', t.tbl || '_write', t.tbl, t.allowed, t.allowed);
    END LOOP;
END
$$;

-- Changes are announced (008), move the versions of the counties they
-- reach (007: what a row draws; a terrain tile reaches the counties under
-- its extent; emptying a table moves them all), and, for the vector
-- tables, append
-- their audit rows (005). Terrain tiles are not audited row by row (an
-- audit row would copy the raster); the DEM import writes one audit row
-- of its own.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('hazard_zones', 'r.geom', 'r.code', 'r.county_code'),
        ('roads', 'r.geom', 'r.code', 'r.county_code'),
        ('services', 'r.geom', 'r.code', 'coalesce(r.township_code, r.county_code)'),
        ('terrain', 'ST_Transform(ST_ConvexHull(r.rast), 4326)', NULL, NULL),
        ('terrain_slope', 'ST_Transform(ST_ConvexHull(r.rast), 4326)', NULL, NULL)) v (tbl, drawn, key_sql, region_sql)
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION announce_change()', t.tbl || '_announce', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION bump_all_versions()', t.tbl || '_versions_trunc', t.tbl);
        PERFORM create_statement_triggers(t.tbl, 'county_versions', 'bump_county_versions', ARRAY[t.drawn]);
        IF t.key_sql IS NOT NULL THEN
            PERFORM create_statement_triggers(t.tbl, 'row_audit', 'audit_rows', ARRAY[t.key_sql, t.region_sql]);
        END IF;
    END LOOP;
END
$$;

---- create above / drop below ----

-- Dropping the tables drops their triggers and policies.
DROP VIEW service_points;
DROP TABLE services;
DROP TABLE roads;
DROP TABLE hazard_zones;
DROP FUNCTION terrain_at(geometry);
DROP FUNCTION refresh_terrain_slope();
DROP FUNCTION terrain_slope4ma(double precision[], integer[], text[]);
DROP TABLE terrain_slope;
DROP TABLE terrain;
DROP FUNCTION terrain_grid();
-- postgis_raster stays, as postgis does: the superuser created it, and
-- the owner, who migrates, may not drop it.
