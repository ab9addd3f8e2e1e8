-- The timeline: how a region's figures moved over a period, step by step
-- ("1–6月减贫10.3万人，占年度目标51%"), read from the history of the
-- rollups that 014 keeps. Every figure here is a rollup row as it stood,
-- made by refresh_rollups when it held, or the difference between two
-- consecutive versions of one: nothing is recomputed from the base
-- tables by a second definition.
--
-- A region's own rows are its rollup row; a city has none (region_figures
-- sums its counties when read), so a city's own rows are its counties'
-- rows, those whose lineage holds the city. Its villages are the village
-- rows whose lineage holds it: a village's lineage runs from the top down
-- to itself, so a village is its own only village.

-- region_rows_at are the rows that make up region's figures at the moment
-- at: its rollup row that held then, or for a city its counties'.
CREATE FUNCTION region_rows_at(region text, at timestamptz) RETURNS SETOF region_rollups_history
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT h.* FROM region_rollups_history h
    WHERE h.code = region AND h.valid @> at
    UNION ALL
    SELECT h.* FROM region_rollups_history h
    WHERE h.level = 'county' AND h.lineage @> ARRAY[region] AND h.valid @> at
      AND EXISTS (SELECT FROM regions g WHERE g.code = region AND g.level = 'city')
$$;

-- region_stocks are region's stocks at the moment at, the sums of
-- region_rows_at: what the region counted then. All are 0 before the
-- region has a row.
CREATE FUNCTION region_stocks(region text, at timestamptz,
    OUT population bigint, OUT poor_households bigint, OUT poor_population bigint,
    OUT villages_not_exited bigint, OUT villages_exited bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(r.population), 0)::bigint, coalesce(sum(r.poor_households), 0)::bigint,
           coalesce(sum(r.poor_population), 0)::bigint,
           coalesce(sum(r.villages_not_exited), 0)::bigint, coalesce(sum(r.villages_exited), 0)::bigint
    FROM region_rows_at(region, at) r
$$;

-- region_timeline is region's timeline over the steps bounds delimit:
-- step n runs from bounds[n] (included) to bounds[n + 1] (excluded), so n
-- bounds make n − 1 steps, in order. For each step:
--
-- Stocks at the step's close (as the last moment before its end saw them,
-- region_stocks): poor_households, poor_population, villages_not_exited,
-- villages_exited.
--
-- Flows during the step, from the versions that began in it, each
-- compared with the version of the same row before it:
-- * from the region's villages (village rows whose lineage holds the
--   region): people_out, the falls of a village's poor_population
--   (people lifted out of poverty); people_in, its rises (people who fell
--   back into poverty, or newly registered), a new village's poor people
--   included; villages_exit, villages whose status went from not_exited
--   to exited; villages_returned, from exited back to not_exited (返贫);
--   villages_entered, villages that became not_exited from none or from
--   nothing (a new village). (villages_exit is the answer's flows'
--   villages_exited, named apart from the stock here.) A village row
--   with no version before it is new only when it begins after the
--   history does: the rows the history starts with are where it starts,
--   not a change.
-- * from the region's own rows (the counties' for a city): the rises,
--   never the falls, of site_moved_in_people (people_moved_in),
--   projects_completed, funds_disbursed, projects (projects_funded) and
--   funds_planned between consecutive versions.
CREATE FUNCTION region_timeline(region text, bounds timestamptz[])
RETURNS TABLE (step_start timestamptz, step_end timestamptz,
               poor_households bigint, poor_population bigint, villages_not_exited bigint, villages_exited bigint,
               people_out bigint, people_in bigint, villages_exit bigint, villages_returned bigint, villages_entered bigint,
               people_moved_in bigint, projects_completed bigint, funds_disbursed bigint, projects_funded bigint,
               funds_planned bigint)
-- A timeline reads some thousands of versions: compiling its plan (JIT,
-- which the planner's estimates of a city's versions over a year call
-- for) takes longer than running it.
LANGUAGE sql STABLE PARALLEL SAFE SET jit = off AS $$
    -- The versions of the region's villages that held in the period or
    -- up to its start (the range from a microsecond before it: one index
    -- condition, the time's, which for a city is the one that selects),
    -- each with the version of the same village before it (p_…, NULL for
    -- none): those that began in the period are its changes, and the
    -- version before each of them ends where it begins, so is among these.
    WITH villages AS (
        SELECT lower(v.valid) AS at, v.poverty_status AS now, v.poor_population,
               lag(v.poor_population) OVER w AS p_poor_population, lag(v.poverty_status) OVER w AS was,
               lag(v.code) OVER w AS p_code
        FROM region_rollups_history v
        WHERE v.level = 'village' AND v.lineage @> ARRAY[region]
          AND v.valid && tstzrange(bounds[1] - interval '1 microsecond', bounds[cardinality(bounds)])
        WINDOW w AS (PARTITION BY v.code ORDER BY lower(v.valid))
    ),
    village_changes AS (
        SELECT v.at,
               greatest(coalesce(v.p_poor_population, 0) - v.poor_population, 0) AS fell,
               greatest(v.poor_population - coalesce(v.p_poor_population, 0), 0) AS rose,
               v.was, v.now, v.p_code IS NULL AS new
        FROM villages v
        WHERE v.at >= bounds[1]
          AND (v.p_code IS NOT NULL OR v.at > (SELECT lower(history_span())))
    ),
    -- The same of the region's own rows, with the rises from the version
    -- before each.
    own AS (
        SELECT lower(v.valid) AS at,
               v.site_moved_in_people - lag(v.site_moved_in_people) OVER w AS moved_in,
               v.projects_completed - lag(v.projects_completed) OVER w AS completed,
               v.funds_disbursed - lag(v.funds_disbursed) OVER w AS disbursed,
               v.projects - lag(v.projects) OVER w AS funded,
               v.funds_planned - lag(v.funds_planned) OVER w AS planned
        FROM region_rollups_history v
        WHERE (v.code = region
               OR (v.level = 'county' AND v.lineage @> ARRAY[region]
                   AND EXISTS (SELECT FROM regions g WHERE g.code = region AND g.level = 'city')))
          AND v.valid && tstzrange(bounds[1] - interval '1 microsecond', bounds[cardinality(bounds)])
        WINDOW w AS (PARTITION BY v.code ORDER BY lower(v.valid))
    ),
    own_changes AS (
        SELECT o.at, greatest(o.moved_in, 0) AS moved_in, greatest(o.completed, 0) AS completed,
               greatest(o.disbursed, 0) AS disbursed, greatest(o.funded, 0) AS funded, greatest(o.planned, 0) AS planned
        FROM own o
        WHERE o.at >= bounds[1]
    )
    SELECT b[n], b[n + 1],
           k.poor_households, k.poor_population, k.villages_not_exited, k.villages_exited,
           coalesce(vc.fell, 0), coalesce(vc.rose, 0), coalesce(vc.exited, 0), coalesce(vc.returned, 0),
           coalesce(vc.entered, 0),
           coalesce(oc.moved_in, 0), coalesce(oc.completed, 0), coalesce(oc.disbursed, 0), coalesce(oc.funded, 0),
           coalesce(oc.planned, 0)
    FROM (SELECT bounds AS b) s
    CROSS JOIN generate_series(1, cardinality(bounds) - 1) n
    CROSS JOIN LATERAL region_stocks(region, b[n + 1] - interval '1 microsecond') k
    -- width_bucket finds the step a change falls in by bisecting the
    -- bounds: the n of bounds[n] <= at < bounds[n + 1].
    LEFT JOIN (
        SELECT width_bucket(c.at, bounds) AS n, sum(c.fell)::bigint AS fell, sum(c.rose)::bigint AS rose,
               count(*) FILTER (WHERE c.was = 'not_exited' AND c.now = 'exited') AS exited,
               count(*) FILTER (WHERE c.was = 'exited' AND c.now = 'not_exited') AS returned,
               count(*) FILTER (WHERE (c.was = 'none' OR c.new) AND c.now = 'not_exited') AS entered
        FROM village_changes c
        GROUP BY 1
    ) vc USING (n)
    LEFT JOIN (
        SELECT width_bucket(c.at, bounds) AS n, sum(c.moved_in)::bigint AS moved_in, sum(c.completed)::bigint AS completed,
               sum(c.disbursed)::bigint AS disbursed, sum(c.funded)::bigint AS funded, sum(c.planned)::bigint AS planned
        FROM own_changes c
        GROUP BY 1
    ) oc USING (n)
    ORDER BY n
$$;

-- region_target_at is region's target for year as it stood at the moment
-- at (no row when it had none then), with the shares of it that a
-- period's people lifted out (out_people), villages exited (out_villages)
-- and people moved in (moved_in) reached: four places (share_of), none
-- where the target sets no figure.
CREATE FUNCTION region_target_at(region text, year integer, at timestamptz,
                                 out_people bigint, out_villages bigint, moved_in bigint)
RETURNS TABLE (poor_people_out integer, villages_exit integer, relocation_people integer,
               poor_people_out_share float8, villages_exit_share float8, relocation_people_share float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.poor_people_out, t.villages_exit, t.relocation_people,
           share_of(out_people, t.poor_people_out), share_of(out_villages, t.villages_exit),
           share_of(moved_in, t.relocation_people)
    FROM region_targets_history t
    WHERE t.region_code = region AND t.year = region_target_at.year AND t.valid @> at
$$;

-- village_state is what the drill-down's before/after compare shows of a
-- version of a village's rollup row: its status and poor figures.
CREATE FUNCTION village_state(h region_rollups_history) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN jsonb_build_object('status', h.poverty_status, 'poor_households', h.poor_households,
                          'poor_population', h.poor_population, 'population', h.population, 'exit_year', h.exit_year);

-- village_record is what a village's history follows of its rollup row:
-- village_state and what was done for it. A version of the row that
-- changes none of these (a project's funds planned, a renamed township)
-- is no version of the village's record.
CREATE FUNCTION village_record(h region_rollups_history) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN village_state(h) || jsonb_build_object('cooperatives', h.cooperatives, 'relocation_people', h.relocation_people,
                                              'projects', h.projects, 'projects_completed', h.projects_completed,
                                              'funds_disbursed', h.funds_disbursed);

-- history_span, as 014 made it, counted every version to tell an empty
-- history from none (HAVING count(*) > 0), which no index answers; the
-- least start alone is NULL for an empty one, and the index on the starts
-- gives it at once. The timeline asks for it on every read.
CREATE OR REPLACE FUNCTION history_span() RETURNS tstzrange LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tstzrange(b, now(), '[]') FROM (SELECT min(lower(valid)) AS b FROM region_rollups_history) s WHERE b IS NOT NULL
$$;

-- A timeline of a township or a village finds its villages' versions by
-- lineage, not by time: over a year the versions of a city's villages
-- outnumber one village's by thousands.
CREATE INDEX region_rollups_history_lineage_gix ON region_rollups_history USING gin (lineage) WHERE level = 'village';

---- create above / drop below ----

-- As 014 made it.
CREATE OR REPLACE FUNCTION history_span() RETURNS tstzrange LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tstzrange(min(lower(valid)), now(), '[]') FROM region_rollups_history HAVING count(*) > 0
$$;

DROP INDEX region_rollups_history_lineage_gix;
DROP FUNCTION region_target_at(text, integer, timestamptz, bigint, bigint, bigint);
DROP FUNCTION region_timeline(text, timestamptz[]);
DROP FUNCTION region_stocks(text, timestamptz);
DROP FUNCTION region_rows_at(text, timestamptz);
DROP FUNCTION village_record(region_rollups_history);
DROP FUNCTION village_state(region_rollups_history);
