package demo

import (
	"slices"

	"github.com/zunyi/battlemap/geo"
)

// sqlTruncate clears all map data (not the audit log, which is
// append-only, nor the data versions, which only move forward: the
// counties' rows stay, and the load moves them on). The factor layers
// of the suitability analysis, terrain included, lie in regions too, and
// go with them.
const sqlTruncate = `TRUNCATE projects, relocation_assignments, sites, villages, hazard_zones, roads, services, region_targets,
    terrain, terrain_slope, regions`

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
}

// sqlCity stages the city's code and name for the steps below.
const sqlCity = `INSERT INTO demo_city (code, name) VALUES ($1, $2)`

// step is one statement of the load, and what it loads.
type step struct{ what, sql string }

// stagedPoint is the point of a staged row with lon and lat columns.
const stagedPoint = `ST_SetSRID(ST_MakePoint(lon, lat), 4326)`

// loadSteps move the staged rows into the schema, in dependency order.
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
	upsertSteps(geo.ProjectTable, "demo_projects", `ST_GeomFromText(wkt, 4326)`),
	[]step{{"assignments", `
INSERT INTO relocation_assignments (village_code, site_code, households, people)
SELECT village_code, site_code, households, people
FROM demo_assignments`}},
	upsertSteps(geo.HazardZoneTable, "demo_hazard_zones", `ST_GeomFromText(wkt, 4326)`),
	upsertSteps(geo.RoadTable, "demo_roads", `ST_GeomFromText(wkt, 4326)`),
	upsertSteps(geo.ServiceTable, "demo_services", stagedPoint),
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
    'services', (SELECT count(*) FROM services), 'terrain_tiles', (SELECT count(*) FROM terrain))`
