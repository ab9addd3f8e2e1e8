-- Search at national scale (issue 17): a search asks the n-gram index
-- of 027 for q's n-grams in each group of names (a level, a length), up
-- to some 90 groups, and 027's ranked_query_grams made each group's keys
-- with a subquery, which kept PostgreSQL from inlining it: every call
-- ran the function's own statement, some 30 µs, twice a group (the
-- index condition and its recheck), where the index probe itself costs
-- 5 µs. Most of a rare name's search (贵州, 遵义: no name holds them
-- past its first character, so every group is asked) went there.
--
-- Now it takes q's n-grams (query_grams(q), which a search makes once)
-- rather than q, and is one expression, which PostgreSQL inlines into
-- the search's statement: a group's keys cost a few string operations.
-- The grams are joined and split again on chr(1): a search's q holds no
-- control character (geo.SearchQuery.Check), so neither do its grams.
-- PostgreSQL inlines a function only where the expression keeps what it
-- declares: so it is not STRICT, since string_to_array is not (the
-- result for a NULL argument is NULL), and STABLE, since array_to_string
-- is (no index holds it, so IMMUTABLE served nothing).
DROP FUNCTION ranked_query_grams(text, integer, integer);
CREATE FUNCTION ranked_query_grams(grams text[], lr integer, len integer) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE
RETURN string_to_array(lr::text || '/' || len::text || '/' || array_to_string(grams, chr(1) || lr::text || '/' || len::text || '/'), chr(1));

-- The first names of a group by code, which a search reads in every
-- group it steps through (geo/search.go), are read from the rank index
-- of 021 alone, without a visit to each name's row: the index carries
-- the level and the name a search tests. 花茂, in no name past its first
-- character, steps through all 94 groups of a country: 52 µs a group
-- from the table, 16 µs from the index alone.
DROP INDEX regions_search_rank_idx;
CREATE INDEX regions_search_rank_idx ON regions (level_rank(level), length(name), code COLLATE "C") INCLUDE (level, name);

---- create above / drop below ----
DROP INDEX regions_search_rank_idx;
CREATE INDEX regions_search_rank_idx ON regions (level_rank(level), length(name), code COLLATE "C");
DROP FUNCTION ranked_query_grams(text[], integer, integer);
CREATE FUNCTION ranked_query_grams(q text, lr integer, len integer) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT ARRAY(SELECT lr || '/' || len || '/' || g FROM unnest(query_grams(q)) g)
$$;
