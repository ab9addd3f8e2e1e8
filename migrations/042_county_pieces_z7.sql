-- Counties at zoom 7 drawn from stored pieces, as at zooms 6, 8 and 9
-- (issue 17).
--
-- A tile of zoom 7 clipped and quantised its counties' 500 m shapes
-- (shape_z7) as it was made: over the east of the country some seventy
-- counties, 7–11 ms of PostgreSQL's time, the slowest tiles of the
-- national list once the crowded tiles of zooms 9 and 10 keep their
-- poverty villages only (tiles/layers.go). They are now cut into the
-- tiles of zoom 7 once, when their boundaries are written
-- (refresh_shapes, migrations/034_tile_pieces.sql), and a tile reads its
-- pieces by its address.
--
-- A shape of zoom 7 is made from the 500 m shape, the one the tiles of
-- zoom 7 drew, simplified to half a pixel as every stored shape is:
-- region_tile_shape took the 50 m one from zoom 7 on, as no zoom 7 was
-- stored.
CREATE OR REPLACE FUNCTION region_tile_zooms(level text) RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE level WHEN 'province' THEN ARRAY[0, 1, 2, 3] WHEN 'city' THEN ARRAY[4, 5]
                  WHEN 'county' THEN ARRAY[6, 7, 8, 9] WHEN 'township' THEN ARRAY[8, 9] ELSE '{}' END;

CREATE OR REPLACE FUNCTION region_tile_shape(shape_z7 geometry, shape_z10 geometry, z integer) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ST_Simplify(CASE WHEN z <= 7 THEN shape_z7 ELSE shape_z10 END, 40075016.685578488 / 1024 / 2 ^ z, true);

-- The counties' shapes and pieces of zoom 7, made as 030 and 034 made
-- those of the other zooms: each version from the shape's version over
-- the same time and by the same transaction, so that a tile of the past
-- draws them; today's rows are the versions that still hold.
INSERT INTO region_tile_shapes_history (code, z, shape, valid, txid)
SELECT h.code, 7, region_tile_shape(h.shape_z7, h.shape_z10, 7), h.valid, h.txid
FROM region_shapes_history h WHERE h.level = 'county';
INSERT INTO region_tile_pieces_history (z, x, y, code, level, geom, valid, txid)
SELECT 7, p.x, p.y, h.code, 'county', p.geom, h.valid, h.txid
FROM region_tile_shapes_history h CROSS JOIN LATERAL tile_pieces(h.shape, 7) p
WHERE h.z = 7
ORDER BY p.x, p.y, h.code;
ALTER TABLE region_tile_shapes DISABLE TRIGGER region_tile_shapes_history_ins;
ALTER TABLE region_tile_pieces DISABLE TRIGGER region_tile_pieces_history_ins;
INSERT INTO region_tile_shapes (code, z, shape)
SELECT code, z, shape FROM region_tile_shapes_history WHERE z = 7 AND upper_inf(valid);
INSERT INTO region_tile_pieces (z, x, y, code, level, geom)
SELECT z, x, y, code, level, geom FROM region_tile_pieces_history WHERE z = 7 AND upper_inf(valid)
ORDER BY x, y, code;
ALTER TABLE region_tile_shapes ENABLE TRIGGER region_tile_shapes_history_ins;
ALTER TABLE region_tile_pieces ENABLE TRIGGER region_tile_pieces_history_ins;

---- create above / drop below ----

-- The rows of zoom 7 go with their history: no tile read them before.
ALTER TABLE region_tile_shapes DISABLE TRIGGER region_tile_shapes_history_del;
ALTER TABLE region_tile_pieces DISABLE TRIGGER region_tile_pieces_history_del;
DELETE FROM region_tile_pieces WHERE z = 7;
DELETE FROM region_tile_shapes WHERE z = 7;
ALTER TABLE region_tile_shapes ENABLE TRIGGER region_tile_shapes_history_del;
ALTER TABLE region_tile_pieces ENABLE TRIGGER region_tile_pieces_history_del;
DELETE FROM region_tile_pieces_history WHERE z = 7;
DELETE FROM region_tile_shapes_history WHERE z = 7;
CREATE OR REPLACE FUNCTION region_tile_shape(shape_z7 geometry, shape_z10 geometry, z integer) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ST_Simplify(CASE WHEN z < 7 THEN shape_z7 ELSE shape_z10 END, 40075016.685578488 / 1024 / 2 ^ z, true);
CREATE OR REPLACE FUNCTION region_tile_zooms(level text) RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE level WHEN 'province' THEN ARRAY[0, 1, 2, 3] WHEN 'city' THEN ARRAY[4, 5]
                  WHEN 'county' THEN ARRAY[6, 8, 9] WHEN 'township' THEN ARRAY[8, 9] ELSE '{}' END;
