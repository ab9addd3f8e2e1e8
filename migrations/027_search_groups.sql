-- Search at national scale (issue 17), the names that hold q past their
-- first character: read group by group, a group being the names of one
-- level and one length, in the order matches are ranked in (level, then
-- length, then code). Read whole, from the n-gram index and sorted, a
-- fragment tens of thousands of names share cost the sort of all of
-- them (社区居委会 in 45,600 names: 64 ms); read by walking the rank
-- index, it cost the walk past every name before the first that holds
-- it (the 350,000 shorter ones). Now each group is read the cheaper way
-- for it (geo/search.go): its first names by code, which finds the
-- matches of a group where many names hold q; else the n-gram index,
-- whose keys carry the group, so that a group that holds q in few names
-- or none costs a few index pages; else, a group holding it in hundreds
-- of names or more, the walk again. A search stops at the group that
-- completes its matches.

-- ranked_grams is the n-grams of name (its characters and its pairs of
-- neighbouring characters, each once, as 021's name_grams made them),
-- each prefixed by the name's group: level_rank(level) and length(name).
-- It makes them itself rather than calling name_grams, whose call per
-- name would cost an index build over a country's names three times as
-- long (18 s against 5 s).
CREATE FUNCTION ranked_grams(level text, name text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT level_rank(level) || '/' || length(name) || '/' || g), '{}') FROM (
        SELECT substr(name, i, 1) FROM generate_series(1, length(name)) i
        UNION ALL
        SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) i
    ) x (g)
$$;

-- ranked_query_grams is what ranked_grams of a name of level rank lr and
-- length len that holds q holds of q: query_grams(q) prefixed the same way.
CREATE FUNCTION ranked_query_grams(q text, lr integer, len integer) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT ARRAY(SELECT lr || '/' || len || '/' || g FROM unnest(query_grams(q)) g)
$$;

CREATE INDEX regions_ranked_grams_gin ON regions USING gin (ranked_grams(level, name));

-- The n-gram index of 021, its function and the estimate of 025 that
-- chose between reading it and the walk served the search alone.
DROP FUNCTION gram_matches(text);
DROP INDEX regions_name_grams_gin;
DROP FUNCTION name_grams(text);

---- create above / drop below ----
CREATE FUNCTION name_grams(name text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
        SELECT substr(name, i, 1) FROM generate_series(1, length(name)) i
        UNION ALL
        SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) i
    ) x (g)
$$;
CREATE INDEX regions_name_grams_gin ON regions USING gin (name_grams(name));
ALTER INDEX regions_name_grams_gin ALTER COLUMN 1 SET STATISTICS 1000;
CREATE FUNCTION gram_matches(q text) RETURNS bigint LANGUAGE plpgsql STRICT AS $$
DECLARE
    gram  text;
    plan  json;
    least bigint;
BEGIN
    FOREACH gram IN ARRAY query_grams(q) LOOP
        EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM regions WHERE name_grams(name) @> ARRAY[$1]' INTO plan USING gram;
        least := least((plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint, least);
    END LOOP;
    RETURN least;
END
$$;
DROP INDEX regions_ranked_grams_gin;
DROP FUNCTION ranked_query_grams(text, integer, integer);
DROP FUNCTION ranked_grams(text, text);
