-- The rows a tile reads lie together on disk (issue 17).
--
-- A tile of zoom 9 over the plains of the east draws some 1,250
-- villages from region_rollups. refresh_rollups wrote a city's rows in
-- the order a hash join left them, so that the villages of one township
-- lay a page apart among those of the whole city: the villages of tile
-- 9/427/209 were on 966 pages of the table, each read from the operating
-- system when the tile is made cold, for 1,253 rows that fit in 60. A
-- tile of zoom 6 read its 247 counties' pieces from 241 pages. Rows
-- written in the order of their codes keep a township's villages, a
-- county's townships, together; pieces written in the order of their
-- tiles keep a tile's together. The same tile then reads 100 pages of
-- the rollups, and is made cold (PostgreSQL's buffers empty) in 21–25 ms
-- where it took 29–33 (BENCHMARKS.md).
--
-- The refreshes are changed in one statement each, where they write, and
-- the rows already written are put in that order once.

-- edit_function rewrites the definition of fn with the one occurrence of
-- old replaced by new: a migration that changes one statement of a long
-- function says only that, rather than copying the function twice (up
-- and down). It fails when old is not in the definition exactly once.
CREATE FUNCTION edit_function(fn regprocedure, old text, new text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    def text := pg_get_functiondef(fn);
BEGIN
    IF array_length(string_to_array(def, old), 1) IS DISTINCT FROM 2 THEN
        RAISE EXCEPTION 'edit_function: the definition of % holds the text to replace % times, not once: %', fn,
            coalesce(array_length(string_to_array(def, old), 1), 1) - 1, old;
    END IF;
    EXECUTE replace(def, old, new);
END
$$;
-- A migration's tool, as keep_history_of is (013): the servers' role has
-- no use for it.
REVOKE EXECUTE ON FUNCTION edit_function(regprocedure, text, text) FROM PUBLIC;

SELECT edit_function('refresh_rollups_now(text[])',
    'WHERE NOT EXISTS (SELECT FROM region_rollups o WHERE o.code = f.code);',
    'WHERE NOT EXISTS (SELECT FROM region_rollups o WHERE o.code = f.code)
    ORDER BY f.code;');
SELECT edit_function('refresh_shapes(text[])',
    'CROSS JOIN LATERAL tile_pieces(t.shape, t.z) p;',
    'CROSS JOIN LATERAL tile_pieces(t.shape, t.z) p
    ORDER BY t.z, p.x, p.y, t.code;');

CLUSTER region_rollups USING region_rollups_pkey;
CLUSTER region_tile_pieces USING region_tile_pieces_pkey;
ANALYZE region_rollups, region_tile_pieces;

---- create above / drop below ----

ALTER TABLE region_rollups SET WITHOUT CLUSTER;
ALTER TABLE region_tile_pieces SET WITHOUT CLUSTER;
SELECT edit_function('refresh_shapes(text[])',
    'CROSS JOIN LATERAL tile_pieces(t.shape, t.z) p
    ORDER BY t.z, p.x, p.y, t.code;',
    'CROSS JOIN LATERAL tile_pieces(t.shape, t.z) p;');
SELECT edit_function('refresh_rollups_now(text[])',
    'WHERE NOT EXISTS (SELECT FROM region_rollups o WHERE o.code = f.code)
    ORDER BY f.code;',
    'WHERE NOT EXISTS (SELECT FROM region_rollups o WHERE o.code = f.code);');
DROP FUNCTION edit_function(regprocedure, text, text);
