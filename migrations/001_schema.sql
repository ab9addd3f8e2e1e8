-- The battle map's schema: the region hierarchy, the villages' poverty
-- registry, relocation sites and their assignments, funded projects, and
-- the append-only audit log. Every constraint here exists so that a figure
-- that cannot be true cannot be stored ("数字脱贫" must be impossible).

CREATE EXTENSION IF NOT EXISTS postgis;

-- regions: city → county → township → village, keyed by statistical code.
-- A township or a village can itself be a poverty unit or a demonstration
-- point, so those flags live here, once, for every level.
CREATE TABLE regions (
    code           text PRIMARY KEY,
    name           text NOT NULL CONSTRAINT regions_name_not_empty CHECK (btrim(name) <> ''),
    level          text NOT NULL CONSTRAINT regions_level_known
                       CHECK (level IN ('city', 'county', 'township', 'village')),
    parent_code    text REFERENCES regions (code),
    boundary       geometry(MultiPolygon, 4326),
    point          geometry(Point, 4326) NOT NULL,
    poverty_status text NOT NULL DEFAULT 'none' CONSTRAINT regions_poverty_status_known
                       CHECK (poverty_status IN ('none', 'not_exited', 'exited')),
    exit_year      smallint CONSTRAINT regions_exit_year_range CHECK (exit_year BETWEEN 2000 AND 2100),
    demonstration  boolean NOT NULL DEFAULT false,
    -- Statistical codes are hierarchical: the code's length is its level and
    -- its prefix is its parent, so a misfiled region is rejected outright.
    CONSTRAINT regions_code_matches_level CHECK (
        (level IN ('city', 'county') AND code ~ '^[0-9]{6}$') OR
        (level = 'township' AND code ~ '^[0-9]{9}$') OR
        (level = 'village' AND code ~ '^[0-9]{12}$')),
    CONSTRAINT regions_parent_matches_level CHECK (
        (level = 'city' AND parent_code IS NULL) OR
        (level = 'county' AND parent_code = left(code, 4) || '00') OR
        (level = 'township' AND parent_code = left(code, 6)) OR
        (level = 'village' AND parent_code = left(code, 9))),
    CONSTRAINT regions_boundary_unless_village CHECK (level = 'village' OR boundary IS NOT NULL),
    CONSTRAINT regions_exit_year_iff_exited CHECK ((poverty_status = 'exited') = (exit_year IS NOT NULL)),
    CONSTRAINT regions_boundary_valid CHECK (boundary IS NULL OR ST_IsValid(boundary))
);
CREATE INDEX regions_parent_idx ON regions (parent_code);
CREATE INDEX regions_level_idx ON regions (level);
CREATE INDEX regions_boundary_gix ON regions USING gist (boundary);
CREATE INDEX regions_point_gix ON regions USING gist (point);

-- villages: the registry figures of each village-level region. Its name,
-- point and poverty status are its regions row; township and county follow
-- from the code and are stored so that filters and joins stay plain.
CREATE TABLE villages (
    code             text PRIMARY KEY REFERENCES regions (code) ON DELETE CASCADE,
    township_code    text NOT NULL GENERATED ALWAYS AS (left(code, 9)) STORED REFERENCES regions (code),
    county_code      text NOT NULL GENERATED ALWAYS AS (left(code, 6)) STORED REFERENCES regions (code),
    population       integer NOT NULL CONSTRAINT villages_population_nonnegative CHECK (population >= 0),
    poor_households  integer NOT NULL CONSTRAINT villages_poor_households_nonnegative CHECK (poor_households >= 0),
    poor_population  integer NOT NULL CONSTRAINT villages_poor_population_nonnegative CHECK (poor_population >= 0),
    pairing_level    text CONSTRAINT villages_pairing_level_known CHECK (pairing_level IN ('city', 'county')),
    pairing_unit     text,
    cooperatives     integer NOT NULL DEFAULT 0 CONSTRAINT villages_cooperatives_nonnegative CHECK (cooperatives >= 0),
    CONSTRAINT villages_poor_within_population CHECK (poor_population <= population),
    CONSTRAINT villages_households_within_people CHECK (poor_households <= poor_population),
    CONSTRAINT villages_pairing_unit_with_level CHECK ((pairing_level IS NULL) = (pairing_unit IS NULL))
);
CREATE INDEX villages_township_idx ON villages (township_code);
CREATE INDEX villages_county_idx ON villages (county_code);

-- sites: relocation sites (易地扶贫搬迁安置点).
CREATE TABLE sites (
    code                text PRIMARY KEY CONSTRAINT sites_code_not_empty CHECK (btrim(code) <> ''),
    name                text NOT NULL CONSTRAINT sites_name_not_empty CHECK (btrim(name) <> ''),
    type                text NOT NULL CONSTRAINT sites_type_known CHECK (type IN ('urban', 'town', 'rural')),
    county_code         text NOT NULL REFERENCES regions (code),
    township_code       text REFERENCES regions (code),
    geom                geometry(Point, 4326) NOT NULL,
    capacity_households integer NOT NULL CONSTRAINT sites_capacity_households_nonnegative CHECK (capacity_households >= 0),
    capacity_people     integer NOT NULL CONSTRAINT sites_capacity_people_nonnegative CHECK (capacity_people >= 0),
    moved_in_households integer NOT NULL DEFAULT 0 CONSTRAINT sites_moved_in_households_range
                            CHECK (moved_in_households BETWEEN 0 AND capacity_households),
    moved_in_people     integer NOT NULL DEFAULT 0 CONSTRAINT sites_moved_in_people_range
                            CHECK (moved_in_people BETWEEN 0 AND capacity_people),
    progress            smallint NOT NULL CONSTRAINT sites_progress_range CHECK (progress BETWEEN 0 AND 100),
    status              text NOT NULL CONSTRAINT sites_status_known
                            CHECK (status IN ('planned', 'under_construction', 'completed', 'occupied')),
    planned_completion  date,
    CONSTRAINT sites_township_in_county CHECK (township_code IS NULL OR left(township_code, 6) = county_code)
);
CREATE INDEX sites_county_idx ON sites (county_code);
CREATE INDEX sites_geom_gix ON sites USING gist (geom);

-- relocation_assignments: the households and people of a village that are
-- to move to a site.
CREATE TABLE relocation_assignments (
    village_code text NOT NULL REFERENCES villages (code) ON DELETE CASCADE,
    site_code    text NOT NULL REFERENCES sites (code) ON DELETE CASCADE,
    households   integer NOT NULL CONSTRAINT relocation_assignments_households_positive CHECK (households > 0),
    people       integer NOT NULL CONSTRAINT relocation_assignments_people_positive CHECK (people > 0),
    PRIMARY KEY (village_code, site_code),
    CONSTRAINT relocation_assignments_households_within_people CHECK (households <= people)
);
CREATE INDEX relocation_assignments_site_idx ON relocation_assignments (site_code);

-- projects: funded poverty-alleviation projects. fund_use is the "33112"
-- split of the special funds; category is what is built.
CREATE TABLE projects (
    code            text PRIMARY KEY CONSTRAINT projects_code_not_empty CHECK (btrim(code) <> ''),
    name            text NOT NULL CONSTRAINT projects_name_not_empty CHECK (btrim(name) <> ''),
    category        text NOT NULL CONSTRAINT projects_category_known CHECK (category IN
                        ('water', 'power', 'road', 'telecom', 'housing', 'renovation', 'industry', 'training', 'other')),
    fund_use        text NOT NULL CONSTRAINT projects_fund_use_known CHECK (fund_use IN
                        ('industry', 'cooperative', 'interest_subsidy', 'training', 'public_facilities')),
    county_code     text NOT NULL REFERENCES regions (code),
    village_code    text REFERENCES villages (code),
    geom            geometry(Geometry, 4326) NOT NULL CONSTRAINT projects_geom_point_or_line
                        CHECK (GeometryType(geom) IN ('POINT', 'LINESTRING')),
    funds_planned   bigint NOT NULL CONSTRAINT projects_funds_planned_nonnegative CHECK (funds_planned >= 0),
    funds_disbursed bigint NOT NULL DEFAULT 0 CONSTRAINT projects_funds_disbursed_range
                        CHECK (funds_disbursed BETWEEN 0 AND funds_planned),
    completion      smallint NOT NULL CONSTRAINT projects_completion_range CHECK (completion BETWEEN 0 AND 100),
    status          text NOT NULL CONSTRAINT projects_status_known
                        CHECK (status IN ('planned', 'under_construction', 'completed')),
    start_date      date,
    end_date        date,
    CONSTRAINT projects_dates_ordered CHECK (end_date >= start_date),
    CONSTRAINT projects_village_in_county CHECK (village_code IS NULL OR left(village_code, 6) = county_code)
);
CREATE INDEX projects_county_idx ON projects (county_code);
CREATE INDEX projects_village_idx ON projects (village_code);
CREATE INDEX projects_geom_gix ON projects USING gist (geom);

-- data_version: one number that moves whenever any map data changes. Tiles
-- and caches key on it, so a cached answer can never outlive the change
-- that made it stale; the notification lets other processes learn of it.
CREATE TABLE data_version (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT data_version_singleton CHECK (singleton),
    version    bigint NOT NULL,
    changed_at timestamptz NOT NULL
);
INSERT INTO data_version (version, changed_at) VALUES (1, now());

CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
BEGIN
    UPDATE data_version SET version = version + 1, changed_at = now() RETURNING version INTO v;
    PERFORM pg_notify('battlemap_data_version', v::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER regions_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER villages_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON villages
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER sites_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER relocation_assignments_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON relocation_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER projects_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

-- audit_log: who changed what, append-only. Rows are written by the one
-- place where edits are committed (a later issue); here the table refuses
-- to be rewritten.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL CONSTRAINT audit_log_actor_not_empty CHECK (btrim(actor) <> ''),
    action       text NOT NULL CONSTRAINT audit_log_action_known
                     CHECK (action IN ('insert', 'update', 'delete', 'import', 'seed')),
    table_name   text NOT NULL,
    row_key      text,
    county_code  text,
    before       jsonb,
    after        jsonb,
    data_version bigint
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_rewrite BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

---- create above / drop below ----

DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE projects;
DROP TABLE relocation_assignments;
DROP TABLE sites;
DROP TABLE villages;
DROP TABLE regions;
DROP TABLE data_version;
DROP FUNCTION bump_data_version();
