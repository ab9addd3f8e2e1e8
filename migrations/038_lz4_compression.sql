-- Geometries and JSON are compressed with LZ4 rather than PostgreSQL's
-- own pglz (issue 17).
--
-- A national load writes each boundary several times: the region, its
-- history, its simplified shapes and theirs, its tile shapes, and the
-- audit's JSON of the row. pglz compresses them slowly: the national
-- regions.geojson (43,600 boundaries, 11 million points) loaded in 101 s
-- with pglz and 87 s with LZ4, the shapes' refresh 54 → 48 s, the
-- history 11.3 → 6.4 s and the audit 12.8 → 9.6 s
-- (pg_stat_user_functions of two loads into fresh databases). LZ4 also
-- reads back faster, and the shapes took no more room (200 MB against
-- 211). Only values written from now on are compressed so; the others
-- are read as they are.
--
-- A server built without LZ4 keeps pglz: the columns are changed only
-- where PostgreSQL offers it.
DO $$
DECLARE
    c record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        RETURN;
    END IF;
    FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname
             FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
             WHERE t.relnamespace = 'public'::regnamespace AND t.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               AND a.atttypid IN ('geometry'::regtype, 'jsonb'::regtype)
             ORDER BY 1, 2 LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', c.tbl, c.attname);
    END LOOP;
END
$$;

---- create above / drop below ----

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname
             FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
             WHERE t.relnamespace = 'public'::regnamespace AND t.relkind IN ('r', 'p') AND a.attcompression = 'l'
             ORDER BY 1, 2 LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION default', c.tbl, c.attname);
    END LOOP;
END
$$;
