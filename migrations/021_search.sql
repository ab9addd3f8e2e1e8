-- Search by name or code that stays fast with a country's regions
-- (some 660,000 rows): every tier of geo.Search is served by an index.
--
-- Names are matched by their character n-grams of one and two
-- characters. A trigram index (pg_trgm) narrows LIKE '%…%' only for
-- patterns of three characters or more, and Chinese place names are
-- short: 遵义, 花茂 and 新华 are what people type. name_grams is every
-- character and every pair of neighbouring characters of a name; a name
-- holds q only if its n-grams hold query_grams(q) (q's characters when it
-- has one, else its pairs), which the GIN index answers, and strpos then
-- confirms. The figures are in BENCHMARKS.md.

-- name_grams is the n-grams of name: its characters and its pairs of
-- neighbouring characters, each once.
CREATE FUNCTION name_grams(name text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
        SELECT substr(name, i, 1) FROM generate_series(1, length(name)) i
        UNION ALL
        SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) i
    ) x (g)
$$;

-- query_grams is what name_grams of a name that holds q holds of q: q
-- itself when it is one character, else each pair of its neighbouring
-- characters.
CREATE FUNCTION query_grams(q text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT CASE WHEN length(q) <= 1 THEN ARRAY[q]
                ELSE ARRAY(SELECT substr(q, i, 2) FROM generate_series(1, length(q) - 1) i) END
$$;

-- level_rank orders the levels from the top down, as the catalogue lists
-- them (geo.RegionLevels; a test holds the two together). Matches of
-- the same quality come from the top down.
CREATE FUNCTION level_rank(level text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_position(ARRAY['country', 'province', 'city', 'county', 'township', 'village'], level);

-- The tiers of a name search: the name or short name is q (equality,
-- byte-wise), it starts with q (a range of the byte-wise order), it
-- holds q (the n-grams). The last index lists regions in the order
-- matches are ranked in, so that for a character most names hold (村)
-- the first few that hold it are found without sorting them all.
CREATE INDEX regions_name_bytes_idx ON regions (name COLLATE "C");
CREATE INDEX regions_short_name_idx ON regions (short_name(name));
CREATE INDEX regions_name_grams_gin ON regions USING gin (name_grams(name));
CREATE INDEX regions_search_rank_idx ON regions (level_rank(level), length(name), code COLLATE "C");

-- A code search reads the codes of one length that start with q, in
-- byte order.
CREATE INDEX regions_code_length_idx ON regions (length(code), code COLLATE "C");

---- create above / drop below ----
DROP INDEX regions_code_length_idx;
DROP INDEX regions_search_rank_idx;
DROP INDEX regions_name_grams_gin;
DROP INDEX regions_short_name_idx;
DROP INDEX regions_name_bytes_idx;
DROP FUNCTION level_rank(text);
DROP FUNCTION query_grams(text);
DROP FUNCTION name_grams(text);
