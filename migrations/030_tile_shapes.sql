-- The shapes of regions as the zooms that draw them coarsest read them
-- (issue 17), stored once rather than simplified again for every tile.
--
-- To zoom 6 a tile simplified each region's zoom-7 shape (500 m) again to
-- half a pixel of the zoom as it read it (provinces to 3, cities 4–5,
-- counties at 6), some 3 ms of a tile of 170 cities. At zooms 8 and 9
-- counties and townships were drawn from their zoom-10 shapes (50 m, a
-- sixth and a third of a pixel there), and ST_AsMVTGeom, which simplifies
-- only to half a tile unit (an eighth of a pixel) before it clips and
-- validates every point left, spent most of a tile on them: 34 ms for the
-- 24 counties and 243 townships of the zoom-8 tile over southern Jiangsu.
-- All are now the zoom-7 or zoom-10 shape simplified to half a pixel of
-- the zoom (of a tile drawn 512 pixels wide, as MapLibre does): to zoom 6
-- as before, so those tiles are the same bytes; at zooms 8 and 9 a shape
-- within half a pixel of the zoom-10 one, with a third (8) or three
-- quarters (9) of its points: that zoom-8 tile's two layers take 11 ms.
--
-- region_tile_zooms is at which zooms a region of level is drawn from a
-- stored shape: the zooms its layer draws it at, to 6, and 8 and 9
-- (tiles/layers.go reads region_tile_shapes at exactly those; a test
-- compares).
CREATE FUNCTION region_tile_zooms(level text) RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE level WHEN 'province' THEN ARRAY[0, 1, 2, 3] WHEN 'city' THEN ARRAY[4, 5]
                  WHEN 'county' THEN ARRAY[6, 8, 9] WHEN 'township' THEN ARRAY[8, 9] ELSE '{}' END;

-- region_tile_shape is the shape of a region at zoom z made from its
-- shapes of zooms 7 and 10 (region_shapes): the coarser one of the two
-- that is fine enough for z, simplified to half a pixel of z. Collapsed
-- parts are kept, so that a small region stays a dot.
CREATE FUNCTION region_tile_shape(shape_z7 geometry, shape_z10 geometry, z integer) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ST_Simplify(CASE WHEN z < 7 THEN shape_z7 ELSE shape_z10 END, 40075016.685578488 / 1024 / 2 ^ z, true);

-- region_tile_shapes holds region_tile_shape of each region at each of
-- its region_tile_zooms. refresh_shapes writes it with region_shapes, in
-- the same statement, and its history is kept as theirs is, so that a
-- tile of the past reads it too.
CREATE TABLE region_tile_shapes (
    code  text NOT NULL,
    z     integer NOT NULL,
    shape geometry(MultiPolygon, 3857),
    PRIMARY KEY (code, z)
);

-- Its versions are made from those of the shapes, each over the same
-- time and by the same transaction, so that a tile of any moment of the
-- history draws them; today's rows are the versions that still hold,
-- copied rather than made again (and so without a new version each).
SELECT keep_history_of('region_tile_shapes', ARRAY['code', 'z']);
INSERT INTO region_tile_shapes_history (code, z, shape, valid, txid)
SELECT h.code, z.z, region_tile_shape(h.shape_z7, h.shape_z10, z.z), h.valid, h.txid
FROM region_shapes_history h CROSS JOIN unnest(region_tile_zooms(h.level)) z (z);
ALTER TABLE region_tile_shapes DISABLE TRIGGER region_tile_shapes_history_ins;
INSERT INTO region_tile_shapes (code, z, shape)
SELECT code, z, shape FROM region_tile_shapes_history WHERE upper_inf(valid);
ALTER TABLE region_tile_shapes ENABLE TRIGGER region_tile_shapes_history_ins;
SELECT as_of_views();

-- refresh_shapes as 023 made it, writing the tile shapes of the regions
-- it writes.
CREATE OR REPLACE FUNCTION refresh_shapes(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF codes IS NULL THEN
        DELETE FROM region_tile_shapes;
        DELETE FROM region_shapes;
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions WHERE boundary IS NOT NULL) b;
        INSERT INTO region_tile_shapes (code, z, shape)
        SELECT s.code, z.z, region_tile_shape(s.shape_z7, s.shape_z10, z.z)
        FROM region_shapes s CROSS JOIN unnest(region_tile_zooms(s.level)) z (z);
        RETURN;
    END IF;
    DELETE FROM region_tile_shapes s USING (SELECT DISTINCT unnest(codes)) c (code) WHERE s.code = c.code;
    DELETE FROM region_shapes s USING (SELECT DISTINCT unnest(codes)) c (code) WHERE s.code = c.code;
    INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
    SELECT code, level,
           ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
           ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
           m
    FROM (SELECT r.code, r.level, ST_Transform(r.boundary, 3857) AS m
          FROM regions r JOIN (SELECT DISTINCT unnest(codes)) c (code) ON c.code = r.code
          WHERE r.boundary IS NOT NULL) b;
    INSERT INTO region_tile_shapes (code, z, shape)
    SELECT s.code, z.z, region_tile_shape(s.shape_z7, s.shape_z10, z.z)
    FROM region_shapes s JOIN (SELECT DISTINCT unnest(codes)) c (code) ON c.code = s.code
    CROSS JOIN unnest(region_tile_zooms(s.level)) z (z);
END
$$;

---- create above / drop below ----

CREATE OR REPLACE FUNCTION refresh_shapes(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF codes IS NULL THEN
        DELETE FROM region_shapes;
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions WHERE boundary IS NOT NULL) b;
        RETURN;
    END IF;
    DELETE FROM region_shapes s USING (SELECT DISTINCT unnest(codes)) c (code) WHERE s.code = c.code;
    INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
    SELECT code, level,
           ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
           ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
           m
    FROM (SELECT r.code, r.level, ST_Transform(r.boundary, 3857) AS m
          FROM regions r JOIN (SELECT DISTINCT unnest(codes)) c (code) ON c.code = r.code
          WHERE r.boundary IS NOT NULL) b;
END
$$;
DROP VIEW as_of.region_tile_shapes;
SELECT drop_history_of('region_tile_shapes');
DROP TABLE region_tile_shapes;
DROP FUNCTION region_tile_shape(geometry, geometry, integer);
DROP FUNCTION region_tile_zooms(text);
