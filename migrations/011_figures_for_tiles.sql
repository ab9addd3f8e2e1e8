-- Tiles and the collections of counties, townships and villages paid
-- for 008's region_figures, found by timing one tile's SQL
-- (BenchmarkTileSQL: a z14 tile took 13.5 ms, where it took 0.9 ms
-- before 008):
--
-- * Its two branches (the stored rows, and a city's summed from its
--   counties') gave the point column different types, geometry(Point,
--   3857) and plain geometry; PostgreSQL does not push a condition on
--   such a column into the branches of a UNION ALL, so a tile's test of
--   the point against its envelope came after reading every rollup row.
-- * A join to it by code (a tile's shapes, a collection's regions) cannot
--   look each code up in the rollups' primary key, since the summed
--   branch offers no such path: it read and computed every row instead.
--
-- So the figures of counties and what lies under them, which is all that
-- tiles and those collections read, are a view of their own over the
-- stored rows (rollup_figures), which the planner sees through; and
-- region_figures is that view and the cities' sums, with the point of
-- one type. The ratios are functions, so that both say them once.
--
-- Also: the factor layers are drawn by their position in EPSG:3857, as
-- sites and projects are, but 009 indexed only their position in
-- EPSG:4326, so each tile read every hazard zone, road and service.

DROP VIEW region_figures;

-- average_of is the mean of n values that add up to total (none for no
-- values); share_of is part ÷ whole to four places (none of nothing).
CREATE FUNCTION average_of(total bigint, n integer) RETURNS real LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN n > 0 THEN (total::numeric / n)::real END;
CREATE FUNCTION share_of(part bigint, whole bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN whole > 0 THEN round(part::numeric / whole, 4)::float8 END;

-- rollup_figures: the figures of counties, townships and villages, as
-- stored, with the ratios every reader shows.
CREATE VIEW rollup_figures AS
SELECT r.code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year, r.demonstration, r.point,
       r.villages, r.villages_not_exited, r.villages_exited, r.villages_demonstration,
       r.population, r.poor_households, r.poor_population, r.cooperatives, r.relocation_households, r.relocation_people,
       r.sites, r.site_capacity_people, r.site_moved_in_people, average_of(r.site_progress_total, r.sites) AS site_progress_avg,
       r.projects, r.projects_completed, average_of(r.completion_total, r.projects) AS completion_avg,
       r.funds_planned, r.funds_disbursed,
       share_of(r.villages_exited, r.villages_not_exited + r.villages_exited) AS share_exited,
       share_of(r.poor_population, r.population) AS poverty_incidence
FROM region_rollups r;

-- region_figures: every region's figures, a city's summed from its
-- counties' rows when read.
CREATE VIEW region_figures AS
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

CREATE INDEX hazard_zones_geom_3857_gix ON hazard_zones USING gist (ST_Transform(geom, 3857));
CREATE INDEX roads_geom_3857_gix ON roads USING gist (ST_Transform(geom, 3857));
CREATE INDEX services_geom_3857_gix ON services USING gist (ST_Transform(geom, 3857));

---- create above / drop below ----

DROP INDEX services_geom_3857_gix, roads_geom_3857_gix, hazard_zones_geom_3857_gix;
DROP VIEW region_figures;
DROP VIEW rollup_figures;
DROP FUNCTION share_of(bigint, bigint);
DROP FUNCTION average_of(bigint, integer);
-- As 008 made it.
CREATE VIEW region_figures AS
WITH above AS (
    SELECT a.code,
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
    FROM region_rollups c CROSS JOIN LATERAL unnest(c.lineage[1:cardinality(c.lineage) - 1]) a (code)
    WHERE c.level = 'county'
    GROUP BY a.code
), rows AS (
    SELECT code, level, parent_code, name, poverty_status, exit_year, demonstration, point,
           villages, villages_not_exited, villages_exited, villages_demonstration,
           population, poor_households, poor_population, cooperatives, relocation_households, relocation_people,
           sites, site_capacity_people, site_moved_in_people, site_progress_total,
           projects, projects_completed, completion_total, funds_planned, funds_disbursed
    FROM region_rollups
    UNION ALL
    SELECT g.code, g.level, g.parent_code, g.name, g.poverty_status, g.exit_year, g.demonstration, ST_Transform(g.point, 3857),
           coalesce(a.villages, 0), coalesce(a.villages_not_exited, 0), coalesce(a.villages_exited, 0),
           coalesce(a.villages_demonstration, 0),
           coalesce(a.population, 0), coalesce(a.poor_households, 0), coalesce(a.poor_population, 0),
           coalesce(a.cooperatives, 0), coalesce(a.relocation_households, 0), coalesce(a.relocation_people, 0),
           coalesce(a.sites, 0), coalesce(a.site_capacity_people, 0), coalesce(a.site_moved_in_people, 0),
           coalesce(a.site_progress_total, 0),
           coalesce(a.projects, 0), coalesce(a.projects_completed, 0), coalesce(a.completion_total, 0),
           coalesce(a.funds_planned, 0), coalesce(a.funds_disbursed, 0)
    FROM regions g LEFT JOIN above a ON a.code = g.code
    WHERE g.level = 'city'
)
SELECT r.code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year, r.demonstration, r.point,
       r.villages, r.villages_not_exited, r.villages_exited, r.villages_demonstration,
       r.population, r.poor_households, r.poor_population, r.cooperatives, r.relocation_households, r.relocation_people,
       r.sites, r.site_capacity_people, r.site_moved_in_people,
       CASE WHEN r.sites > 0 THEN (r.site_progress_total::numeric / r.sites)::real END AS site_progress_avg,
       r.projects, r.projects_completed,
       CASE WHEN r.projects > 0 THEN (r.completion_total::numeric / r.projects)::real END AS completion_avg,
       r.funds_planned, r.funds_disbursed,
       CASE WHEN r.villages_not_exited + r.villages_exited > 0
            THEN round(r.villages_exited::numeric / (r.villages_not_exited + r.villages_exited), 4)::float8
       END AS share_exited,
       CASE WHEN r.population > 0 THEN round(r.poor_population::numeric / r.population, 4)::float8 END AS poverty_incidence
FROM rows r;
