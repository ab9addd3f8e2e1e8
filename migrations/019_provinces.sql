-- Beyond one city: the province above the city, and the country above
-- the provinces, so that a national load has one top region (100000, the
-- code national data sets give the whole country). Both are optional: a
-- city may still be a top of its own (the demo's Zunyi, 520300, has no
-- province row), and a province may have no country above it.
--
-- The rollups stay as 008 made them, refreshed per county under a lock
-- per county: an edit rewrites its county's rows and nothing above them.
-- The figures of every region above the counties (a city, a province,
-- the country) are summed from the rows of the counties under it when
-- read, as a city's were; an index on the counties' lineage finds them,
-- so a read of the country sums its counties' rows (some thousands) and
-- no village's. Stored rows above the counties would make every edit in
-- a province, and in the country every edit at all, rewrite and lock the
-- same row until its commit: the writes of different counties, which 008
-- set apart, would wait for each other again.

-- above_counties says whether regions of level have no rollup rows of
-- their own but sum their counties': the levels above the county.
CREATE FUNCTION above_counties(level text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN level IN ('country', 'province', 'city');

-- parent_level_of is the level of the parent of a region of level: the
-- level above it, which a region above the counties may also lack.
CREATE FUNCTION parent_level_of(level text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE level WHEN 'province' THEN 'country' WHEN 'city' THEN 'province' WHEN 'county' THEN 'city'
                  WHEN 'township' THEN 'county' WHEN 'village' THEN 'township' END;

ALTER TABLE regions DROP CONSTRAINT regions_level_known;
ALTER TABLE regions ADD CONSTRAINT regions_level_known
    CHECK (level IN ('country', 'province', 'city', 'county', 'township', 'village'));
-- The code's form per level, as national statistical codes have it: the
-- country 100000, a province two digits and 0000, a city four and 00.
ALTER TABLE regions DROP CONSTRAINT regions_code_matches_level;
ALTER TABLE regions ADD CONSTRAINT regions_code_matches_level CHECK (
    (level = 'country' AND code = '100000') OR
    (level = 'province' AND code ~ '^[0-9]{2}0000$') OR
    (level = 'city' AND code ~ '^[0-9]{4}00$') OR
    (level = 'county' AND code ~ '^[0-9]{6}$') OR
    (level = 'township' AND code ~ '^[0-9]{9}$') OR
    (level = 'village' AND code ~ '^[0-9]{12}$'));

-- The parent-level rule of 003, extended: a city's parent is a province
-- or none, a province's the country or none, the country has none.
-- PostgreSQL 15 cannot change a generation expression, and a column
-- dropped and made again would leave sessions that cached the table's row
-- type unable to write it: the column becomes a plain one that a trigger
-- sets, before the foreign key checks it, whatever a writer gives.
ALTER TABLE regions ALTER COLUMN parent_level DROP EXPRESSION;
CREATE FUNCTION regions_parent_level() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.parent_level := CASE WHEN NEW.parent_code IS NOT NULL OR NOT above_counties(NEW.level) THEN parent_level_of(NEW.level) END;
    RETURN NEW;
END
$$;
CREATE TRIGGER regions_parent_level BEFORE INSERT OR UPDATE ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_parent_level();

DROP INDEX regions_above_counties_idx;
CREATE INDEX regions_above_counties_idx ON regions (code) WHERE above_counties(level);
-- The counties under a region above them, by their lineage.
CREATE INDEX region_rollups_county_lineage_gix ON region_rollups USING gin (lineage) WHERE level = 'county';
CREATE INDEX region_rollups_history_county_lineage_gix ON region_rollups_history USING gin (lineage) WHERE level = 'county';

-- region_figures: every region's figures; those of a region above the
-- counties summed, when read, from the rows of the counties whose
-- lineage holds it.
CREATE OR REPLACE VIEW region_figures AS
SELECT * FROM rollup_figures
UNION ALL
SELECT g.code, g.level, g.parent_code, g.name, g.poverty_status, g.exit_year, g.demonstration,
       ST_Transform(g.point, 3857)::geometry(Point, 3857),
       coalesce(a.villages, 0), coalesce(a.villages_not_exited, 0), coalesce(a.villages_exited, 0),
       coalesce(a.villages_demonstration, 0),
       coalesce(a.population, 0), coalesce(a.poor_households, 0), coalesce(a.poor_population, 0),
       coalesce(a.cooperatives, 0), coalesce(a.relocation_households, 0), coalesce(a.relocation_people, 0),
       coalesce(a.sites, 0), coalesce(a.site_capacity_people, 0), coalesce(a.site_moved_in_people, 0),
       average_of(a.site_progress_total, a.sites),
       coalesce(a.projects, 0), coalesce(a.projects_completed, 0), average_of(a.completion_total, a.projects),
       coalesce(a.funds_planned, 0), coalesce(a.funds_disbursed, 0),
       share_of(a.villages_exited, a.villages_not_exited + a.villages_exited),
       share_of(a.poor_population, a.population)
FROM regions g
CROSS JOIN LATERAL (
    SELECT sum(c.villages)::int AS villages, sum(c.villages_not_exited)::int AS villages_not_exited,
           sum(c.villages_exited)::int AS villages_exited, sum(c.villages_demonstration)::int AS villages_demonstration,
           sum(c.population)::bigint AS population, sum(c.poor_households)::bigint AS poor_households,
           sum(c.poor_population)::bigint AS poor_population, sum(c.cooperatives)::bigint AS cooperatives,
           sum(c.relocation_households)::bigint AS relocation_households, sum(c.relocation_people)::bigint AS relocation_people,
           sum(c.sites)::int AS sites, sum(c.site_capacity_people)::bigint AS site_capacity_people,
           sum(c.site_moved_in_people)::bigint AS site_moved_in_people, sum(c.site_progress_total)::bigint AS site_progress_total,
           sum(c.projects)::int AS projects, sum(c.projects_completed)::int AS projects_completed,
           sum(c.completion_total)::bigint AS completion_total,
           sum(c.funds_planned)::bigint AS funds_planned, sum(c.funds_disbursed)::bigint AS funds_disbursed
    FROM region_rollups c
    WHERE c.level = 'county' AND c.lineage @> ARRAY[g.code]
) a
WHERE above_counties(g.level);
-- The past's views of the figures follow today's definition (014).
SELECT as_of_views();

-- region_rows_at, as 015 made it, for every region above the counties.
CREATE OR REPLACE FUNCTION region_rows_at(region text, at timestamptz) RETURNS SETOF region_rollups_history
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT h.* FROM region_rollups_history h
    WHERE h.code = region AND h.valid @> at
    UNION ALL
    SELECT h.* FROM region_rollups_history h
    WHERE h.level = 'county' AND h.lineage @> ARRAY[region] AND h.valid @> at
      AND EXISTS (SELECT FROM regions g WHERE g.code = region AND above_counties(g.level))
$$;

-- region_timeline, as 015 made it, for every region above the counties.
CREATE OR REPLACE FUNCTION region_timeline(region text, bounds timestamptz[])
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
                   AND EXISTS (SELECT FROM regions g WHERE g.code = region AND above_counties(g.level))))
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

-- counties_under is the counties at or under the regions codes, walking
-- parent_code down only through the regions above the counties.
CREATE FUNCTION counties_under(codes text[]) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE down (code, level) AS (
        SELECT code, level FROM regions WHERE code = ANY (codes)
        UNION ALL
        SELECT r.code, r.level FROM down JOIN regions r ON r.parent_code = down.code WHERE above_counties(down.level)
    )
    SELECT coalesce(array_agg(code ORDER BY code), '{}') FROM down WHERE level = 'county'
$$;

-- flags_mark_under marks for the flags' refresh (018) the sites and
-- projects of counties: their flags' lineage runs through the counties'
-- ancestors. (The villages, townships and counties are marked by the
-- rewrite of their rollup rows.) It runs as the owner: the servers' role
-- may not write flags_pending.
CREATE FUNCTION flags_mark_under(counties text[]) RETURNS void LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    INSERT INTO flags_pending (subject)
    SELECT code FROM sites WHERE county_code = ANY (counties)
    UNION SELECT code FROM projects WHERE county_code = ANY (counties)
    ON CONFLICT DO NOTHING
$$;
REVOKE EXECUTE ON FUNCTION flags_mark_under(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flags_mark_under(text[]) TO battlemap_app;

-- A region above the counties filed under another parent (a city placed
-- under its province, a province under the country) changes the lineage
-- of every rollup row under it, by which its new ancestors sum their
-- counties, and of every flag under it: those counties are refreshed,
-- and the flags of their sites and projects. A rename or a new status
-- changes no lineage, and a new region has nothing under it yet.
CREATE FUNCTION rollups_on_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    counties text[];
BEGIN
    counties := counties_under(ARRAY(
        SELECT n.code FROM new_rows n JOIN old_rows o USING (code)
        WHERE above_counties(n.level) AND n.parent_code IS DISTINCT FROM o.parent_code));
    IF cardinality(counties) > 0 THEN
        PERFORM refresh_rollups(counties);
        PERFORM flags_mark_under(counties);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER regions_rollups_move AFTER UPDATE ON regions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_move();

---- create above / drop below ----

DROP TRIGGER regions_rollups_move ON regions;
DROP FUNCTION rollups_on_move();
DROP FUNCTION flags_mark_under(text[]);
DROP FUNCTION counties_under(text[]);

-- region_rows_at and region_timeline as 015 made them.
CREATE OR REPLACE FUNCTION region_rows_at(region text, at timestamptz) RETURNS SETOF region_rollups_history
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT h.* FROM region_rollups_history h
    WHERE h.code = region AND h.valid @> at
    UNION ALL
    SELECT h.* FROM region_rollups_history h
    WHERE h.level = 'county' AND h.lineage @> ARRAY[region] AND h.valid @> at
      AND EXISTS (SELECT FROM regions g WHERE g.code = region AND g.level = 'city')
$$;

CREATE OR REPLACE FUNCTION region_timeline(region text, bounds timestamptz[])
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

-- region_figures as 011 made it.
CREATE OR REPLACE VIEW region_figures AS
SELECT * FROM rollup_figures
UNION ALL
SELECT g.code, g.level, g.parent_code, g.name, g.poverty_status, g.exit_year, g.demonstration,
       ST_Transform(g.point, 3857)::geometry(Point, 3857),
       coalesce(a.villages, 0), coalesce(a.villages_not_exited, 0), coalesce(a.villages_exited, 0),
       coalesce(a.villages_demonstration, 0),
       coalesce(a.population, 0), coalesce(a.poor_households, 0), coalesce(a.poor_population, 0),
       coalesce(a.cooperatives, 0), coalesce(a.relocation_households, 0), coalesce(a.relocation_people, 0),
       coalesce(a.sites, 0), coalesce(a.site_capacity_people, 0), coalesce(a.site_moved_in_people, 0),
       average_of(a.site_progress_total, a.sites),
       coalesce(a.projects, 0), coalesce(a.projects_completed, 0), average_of(a.completion_total, a.projects),
       coalesce(a.funds_planned, 0), coalesce(a.funds_disbursed, 0),
       share_of(a.villages_exited, a.villages_not_exited + a.villages_exited),
       share_of(a.poor_population, a.population)
FROM regions g
LEFT JOIN (
    SELECT u.code,
           sum(c.villages)::int AS villages, sum(c.villages_not_exited)::int AS villages_not_exited,
           sum(c.villages_exited)::int AS villages_exited, sum(c.villages_demonstration)::int AS villages_demonstration,
           sum(c.population)::bigint AS population, sum(c.poor_households)::bigint AS poor_households,
           sum(c.poor_population)::bigint AS poor_population, sum(c.cooperatives)::bigint AS cooperatives,
           sum(c.relocation_households)::bigint AS relocation_households, sum(c.relocation_people)::bigint AS relocation_people,
           sum(c.sites)::int AS sites, sum(c.site_capacity_people)::bigint AS site_capacity_people,
           sum(c.site_moved_in_people)::bigint AS site_moved_in_people, sum(c.site_progress_total)::bigint AS site_progress_total,
           sum(c.projects)::int AS projects, sum(c.projects_completed)::int AS projects_completed,
           sum(c.completion_total)::bigint AS completion_total,
           sum(c.funds_planned)::bigint AS funds_planned, sum(c.funds_disbursed)::bigint AS funds_disbursed
    FROM region_rollups c CROSS JOIN LATERAL unnest(c.lineage[1:cardinality(c.lineage) - 1]) u (code)
    WHERE c.level = 'county'
    GROUP BY u.code
) a ON a.code = g.code
WHERE g.level = 'city';
SELECT as_of_views();

DROP INDEX region_rollups_history_county_lineage_gix, region_rollups_county_lineage_gix, regions_above_counties_idx;
CREATE INDEX regions_above_counties_idx ON regions (code) WHERE level = 'city';

-- Back to 003's parent rule and 001's levels and codes (which refuse any
-- province or country row still there).
DROP TRIGGER regions_parent_level ON regions;
DROP FUNCTION regions_parent_level();
ALTER TABLE regions DROP COLUMN parent_level;
ALTER TABLE regions ADD COLUMN parent_level text GENERATED ALWAYS AS (
    CASE level WHEN 'county' THEN 'city' WHEN 'township' THEN 'county' WHEN 'village' THEN 'township' END) STORED;
ALTER TABLE regions ADD CONSTRAINT regions_parent_level_fkey FOREIGN KEY (parent_code, parent_level)
    REFERENCES regions (code, level) MATCH FULL;
ALTER TABLE regions DROP CONSTRAINT regions_code_matches_level;
ALTER TABLE regions ADD CONSTRAINT regions_code_matches_level CHECK (
    (level IN ('city', 'county') AND code ~ '^[0-9]{6}$') OR
    (level = 'township' AND code ~ '^[0-9]{9}$') OR
    (level = 'village' AND code ~ '^[0-9]{12}$'));
ALTER TABLE regions DROP CONSTRAINT regions_level_known;
ALTER TABLE regions ADD CONSTRAINT regions_level_known CHECK (level IN ('city', 'county', 'township', 'village'));
DROP FUNCTION parent_level_of(text);
DROP FUNCTION above_counties(text);
