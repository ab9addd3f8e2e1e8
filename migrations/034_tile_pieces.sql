-- The pieces of regions' shapes that the tiles drawing stored shapes
-- encode (issue 17), clipped and quantised once rather than for every
-- tile made.
--
-- A tile of zoom 6 over the east of the country holds 247 counties, and
-- ST_AsMVTGeom (clip to the tile, move to its 4096 units, snap, make
-- valid) spent 17 of its 20 ms on their stored shapes; a tile of zoom 8
-- spent 9 of 14 ms on its counties and townships, one of zoom 4 15 of
-- 31 ms on its cities. These shapes change only when boundaries do, so
-- each is cut, for every tile of its zooms that it reaches, into the
-- geometry ST_AsMVTGeom yields there, and a tile reads its pieces by the
-- tile's address: the same bytes, tile 6/52/26 in 2.8 ms where it took
-- 16, 8/213/104 in 4 to 7 where it took 15 (BENCHMARKS.md). A country's
-- 143,000 pieces take 7 s to make and 80 MB.
--
-- tile_pieces cuts shape, a region's stored shape at zoom z, into the
-- tiles of z it reaches: ST_AsMVTGeom of it in every tile whose
-- envelope, grown by the 64 units a tile keeps around it, meets the
-- shape's box, where that is not empty. The range of tiles is taken a
-- little wider (0.02 of a tile rather than 1/64) so that rounding never
-- leaves out one the shape reaches; ST_AsMVTGeom gives NULL for those it
-- does not.
CREATE FUNCTION tile_pieces(shape geometry, z integer) RETURNS TABLE (x integer, y integer, geom geometry)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH k AS (SELECT 40075016.685578488 / 2 ^ z AS size, (1 << z) - 1 AS last, 20037508.342789244 AS half)
    SELECT t.x, t.y, t.geom
    FROM k
    CROSS JOIN generate_series(greatest(0, floor((ST_XMin(shape) + k.half) / k.size - 0.02)::int),
                               least(k.last, floor((ST_XMax(shape) + k.half) / k.size + 0.02)::int)) tx (x)
    CROSS JOIN generate_series(greatest(0, floor((k.half - ST_YMax(shape)) / k.size - 0.02)::int),
                               least(k.last, floor((k.half - ST_YMin(shape)) / k.size + 0.02)::int)) ty (y)
    CROSS JOIN LATERAL (SELECT tx.x, ty.y, ST_AsMVTGeom(shape, ST_TileEnvelope(z, tx.x, ty.y), 4096, 64, true) AS geom) t
    WHERE t.geom IS NOT NULL
$$;

-- region_tile_pieces holds the pieces of every stored shape
-- (region_tile_shapes), with the region's level, by which a tile of
-- zoom 8 or 9 tells its counties from its townships. refresh_shapes
-- writes them with the shapes, and their history is kept as the shapes'
-- is, so that a tile of the past reads them too.
CREATE TABLE region_tile_pieces (
    z     integer NOT NULL,
    x     integer NOT NULL,
    y     integer NOT NULL,
    code  text NOT NULL,
    level text NOT NULL,
    geom  geometry NOT NULL,
    PRIMARY KEY (z, x, y, code)
);

-- As 030 made the tile shapes' versions from those of the shapes: each
-- over the same time and by the same transaction (a region's level never
-- changes); today's rows are the versions that still hold.
SELECT keep_history_of('region_tile_pieces', ARRAY['z', 'x', 'y', 'code']);
INSERT INTO region_tile_pieces_history (z, x, y, code, level, geom, valid, txid)
SELECT h.z, p.x, p.y, h.code, s.level, p.geom, h.valid, h.txid
FROM region_tile_shapes_history h
CROSS JOIN LATERAL (SELECT level FROM region_shapes_history WHERE code = h.code LIMIT 1) s
CROSS JOIN LATERAL tile_pieces(h.shape, h.z) p;
ALTER TABLE region_tile_pieces DISABLE TRIGGER region_tile_pieces_history_ins;
INSERT INTO region_tile_pieces (z, x, y, code, level, geom)
SELECT z, x, y, code, level, geom FROM region_tile_pieces_history WHERE upper_inf(valid);
ALTER TABLE region_tile_pieces ENABLE TRIGGER region_tile_pieces_history_ins;
SELECT as_of_views();

-- refresh_shapes as 030 made it, writing the pieces of the shapes it
-- writes. Everything (codes NULL) is the regions' every boundary, from
-- empty tables; the rows are then written by one set of statements.
CREATE OR REPLACE FUNCTION refresh_shapes(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF codes IS NULL THEN
        DELETE FROM region_tile_pieces;
        DELETE FROM region_tile_shapes;
        DELETE FROM region_shapes;
        codes := ARRAY(SELECT code FROM regions WHERE boundary IS NOT NULL);
    ELSE
        codes := ARRAY(SELECT DISTINCT unnest(codes));
        DELETE FROM region_tile_pieces p USING unnest(codes) c (code) WHERE p.code = c.code;
        DELETE FROM region_tile_shapes s USING unnest(codes) c (code) WHERE s.code = c.code;
        DELETE FROM region_shapes s USING unnest(codes) c (code) WHERE s.code = c.code;
    END IF;
    INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
    SELECT code, level,
           ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
           ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
           m
    FROM (SELECT r.code, r.level, ST_Transform(r.boundary, 3857) AS m
          FROM regions r JOIN unnest(codes) c (code) ON c.code = r.code
          WHERE r.boundary IS NOT NULL) b;
    INSERT INTO region_tile_shapes (code, z, shape)
    SELECT s.code, z.z, region_tile_shape(s.shape_z7, s.shape_z10, z.z)
    FROM region_shapes s JOIN unnest(codes) c (code) ON c.code = s.code
    CROSS JOIN unnest(region_tile_zooms(s.level)) z (z);
    INSERT INTO region_tile_pieces (z, x, y, code, level, geom)
    SELECT t.z, p.x, p.y, t.code, s.level, p.geom
    FROM region_tile_shapes t JOIN unnest(codes) c (code) ON c.code = t.code
    JOIN region_shapes s ON s.code = t.code
    CROSS JOIN LATERAL tile_pieces(t.shape, t.z) p;
END
$$;

---- create above / drop below ----

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
DROP VIEW as_of.region_tile_pieces;
SELECT drop_history_of('region_tile_pieces');
DROP TABLE region_tile_pieces;
DROP FUNCTION tile_pieces(geometry, integer);
