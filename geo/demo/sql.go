package demo

import (
	"slices"
	"time"

	"github.com/zunyi/battlemap/geo"
)

// sqlTruncate clears all map data (not the audit log, which is
// append-only, nor the data versions, which only move forward: the
// counties' rows stay, and the load moves them on). The factor layers
// of the suitability analysis, terrain included, lie in regions too, and
// go with them. Then the history goes too, every table of it, those of
// the rollups included, which the clearing itself has just written to:
// the load writes its own past, from 2016-01-01, and a change may not be
// dated before a version it follows, so the versions of the data
// replaced (which began when it was loaded) would refuse it. Only the
// owner may do this; the servers' role may neither truncate the tables
// nor write the history. The registry's events go with the regions they
// are of. The exit standards are no demo data: they stay, with their
// history.
const sqlTruncate = `TRUNCATE projects, relocation_assignments, sites, villages, hazard_zones, roads, services, region_targets,
    terrain, terrain_slope, registry_events, regions;
DO $$
BEGIN
    EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', relname), ', ') FROM pg_class
             WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname LIKE '%\_history'
               AND relname <> 'exit_standards_history');
END
$$`

// sqlStaging makes the staging tables the data files are copied into. Their
// columns are the files' header rows, so COPY … HEADER MATCH checks them.
// The villages, sites and projects files name the catalogue's fields,
// which the importer's upserts read (geo.Table.UpsertSQL). Flags are 1 or
// 0 in the files, which PostgreSQL reads as booleans.
const sqlStaging = `
CREATE TEMP TABLE demo_city (code text, name text) ON COMMIT DROP;
CREATE TEMP TABLE demo_counties (code text, name text, wkb bytea) ON COMMIT DROP;
CREATE TEMP TABLE demo_townships (
    code text, name text, county_code text, lon float8, lat float8,
    poverty_status text, exit_year smallint, demonstration boolean) ON COMMIT DROP;
CREATE TEMP TABLE demo_villages (
    code text, name text, township_code text, county_code text, lon float8, lat float8,
    poverty_status text, exit_year smallint, poor_households int, poor_population int, population int,
    demonstration boolean, pairing_level text, pairing_unit text, cooperatives int) ON COMMIT DROP;
CREATE TEMP TABLE demo_sites (
    code text, name text, type text, county_code text, township_code text, lon float8, lat float8,
    capacity_households int, capacity_people int, moved_in_households int, moved_in_people int,
    progress smallint, status text, planned_completion date) ON COMMIT DROP;
CREATE TEMP TABLE demo_projects (
    code text, name text, category text, fund_use text, county_code text, village_code text, wkt text,
    funds_planned bigint, funds_disbursed bigint, completion smallint, status text,
    start_date date, end_date date) ON COMMIT DROP;
CREATE TEMP TABLE demo_assignments (village_code text, site_code text, households int, people int) ON COMMIT DROP;
CREATE TEMP TABLE demo_hazard_zones (code text, name text, kind text, risk_level text, county_code text, wkt text) ON COMMIT DROP;
CREATE TEMP TABLE demo_roads (code text, name text, class text, county_code text, wkt text) ON COMMIT DROP;
CREATE TEMP TABLE demo_services (
    code text, name text, kind text, county_code text, township_code text, lon float8, lat float8) ON COMMIT DROP;
CREATE TEMP TABLE demo_targets (
    region_code text, year smallint, poor_people_out int, villages_exit int, relocation_people int) ON COMMIT DROP;
CREATE TEMP TABLE demo_history_villages (
    date date, code text, poverty_status text, exit_year smallint, poor_households int, poor_population int) ON COMMIT DROP;
CREATE TEMP TABLE demo_history_sites (
    date date, code text, moved_in_households int, moved_in_people int, progress smallint, status text) ON COMMIT DROP;
CREATE TEMP TABLE demo_history_projects (
    date date, code text, funds_disbursed bigint, completion smallint, status text) ON COMMIT DROP;
CREATE TEMP TABLE demo_day (day date) ON COMMIT DROP;
INSERT INTO demo_day VALUES (NULL);
`

// csvStaging says which file goes into which staging table.
var csvStaging = []struct{ file, table string }{
	{"townships.csv", "demo_townships"},
	{"villages.csv", "demo_villages"},
	{"sites.csv", "demo_sites"},
	{"projects.csv", "demo_projects"},
	{"assignments.csv", "demo_assignments"},
	{"hazard_zones.csv", "demo_hazard_zones"},
	{"roads.csv", "demo_roads"},
	{"services.csv", "demo_services"},
	{"targets.csv", "demo_targets"},
	{"history_villages.csv", "demo_history_villages"},
	{"history_sites.csv", "demo_history_sites"},
	{"history_projects.csv", "demo_history_projects"},
}

// sqlStartState turns the staged rows back to the start of the history:
// each code's first version in a history file is its state then (a
// project's, the day it was funded, which it is staged with), and a row
// without one was as it is. demo_projects_funded then holds the
// projects funded on demo_day, for the importer's statements to insert.
// The temporary view goes with the table at commit.
const sqlStartState = `
UPDATE demo_villages v
SET poverty_status = h.poverty_status, exit_year = h.exit_year,
    poor_households = h.poor_households, poor_population = h.poor_population
FROM (SELECT DISTINCT ON (code) * FROM demo_history_villages ORDER BY code, date) h
WHERE h.code = v.code;
UPDATE demo_sites s
SET moved_in_households = h.moved_in_households, moved_in_people = h.moved_in_people,
    progress = h.progress, status = h.status
FROM (SELECT DISTINCT ON (code) * FROM demo_history_sites ORDER BY code, date) h
WHERE h.code = s.code;
ALTER TABLE demo_projects ADD COLUMN funded date;
UPDATE demo_projects p
SET funded = h.date, funds_disbursed = h.funds_disbursed, completion = h.completion, status = h.status
FROM (SELECT DISTINCT ON (code) * FROM demo_history_projects ORDER BY code, date) h
WHERE h.code = p.code;
CREATE TEMP VIEW demo_projects_funded AS SELECT * FROM demo_projects WHERE funded = (SELECT day FROM demo_day);
`

// sqlHistoryDays lists the days of the history in order, and what
// changed on each: statuses of villages (rare: returns to poverty),
// villages' figures, sites, projects funded, and projects' figures. The
// first is the start, the date of the villages' and sites' first rows
// (listed even if nothing is funded then). A day's statement of a table
// that did not change is skipped: it would change no row, but would
// still run the table's statement triggers, whose refresh of the
// rollups alone costs some 40 ms a statement (most of the load's time).
const sqlHistoryDays = `
WITH villages AS (
    SELECT date, row_number() OVER w > 1 AS later,
           (poverty_status, exit_year) IS DISTINCT FROM (lag(poverty_status) OVER w, lag(exit_year) OVER w) AS status
    FROM demo_history_villages WINDOW w AS (PARTITION BY code ORDER BY date)
), sites AS (
    SELECT date, row_number() OVER (PARTITION BY code ORDER BY date) > 1 AS later FROM demo_history_sites
), projects AS (
    SELECT date, row_number() OVER (PARTITION BY code ORDER BY date) > 1 AS later FROM demo_history_projects
)
SELECT date, bool_or(what = 'status'), bool_or(what = 'villages'), bool_or(what = 'sites'),
       bool_or(what = 'funded'), bool_or(what = 'projects')
FROM (SELECT date, 'villages' AS what FROM villages WHERE later
      UNION ALL SELECT date, 'status' FROM villages WHERE later AND status
      UNION ALL SELECT date, 'start' FROM villages
      UNION ALL SELECT date, 'sites' FROM sites WHERE later
      UNION ALL SELECT date, 'start' FROM sites
      UNION ALL SELECT date, 'funded' FROM projects WHERE NOT later
      UNION ALL SELECT date, 'projects' FROM projects WHERE later) d
GROUP BY date
ORDER BY date`

// sqlAnalyze gathers the statistics of the tables the start state
// filled, in the load's transaction: the days' statements and their
// triggers (history, audit, rollups) are planned hundreds of times, and
// planned for the empty tables of a new database they would scan and
// loop where an index serves (the load then took over ten minutes, not
// forty seconds).
const sqlAnalyze = `ANALYZE regions, villages, sites, projects, relocation_assignments, region_targets,
    regions_history, villages_history, sites_history, projects_history, relocation_assignments_history,
    region_rollups, flows,
    demo_history_villages, demo_history_sites, demo_history_projects, demo_projects`

// sqlValidFrom dates the statements that follow (battlemap.valid_from,
// migration 012), and sqlDay stages the day the day's steps read.
const (
	sqlValidFrom = `SELECT set_config('battlemap.valid_from', $1, true)`
	sqlDay       = `UPDATE demo_day SET day = $1`
)

// day is a day of the history and what changed on it, as
// sqlHistoryDays lists them.
type day struct {
	date                                        time.Time
	statuses, villages, sites, funded, projects bool
}

// dayStep is one statement of a day of the history, run when when says
// the day has changes for it. It reads the day from demo_day, as the
// importer's statements take no parameters.
type dayStep struct {
	what string
	when func(day) bool
	sql  string
}

// daySteps write a day's changes: the figures of villages, sites and
// projects as the history files give them that day, and the projects
// funded that day, inserted through the importer's statements. A
// village's status is its regions row (geo.VillageTable).
var daySteps = slices.Concat([]dayStep{
	{"village statuses", func(d day) bool { return d.statuses }, `
UPDATE regions r SET poverty_status = h.poverty_status, exit_year = h.exit_year
FROM demo_history_villages h
WHERE h.date = (SELECT day FROM demo_day) AND h.code = r.code AND (r.poverty_status, r.exit_year) IS DISTINCT FROM (h.poverty_status, h.exit_year)`},
	{"villages", func(d day) bool { return d.villages }, `
UPDATE villages v SET poor_households = h.poor_households, poor_population = h.poor_population
FROM demo_history_villages h
WHERE h.date = (SELECT day FROM demo_day) AND h.code = v.code`},
	{"sites", func(d day) bool { return d.sites }, `
UPDATE sites s SET moved_in_households = h.moved_in_households, moved_in_people = h.moved_in_people,
    progress = h.progress, status = h.status
FROM demo_history_sites h
WHERE h.date = (SELECT day FROM demo_day) AND h.code = s.code`},
}, fundedSteps(), []dayStep{
	{"projects", func(d day) bool { return d.projects }, `
UPDATE projects p SET funds_disbursed = h.funds_disbursed, completion = h.completion, status = h.status
FROM demo_history_projects h
WHERE h.date = (SELECT day FROM demo_day) AND h.code = p.code
  AND (p.funds_disbursed, p.completion, p.status) IS DISTINCT FROM (h.funds_disbursed, h.completion, h.status)`},
})

// fundedSteps insert the projects funded on a day, staged in
// demo_projects_funded, with the importer's statements.
func fundedSteps() []dayStep {
	var steps []dayStep
	for _, s := range upsertSteps(geo.ProjectTable, "demo_projects_funded", `ST_GeomFromText(wkt, 4326)`) {
		steps = append(steps, dayStep{"projects funded", func(d day) bool { return d.funded }, s.sql})
	}
	return steps
}

// sqlCity stages the city's code and name for the steps below.
const sqlCity = `INSERT INTO demo_city (code, name) VALUES ($1, $2)`

// step is one statement of the load, and what it loads.
type step struct{ what, sql string }

// stagedPoint is the point of a staged row with lon and lat columns.
const stagedPoint = `ST_SetSRID(ST_MakePoint(lon, lat), 4326)`

// loadSteps move the staged rows, as they were at the start of the
// history, into the schema, in dependency order. The projects come with
// the days of the history (daySteps), the first day's with the start.
var loadSteps = slices.Concat([]step{
	{"city", `
INSERT INTO regions (code, name, level, boundary, point)
SELECT city.code, city.name, 'city', ST_Multi(u), ST_PointOnSurface(u)
FROM demo_city city,
     (SELECT ST_CollectionExtract(ST_Union(ST_MakeValid(ST_GeomFromWKB(wkb, 4326))), 3) AS u FROM demo_counties) s`},
	{"counties", `
INSERT INTO regions (code, name, level, parent_code, boundary, point)
SELECT s.code, s.name, 'county', city.code, b, ST_PointOnSurface(b)
FROM demo_city city, (SELECT code, name, ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(wkb, 4326)), 3)) AS b
      FROM demo_counties) s`},
	// Township polygons are the Voronoi cells of the township seats within
	// each county, clipped to the county; the generator placed every
	// village nearer its own seat than any other, so it lies in its cell.
	{"townships", `
WITH seats AS (
    SELECT t.*, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS seat FROM demo_townships t
), cells AS (
    SELECT c.code AS county_code, c.boundary AS county, count(*) AS n,
           (ST_Dump(ST_VoronoiPolygons(ST_Collect(s.seat), 0, c.boundary))).geom AS cell
    FROM regions c JOIN seats s ON s.county_code = c.code
    WHERE c.level = 'county'
    GROUP BY c.code, c.boundary
)
INSERT INTO regions (code, name, level, parent_code, boundary, point, poverty_status, exit_year, demonstration)
SELECT s.code, s.name, 'township', s.county_code,
       ST_Multi(ST_CollectionExtract(
           CASE WHEN cells.n = 1 THEN cells.county ELSE ST_Intersection(cells.cell, cells.county) END, 3)),
       s.seat, s.poverty_status, s.exit_year, s.demonstration
FROM seats s
JOIN LATERAL (
    SELECT * FROM cells WHERE cells.county_code = s.county_code
      AND (cells.n = 1 OR ST_Intersects(cells.cell, s.seat))
    LIMIT 1
) cells ON true`},
},
	upsertSteps(geo.VillageTable, "demo_villages", stagedPoint),
	upsertSteps(geo.SiteTable, "demo_sites", stagedPoint),
	[]step{{"assignments", `
INSERT INTO relocation_assignments (village_code, site_code, households, people)
SELECT village_code, site_code, households, people
FROM demo_assignments`}},
	upsertSteps(geo.HazardZoneTable, "demo_hazard_zones", `ST_GeomFromText(wkt, 4326)`),
	upsertSteps(geo.RoadTable, "demo_roads", `ST_GeomFromText(wkt, 4326)`),
	upsertSteps(geo.ServiceTable, "demo_services", stagedPoint),
	[]step{{"targets", `
INSERT INTO region_targets (region_code, year, poor_people_out, villages_exit, relocation_people)
SELECT region_code, year, poor_people_out, villages_exit, relocation_people
FROM demo_targets`}},
)

// upsertSteps write the rows staged in stage into t's tables through the
// importer's own statements, geom being the geometry of a staged row.
func upsertSteps(t *geo.Table, stage, geom string) []step {
	var steps []step
	for _, sql := range t.UpsertSQL(stage, geom) {
		steps = append(steps, step{t.Name, sql})
	}
	return steps
}

// sqlCounts is what the audit row records of a load.
const sqlCounts = `SELECT jsonb_build_object(
    'regions', (SELECT count(*) FROM regions), 'villages', (SELECT count(*) FROM villages),
    'sites', (SELECT count(*) FROM sites), 'projects', (SELECT count(*) FROM projects),
    'assignments', (SELECT count(*) FROM relocation_assignments),
    'hazard_zones', (SELECT count(*) FROM hazard_zones), 'roads', (SELECT count(*) FROM roads),
    'services', (SELECT count(*) FROM services), 'targets', (SELECT count(*) FROM region_targets),
    'terrain_tiles', (SELECT count(*) FROM terrain))`
