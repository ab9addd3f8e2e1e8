-- Search at national scale (issue 17): names containing a query are read
-- by one of two plans, and the planner alone picked the wrong one. Its
-- rank index (021) walked in rank order finds the first matches of a
-- common query (村) at once, but for a rarer one it walks the whole
-- index: 张家 inside 1,300 of 649,000 names took 260 ms by the walk and
-- 2 ms by the n-gram index and a sort. The planner's estimate of how many
-- names match is good (1,459 for those 1,515); what it cannot know is
-- that the matches lie at the far end of the rank order. So the search
-- asks for that estimate first (gram_matches) and, where it is a few
-- thousand, takes the n-gram index and sorts (geo/search.go).
--
-- The estimates come from the statistics of the n-gram expression: a
-- larger sample keeps the frequencies of more n-grams, as of the names'
-- own column, which the prefix tier's range reads (村 as a prefix: 198
-- ms by the walk before, 1 ms by the name index).
ALTER TABLE regions ALTER COLUMN name SET STATISTICS 1000;
ALTER INDEX regions_name_grams_gin ALTER COLUMN 1 SET STATISTICS 1000;

-- gram_matches bounds how many regions' names hold the n-grams of q: the
-- planner's estimate for its rarest n-gram alone (the estimate for all
-- of them together multiplies their frequencies as if independent, and
-- put 社区居委会 in 649 names where 47,000 hold it). It is read from plans,
-- not counted, so that it costs the same for 村 as for 花茂. EXPLAIN is
-- allowed only in a volatile function: a search calls it once, as an
-- uncorrelated subquery.
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

-- prefix_matches is the planner's estimate of how many names start with
-- q, which the prefix tier reads the same two ways (张家 as a prefix: 41
-- ms by the walk, under 1 ms by the name index).
CREATE FUNCTION prefix_matches(q text) RETURNS bigint LANGUAGE plpgsql STRICT AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) SELECT FROM regions WHERE name COLLATE "C" > $1 AND name COLLATE "C" < $1 || chr(1114111)'
        INTO plan USING q;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;

---- create above / drop below ----
DROP FUNCTION prefix_matches(text);
DROP FUNCTION gram_matches(text);
ALTER INDEX regions_name_grams_gin ALTER COLUMN 1 SET STATISTICS -1;
ALTER TABLE regions ALTER COLUMN name SET STATISTICS -1;
