package importer

// The importer's SQL, in one place. Validated rows are copied into a
// temporary staging table (its columns are the layer's fields, in order,
// then the geometry as WKB) and moved into the schema with one upsert
// statement per table, so the data version and the rollups move once per
// table rather than once per feature.

// sqlExtent is the bounding box of the counties: the default import
// extent, before its margin. Without counties it is NULL.
const sqlExtent = `
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(boundary) AS e FROM regions WHERE level = 'county') s`

// sqlRegions looks up the regions that features name, with whether each
// has a row in the villages registry (a project's village must).
const sqlRegions = `
SELECT r.code, r.level, v.code IS NOT NULL
FROM regions r LEFT JOIN villages v ON v.code = r.code
WHERE r.code = ANY ($1)`

const sqlStageVillages = `
CREATE TEMP TABLE import_villages (
    code text, name text, poverty_status text, exit_year smallint, population int,
    poor_households int, poor_population int, demonstration boolean, pairing_level text,
    pairing_unit text, cooperatives int, geom bytea) ON COMMIT DROP`

const sqlCountVillages = `SELECT count(*) FROM import_villages JOIN villages USING (code)`

// sqlUpsertVillageRegions writes a village's own region row first: name,
// point and status live there, and the registry row refers to it. A
// village's boundary, where it has one, is kept.
const sqlUpsertVillageRegions = `
INSERT INTO regions (code, name, level, parent_code, point, poverty_status, exit_year, demonstration)
SELECT code, name, 'village', left(code, 9), ST_GeomFromWKB(geom, 4326), poverty_status, exit_year, demonstration
FROM import_villages
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, point = EXCLUDED.point, poverty_status = EXCLUDED.poverty_status,
    exit_year = EXCLUDED.exit_year, demonstration = EXCLUDED.demonstration`

const sqlUpsertVillages = `
INSERT INTO villages (code, population, poor_households, poor_population, pairing_level, pairing_unit, cooperatives)
SELECT code, population, poor_households, poor_population, pairing_level, pairing_unit, cooperatives
FROM import_villages
ON CONFLICT (code) DO UPDATE SET
    population = EXCLUDED.population, poor_households = EXCLUDED.poor_households,
    poor_population = EXCLUDED.poor_population, pairing_level = EXCLUDED.pairing_level,
    pairing_unit = EXCLUDED.pairing_unit, cooperatives = EXCLUDED.cooperatives`

const sqlStageSites = `
CREATE TEMP TABLE import_sites (
    code text, name text, type text, county_code text, township_code text,
    capacity_households int, capacity_people int, moved_in_households int, moved_in_people int,
    progress smallint, status text, planned_completion date, geom bytea) ON COMMIT DROP`

const sqlCountSites = `SELECT count(*) FROM import_sites JOIN sites USING (code)`

const sqlUpsertSites = `
INSERT INTO sites (code, name, type, county_code, township_code, geom, capacity_households, capacity_people,
                   moved_in_households, moved_in_people, progress, status, planned_completion)
SELECT code, name, type, county_code, township_code, ST_GeomFromWKB(geom, 4326), capacity_households,
       capacity_people, moved_in_households, moved_in_people, progress, status, planned_completion
FROM import_sites
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, county_code = EXCLUDED.county_code,
    township_code = EXCLUDED.township_code, geom = EXCLUDED.geom,
    capacity_households = EXCLUDED.capacity_households, capacity_people = EXCLUDED.capacity_people,
    moved_in_households = EXCLUDED.moved_in_households, moved_in_people = EXCLUDED.moved_in_people,
    progress = EXCLUDED.progress, status = EXCLUDED.status, planned_completion = EXCLUDED.planned_completion`

const sqlStageProjects = `
CREATE TEMP TABLE import_projects (
    code text, name text, category text, fund_use text, county_code text, village_code text,
    funds_planned bigint, funds_disbursed bigint, completion smallint, status text,
    start_date date, end_date date, geom bytea) ON COMMIT DROP`

const sqlCountProjects = `SELECT count(*) FROM import_projects JOIN projects USING (code)`

const sqlUpsertProjects = `
INSERT INTO projects (code, name, category, fund_use, county_code, village_code, geom, funds_planned,
                      funds_disbursed, completion, status, start_date, end_date)
SELECT code, name, category, fund_use, county_code, village_code, ST_GeomFromWKB(geom, 4326), funds_planned,
       funds_disbursed, completion, status, start_date, end_date
FROM import_projects
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, category = EXCLUDED.category, fund_use = EXCLUDED.fund_use,
    county_code = EXCLUDED.county_code, village_code = EXCLUDED.village_code, geom = EXCLUDED.geom,
    funds_planned = EXCLUDED.funds_planned, funds_disbursed = EXCLUDED.funds_disbursed,
    completion = EXCLUDED.completion, status = EXCLUDED.status, start_date = EXCLUDED.start_date,
    end_date = EXCLUDED.end_date`
