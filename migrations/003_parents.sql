-- Parents are a column: a region's ancestors are found by following
-- regions.parent_code, never by cutting its statistical code, so nothing
-- here is bound to one city or to one coding scheme. The top of the
-- hierarchy is whatever region has no parent (for the demo, the city of
-- Zunyi, 520300); the rollups are still refreshed one top region at a
-- time, and that top is found by walking parent_code too.

-- The parent-level rule, declared instead of parsed: a county's parent is
-- a city, a township's a county, a village's a township, and a city has
-- none. parent_level is the level a region's parent must have; the
-- foreign key (MATCH FULL: both columns set or neither) makes the parent
-- exist with that level, and a city (parent_level NULL) have no parent.
ALTER TABLE regions DROP CONSTRAINT regions_parent_matches_level;
ALTER TABLE regions ADD COLUMN parent_level text GENERATED ALWAYS AS (
    CASE level WHEN 'county' THEN 'city' WHEN 'township' THEN 'county' WHEN 'village' THEN 'township' END) STORED;
ALTER TABLE regions ADD CONSTRAINT regions_code_level_key UNIQUE (code, level);
ALTER TABLE regions ADD CONSTRAINT regions_parent_level_fkey FOREIGN KEY (parent_code, parent_level)
    REFERENCES regions (code, level) MATCH FULL;

-- top_code is the top region a rollup row was last refreshed under: the
-- partition a refresh compares its fresh rows with. Filled by the refresh
-- below.
ALTER TABLE region_rollups ADD COLUMN top_code text;

-- region_lineage is the path from the top down to region, region
-- included, following parent_code up; NULL when no region has that code.
CREATE FUNCTION region_lineage(region text) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up (code, parent_code, depth) AS (
        SELECT code, parent_code, 0 FROM regions WHERE code = region
        UNION ALL
        SELECT r.code, r.parent_code, up.depth + 1 FROM up JOIN regions r ON r.code = up.parent_code
    )
    SELECT array_agg(code ORDER BY depth DESC) FROM up
$$;

-- region_tree is every region at or under the regions roots, each with
-- its lineage from its root down to itself. It walks parent_code down, a
-- level per step (regions_parent_idx finds the children), so that on a
-- large table it costs the size of the subtrees, not of the table.
CREATE FUNCTION region_tree(roots text[]) RETURNS TABLE (code text, lineage text[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE down (code, lineage) AS (
        SELECT r.code, ARRAY[r.code] FROM regions r WHERE r.code = ANY (roots)
        UNION ALL
        SELECT r.code, down.lineage || r.code FROM down JOIN regions r ON r.parent_code = down.code
    )
    SELECT code, lineage FROM down
$$;

-- region_tops is the top regions (those without a parent) above the
-- regions codes, these included: as regions has them now, walking
-- parent_code up, and as region_rollups last saw them (its top_code). A
-- region that the statement being rolled up deleted, or moved under
-- another top, is found only there, and its old top must be refreshed too.
CREATE FUNCTION region_tops(codes text[]) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE up (code, parent_code) AS (
        SELECT code, parent_code FROM regions WHERE code = ANY (codes)
        UNION
        SELECT r.code, r.parent_code FROM up JOIN regions r ON r.code = up.parent_code
    )
    SELECT coalesce(array_agg(DISTINCT top), '{}')
    FROM (SELECT code FROM up WHERE parent_code IS NULL
          UNION ALL
          SELECT top_code FROM region_rollups WHERE code = ANY (codes)) t (top)
$$;

-- counted_in says where each village, site and project under the regions
-- roots counts: in the region it is filed under and in every region above
-- that one, up to its root. A village is filed under itself, a site under
-- its township (else its county), a project under the village it serves
-- (else its county); a relocation assignment counts where its village
-- does. Each row names one village, site or project (the other two NULL)
-- and one region it counts in. This is the one definition: the rollups
-- (per top region) and the drill-down's project counts (per region asked)
-- both read it.
CREATE FUNCTION counted_in(roots text[])
RETURNS TABLE (region_code text, village_code text, site_code text, project_code text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH tree AS (SELECT code, lineage FROM region_tree(roots))
    SELECT unnest(t.lineage), v.code, NULL, NULL
    FROM tree t JOIN villages v ON v.code = t.code
    UNION ALL
    SELECT unnest(t.lineage), NULL, s.code, NULL
    FROM tree t JOIN sites s ON coalesce(s.township_code, s.county_code) = t.code
    UNION ALL
    SELECT unnest(t.lineage), NULL, NULL, p.code
    FROM tree t JOIN projects p ON coalesce(p.village_code, p.county_code) = t.code
$$;

-- The refresh reads a top region's rows through the regions they are
-- filed under, which these indexes find; the indexes on code prefixes
-- that the refresh used to read by go.
CREATE INDEX sites_filed_idx ON sites ((coalesce(township_code, county_code)));
CREATE INDEX projects_filed_idx ON projects ((coalesce(village_code, county_code)));
DROP INDEX regions_city_idx, villages_city_idx, sites_city_idx, projects_city_idx,
    relocation_assignments_city_idx, region_rollups_city_idx, region_shapes_city_idx, flows_city_idx;

-- refresh_rollups recomputes the rollups and flows of the top regions
-- tops, each with everything under it; NULL means every region. With
-- shapes it also re-simplifies their boundaries. The figures are those
-- 002_rollups defined; what changed is the way to a region's ancestors
-- (parent_code, through counted_in) and that only the rows whose figures
-- moved are written: an edit of one village rewrites its four rows, not
-- its city's thousands.
DROP FUNCTION refresh_rollups(text[], boolean);
CREATE FUNCTION refresh_rollups(tops text[], shapes boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p           text;
    fresh       region_rollups[]; -- the rows of every region now under tops
    fresh_flows flows[];          -- the flows of their villages
BEGIN
    -- Serialise refreshes of one top region: a second transaction waits
    -- here for the first to commit, and its statements below then see
    -- that commit.
    FOR p IN SELECT DISTINCT x FROM unnest(coalesce(tops, ARRAY['*'])) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(hashtext('battlemap.rollups'), hashtext(p));
    END LOOP;

    IF tops IS NULL THEN
        -- Everything, from empty tables, one top region at a time: what a
        -- refresh holds in memory stays one city's rows.
        DELETE FROM region_rollups;
        DELETE FROM flows;
        DELETE FROM region_shapes WHERE shapes;
        FOR p IN SELECT code FROM regions WHERE parent_code IS NULL ORDER BY code LOOP
            PERFORM refresh_rollups(ARRAY[p], shapes);
        END LOOP;
        RETURN;
    END IF;

    -- tree is what the rows read of each region now under tops, walked
    -- once and joined to regions once.
    WITH tree AS MATERIALIZED (
        SELECT t.code, t.lineage[1] AS top_code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year,
               r.demonstration, r.point
        FROM region_tree(tops) t JOIN regions r ON r.code = t.code
    ), members AS MATERIALIZED (
        SELECT * FROM counted_in(tops)
    ), village_figures AS (
        SELECT m.region_code AS key,
               count(*)::int AS villages,
               count(*) FILTER (WHERE r.poverty_status = 'not_exited')::int AS villages_not_exited,
               count(*) FILTER (WHERE r.poverty_status = 'exited')::int AS villages_exited,
               count(*) FILTER (WHERE r.demonstration)::int AS villages_demonstration,
               sum(v.population)::bigint AS population,
               sum(v.poor_households)::bigint AS poor_households,
               sum(v.poor_population)::bigint AS poor_population,
               sum(v.cooperatives)::bigint AS cooperatives
        FROM members m
        JOIN villages v ON v.code = m.village_code
        JOIN tree r ON r.code = m.village_code
        GROUP BY m.region_code
    ), site_figures AS (
        SELECT m.region_code AS key, count(*)::int AS sites,
               sum(s.capacity_people)::bigint AS site_capacity_people,
               sum(s.moved_in_people)::bigint AS site_moved_in_people,
               avg(s.progress)::real AS site_progress_avg
        FROM members m JOIN sites s ON s.code = m.site_code
        GROUP BY m.region_code
    ), project_figures AS (
        SELECT m.region_code AS key, count(*)::int AS projects,
               count(*) FILTER (WHERE p.status = 'completed')::int AS projects_completed,
               avg(p.completion)::real AS completion_avg,
               sum(p.funds_planned)::bigint AS funds_planned,
               sum(p.funds_disbursed)::bigint AS funds_disbursed
        FROM members m JOIN projects p ON p.code = m.project_code
        GROUP BY m.region_code
    ), relocation_figures AS (
        SELECT m.region_code AS key, sum(a.households)::bigint AS relocation_households,
               sum(a.people)::bigint AS relocation_people
        FROM members m JOIN relocation_assignments a ON a.village_code = m.village_code
        GROUP BY m.region_code
    )
    SELECT array_agg(ROW(
               r.code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year, r.demonstration,
               ST_Transform(r.point, 3857),
               coalesce(v.villages, 0), coalesce(v.villages_not_exited, 0), coalesce(v.villages_exited, 0),
               coalesce(v.villages_demonstration, 0),
               coalesce(v.population, 0), coalesce(v.poor_households, 0), coalesce(v.poor_population, 0),
               coalesce(v.cooperatives, 0),
               coalesce(rf.relocation_households, 0), coalesce(rf.relocation_people, 0),
               coalesce(s.sites, 0), coalesce(s.site_capacity_people, 0), coalesce(s.site_moved_in_people, 0),
               s.site_progress_avg,
               coalesce(pf.projects, 0), coalesce(pf.projects_completed, 0), pf.completion_avg,
               coalesce(pf.funds_planned, 0), coalesce(pf.funds_disbursed, 0),
               r.top_code)::region_rollups),
           (SELECT array_agg(ROW(a.village_code, a.site_code, a.households, a.people,
                                 ST_Transform(ST_MakeLine(r.point, s.geom), 3857))::flows)
            FROM tree r
            JOIN relocation_assignments a ON a.village_code = r.code
            JOIN sites s ON s.code = a.site_code)
    INTO fresh, fresh_flows
    FROM tree r
    LEFT JOIN village_figures v ON v.key = r.code
    LEFT JOIN site_figures s ON s.key = r.code
    LEFT JOIN project_figures pf ON pf.key = r.code
    LEFT JOIN relocation_figures rf ON rf.key = r.code;

    -- Write the differences. What the tables hold under tops goes by the
    -- rollups' top_code, not by the regions now under tops: a region
    -- deleted or moved away since the last refresh is found only there.
    -- Flows and shapes read it first, before the rollups move.
    DELETE FROM flows l
    WHERE l.village_code IN (SELECT code FROM region_rollups WHERE top_code = ANY (tops))
      AND NOT EXISTS (SELECT FROM unnest(fresh_flows) n
                      WHERE n.village_code = l.village_code AND n.site_code = l.site_code AND n = l);
    INSERT INTO flows
    SELECT n.* FROM unnest(fresh_flows) n
    WHERE NOT EXISTS (SELECT FROM flows l WHERE l.village_code = n.village_code AND l.site_code = n.site_code);

    IF shapes THEN
        DELETE FROM region_shapes
        WHERE code IN (SELECT code FROM region_rollups WHERE top_code = ANY (tops))
           OR code IN (SELECT f.code FROM unnest(fresh) f);
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT r.code, r.level, ST_Transform(r.boundary, 3857) AS m
              FROM unnest(fresh) f JOIN regions r ON r.code = f.code
              WHERE r.boundary IS NOT NULL) b;
    END IF;

    -- Composite equality takes two NULL figures (no project, no average)
    -- as equal, so unchanged rows are left alone.
    DELETE FROM region_rollups o
    WHERE o.top_code = ANY (tops)
      AND NOT EXISTS (SELECT FROM unnest(fresh) f WHERE f.code = o.code AND f = o);
    INSERT INTO region_rollups
    SELECT f.* FROM unnest(fresh) f
    WHERE NOT EXISTS (SELECT FROM region_rollups o WHERE o.code = f.code);
END
$$;

-- rollups_on_change refreshes the top regions touched by a statement.
-- TG_ARGV names the columns of the table that hold region codes; the tops
-- above every region a changed row names, before or after the change, are
-- refreshed. The changed rows come from the statement's transition
-- tables. Shapes are redone only when regions change.
CREATE OR REPLACE FUNCTION rollups_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named   text := '';
    codes   text[] := '{}';
    more    text[];
    touched text[];
    shapes  boolean := TG_TABLE_NAME = 'regions';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM refresh_rollups(NULL, shapes);
        RETURN NULL;
    END IF;
    FOR i IN 0 .. TG_NARGS - 1 LOOP
        named := named || CASE WHEN i > 0 THEN ', ' ELSE '' END || format('(%I)', TG_ARGV[i]);
    END LOOP;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT c) FROM new_rows, LATERAL (VALUES %s) v (c) WHERE c IS NOT NULL', named)
            INTO more;
        codes := codes || coalesce(more, '{}');
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT c) FROM old_rows, LATERAL (VALUES %s) v (c) WHERE c IS NOT NULL', named)
            INTO more;
        codes := codes || coalesce(more, '{}');
    END IF;
    IF shapes AND TG_OP = 'UPDATE' THEN
        -- A change of status or name leaves the polygons as they were.
        shapes := EXISTS (SELECT FROM new_rows n JOIN old_rows o USING (code)
                          WHERE n.boundary IS DISTINCT FROM o.boundary);
    END IF;
    touched := region_tops(codes);
    IF cardinality(touched) > 0 THEN
        PERFORM refresh_rollups(touched, shapes);
    END IF;
    RETURN NULL;
END
$$;

-- The triggers again, each table now naming all its columns of region
-- codes (the trigger arguments changed, so they are made anew).
DO $$
DECLARE
    t    record;
    args text;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('regions', ARRAY['code']), ('villages', ARRAY['code']),
                                   ('sites', ARRAY['county_code', 'township_code']),
                                   ('projects', ARRAY['county_code', 'village_code']),
                                   ('relocation_assignments', ARRAY['village_code'])) v (tbl, columns)
    LOOP
        args := array_to_string(ARRAY(SELECT quote_literal(c) FROM unnest(t.columns) c), ', ');
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_ins', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_upd', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_del', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%s)', t.tbl || '_rollups_ins', t.tbl, args);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%s)', t.tbl || '_rollups_upd', t.tbl, args);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%s)', t.tbl || '_rollups_del', t.tbl, args);
    END LOOP;
END
$$;

-- Fill top_code, which the partitions are now keyed on.
SELECT refresh_rollups(NULL, false);
ALTER TABLE region_rollups ALTER COLUMN top_code SET NOT NULL;
CREATE INDEX region_rollups_top_idx ON region_rollups (top_code);

-- Where a village, a site or a project lies follows parent_code too.
-- villages.township_code and county_code, which 001_schema cut from the
-- village's code, become plain columns holding the village's parent and
-- that township's parent, so that the collections filter and join on
-- indexed columns that agree with the rollups and the drill-down. Foreign
-- keys to a region's (code, parent_code) state each rule, so that no
-- write can break it, and, cascading on update, keep it when a village
-- or a township moves, in the same statement: a village filed under
-- another township takes that township and its county; a township moved
-- to another county takes its villages and sites along, and a village's
-- projects follow its county.
ALTER TABLE regions ADD CONSTRAINT regions_code_parent_key UNIQUE (code, parent_code);
ALTER TABLE villages ALTER COLUMN township_code DROP EXPRESSION;
ALTER TABLE villages ALTER COLUMN county_code DROP EXPRESSION;
-- ON DELETE CASCADE as villages_code_fkey has it: a village's registry
-- row goes with its region.
ALTER TABLE villages ADD CONSTRAINT villages_township_of_region FOREIGN KEY (code, township_code)
    REFERENCES regions (code, parent_code) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE villages ADD CONSTRAINT villages_county_of_township FOREIGN KEY (township_code, county_code)
    REFERENCES regions (code, parent_code) ON UPDATE CASCADE;
ALTER TABLE villages ADD CONSTRAINT villages_code_county_key UNIQUE (code, county_code);

-- villages_parents fills a new registry row's township and county from
-- the hierarchy, so no writer gives them, and takes the county of a
-- village's new township when the village moves (the cascade of
-- villages_township_of_region sets the township only). A township or
-- county given that disagrees with the hierarchy is kept, for the
-- foreign keys above to refuse.
CREATE FUNCTION villages_follow_parents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.township_code IS NULL THEN
        SELECT parent_code INTO NEW.township_code FROM regions WHERE code = NEW.code;
        IF NOT FOUND THEN
            -- The foreign key on code would say so after the row is
            -- written; NOT NULL on township_code would speak first, and
            -- misleadingly.
            RAISE foreign_key_violation USING
                MESSAGE = format('village %s has no row in regions: write its region first', NEW.code),
                TABLE = 'villages', CONSTRAINT = 'villages_code_fkey';
        END IF;
    END IF;
    IF NEW.county_code IS NULL OR (TG_OP = 'UPDATE' AND NEW.township_code IS DISTINCT FROM OLD.township_code) THEN
        SELECT parent_code INTO NEW.county_code FROM regions WHERE code = NEW.township_code;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER villages_parents BEFORE INSERT OR UPDATE ON villages
    FOR EACH ROW EXECUTE FUNCTION villages_follow_parents();

-- A site's township lies in its county, and a project's village: the
-- rules 001_schema checked on code prefixes, now on the hierarchy, under
-- the same names.
ALTER TABLE sites DROP CONSTRAINT sites_township_in_county;
ALTER TABLE sites ADD CONSTRAINT sites_township_in_county FOREIGN KEY (township_code, county_code)
    REFERENCES regions (code, parent_code) ON UPDATE CASCADE;
-- Finds a moving township's sites, and serves the township filter.
CREATE INDEX sites_township_idx ON sites (township_code);
ALTER TABLE projects DROP CONSTRAINT projects_village_in_county;
ALTER TABLE projects ADD CONSTRAINT projects_village_in_county FOREIGN KEY (village_code, county_code)
    REFERENCES villages (code, county_code) ON UPDATE CASCADE;

---- create above / drop below ----

-- Back to 001_schema's villages, sites and projects, whose township and
-- county are cut from codes.
ALTER TABLE projects DROP CONSTRAINT projects_village_in_county;
ALTER TABLE projects ADD CONSTRAINT projects_village_in_county
    CHECK (village_code IS NULL OR left(village_code, 6) = county_code);
DROP INDEX sites_township_idx;
ALTER TABLE sites DROP CONSTRAINT sites_township_in_county;
ALTER TABLE sites ADD CONSTRAINT sites_township_in_county
    CHECK (township_code IS NULL OR left(township_code, 6) = county_code);
DROP TRIGGER villages_parents ON villages;
DROP FUNCTION villages_follow_parents();
-- A column cannot become generated again: drop it (its indexes and keys
-- with it) and add it as 001_schema made it, now last in the table.
ALTER TABLE villages DROP COLUMN township_code, DROP COLUMN county_code;
ALTER TABLE villages
    ADD COLUMN township_code text NOT NULL GENERATED ALWAYS AS (left(code, 9)) STORED REFERENCES regions (code),
    ADD COLUMN county_code   text NOT NULL GENERATED ALWAYS AS (left(code, 6)) STORED REFERENCES regions (code);
CREATE INDEX villages_township_idx ON villages (township_code);
CREATE INDEX villages_county_idx ON villages (county_code);
ALTER TABLE regions DROP CONSTRAINT regions_code_parent_key;

-- Back to 002_rollups' refresh and triggers and 001_schema's parent rule.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('regions', 'code'), ('villages', 'code'), ('sites', 'county_code'),
                                   ('projects', 'county_code'), ('relocation_assignments', 'village_code')) v (tbl, city_column)
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_ins', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_upd', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_rollups_del', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_ins', t.tbl, t.city_column);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_upd', t.tbl, t.city_column);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rollups_on_change(%L)', t.tbl || '_rollups_del', t.tbl, t.city_column);
    END LOOP;
END
$$;

-- rollups_on_change refreshes the cities touched by a statement. TG_ARGV[0]
-- names the column whose first four digits are the city of a row; the
-- changed rows come from the statement's transition tables. Shapes are
-- redone only when regions change.
CREATE OR REPLACE FUNCTION rollups_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched text[] := '{}';
    more    text[];
    shapes  boolean := TG_TABLE_NAME = 'regions';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM refresh_rollups(NULL, shapes);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT left(%I, 4)) FROM new_rows', TG_ARGV[0]) INTO more;
        touched := touched || coalesce(more, '{}');
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT left(%I, 4)) FROM old_rows', TG_ARGV[0]) INTO more;
        touched := touched || coalesce(more, '{}');
    END IF;
    IF shapes AND TG_OP = 'UPDATE' THEN
        -- A change of status or name leaves the polygons as they were.
        shapes := EXISTS (SELECT FROM new_rows n JOIN old_rows o USING (code)
                          WHERE n.boundary IS DISTINCT FROM o.boundary);
    END IF;
    IF cardinality(touched) > 0 THEN
        PERFORM refresh_rollups(touched, shapes);
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION refresh_rollups(text[], boolean);
-- refresh_rollups recomputes the rollups and flows of the cities whose
-- codes start with one of prefixes (4 digits); NULL means every city.
-- With shapes it also re-simplifies their boundaries.
CREATE FUNCTION refresh_rollups(prefixes text[], shapes boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p text;
BEGIN
    -- Serialise refreshes of one city: a second transaction waits here for
    -- the first to commit, and its statements below then see that commit.
    FOR p IN SELECT DISTINCT x FROM unnest(coalesce(prefixes, ARRAY['*'])) x ORDER BY x LOOP
        PERFORM pg_advisory_xact_lock(hashtext('battlemap.rollups'), hashtext(p));
    END LOOP;

    DELETE FROM region_rollups WHERE prefixes IS NULL OR left(code, 4) = ANY (prefixes);
    DELETE FROM flows WHERE prefixes IS NULL OR left(village_code, 4) = ANY (prefixes);
    IF shapes THEN
        DELETE FROM region_shapes WHERE prefixes IS NULL OR left(code, 4) = ANY (prefixes);
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions
              WHERE boundary IS NOT NULL AND (prefixes IS NULL OR left(code, 4) = ANY (prefixes))) b;
    END IF;

    WITH village_rows AS (
        SELECT k.key, v.population, v.poor_households, v.poor_population, v.cooperatives,
               r.poverty_status, r.demonstration
        FROM villages v
        JOIN regions r ON r.code = v.code
        CROSS JOIN LATERAL (VALUES (v.code), (v.township_code), (v.county_code), (left(v.code, 4) || '00')) k (key)
        WHERE prefixes IS NULL OR left(v.code, 4) = ANY (prefixes)
    ), village_figures AS (
        SELECT key,
               count(*)::int AS villages,
               count(*) FILTER (WHERE poverty_status = 'not_exited')::int AS villages_not_exited,
               count(*) FILTER (WHERE poverty_status = 'exited')::int AS villages_exited,
               count(*) FILTER (WHERE demonstration)::int AS villages_demonstration,
               sum(population)::bigint AS population,
               sum(poor_households)::bigint AS poor_households,
               sum(poor_population)::bigint AS poor_population,
               sum(cooperatives)::bigint AS cooperatives
        FROM village_rows GROUP BY key
    ), site_figures AS (
        SELECT k.key, count(*)::int AS sites,
               sum(s.capacity_people)::bigint AS site_capacity_people,
               sum(s.moved_in_people)::bigint AS site_moved_in_people,
               avg(s.progress)::real AS site_progress_avg
        FROM sites s
        CROSS JOIN LATERAL (VALUES (s.township_code), (s.county_code), (left(s.county_code, 4) || '00')) k (key)
        WHERE k.key IS NOT NULL AND (prefixes IS NULL OR left(s.county_code, 4) = ANY (prefixes))
        GROUP BY k.key
    ), project_figures AS (
        SELECT k.key, count(*)::int AS projects,
               count(*) FILTER (WHERE p.status = 'completed')::int AS projects_completed,
               avg(p.completion)::real AS completion_avg,
               sum(p.funds_planned)::bigint AS funds_planned,
               sum(p.funds_disbursed)::bigint AS funds_disbursed
        FROM projects p
        CROSS JOIN LATERAL (VALUES (p.village_code), (left(p.village_code, 9)), (p.county_code), (left(p.county_code, 4) || '00')) k (key)
        WHERE k.key IS NOT NULL AND (prefixes IS NULL OR left(p.county_code, 4) = ANY (prefixes))
        GROUP BY k.key
    ), relocation_figures AS (
        SELECT k.key, sum(a.households)::bigint AS relocation_households, sum(a.people)::bigint AS relocation_people
        FROM relocation_assignments a
        CROSS JOIN LATERAL (VALUES (a.village_code), (left(a.village_code, 9)), (left(a.village_code, 6)), (left(a.village_code, 4) || '00')) k (key)
        WHERE prefixes IS NULL OR left(a.village_code, 4) = ANY (prefixes)
        GROUP BY k.key
    )
    INSERT INTO region_rollups
    SELECT r.code, r.level, r.parent_code, r.name, r.poverty_status, r.exit_year, r.demonstration,
           ST_Transform(r.point, 3857),
           coalesce(v.villages, 0), coalesce(v.villages_not_exited, 0), coalesce(v.villages_exited, 0),
           coalesce(v.villages_demonstration, 0),
           coalesce(v.population, 0), coalesce(v.poor_households, 0), coalesce(v.poor_population, 0),
           coalesce(v.cooperatives, 0),
           coalesce(rf.relocation_households, 0), coalesce(rf.relocation_people, 0),
           coalesce(s.sites, 0), coalesce(s.site_capacity_people, 0), coalesce(s.site_moved_in_people, 0),
           s.site_progress_avg,
           coalesce(pf.projects, 0), coalesce(pf.projects_completed, 0), pf.completion_avg,
           coalesce(pf.funds_planned, 0), coalesce(pf.funds_disbursed, 0)
    FROM regions r
    LEFT JOIN village_figures v ON v.key = r.code
    LEFT JOIN site_figures s ON s.key = r.code
    LEFT JOIN project_figures pf ON pf.key = r.code
    LEFT JOIN relocation_figures rf ON rf.key = r.code
    WHERE prefixes IS NULL OR left(r.code, 4) = ANY (prefixes);

    INSERT INTO flows (village_code, site_code, households, people, geom)
    SELECT a.village_code, a.site_code, a.households, a.people,
           ST_Transform(ST_MakeLine(r.point, s.geom), 3857)
    FROM relocation_assignments a
    JOIN regions r ON r.code = a.village_code
    JOIN sites s ON s.code = a.site_code
    WHERE prefixes IS NULL OR left(a.village_code, 4) = ANY (prefixes);
END
$$;

DROP INDEX sites_filed_idx, projects_filed_idx, region_rollups_top_idx;
ALTER TABLE region_rollups DROP COLUMN top_code;
CREATE INDEX region_rollups_city_idx ON region_rollups (left(code, 4));
CREATE INDEX region_shapes_city_idx ON region_shapes (left(code, 4));
CREATE INDEX flows_city_idx ON flows (left(village_code, 4));
CREATE INDEX regions_city_idx ON regions (left(code, 4));
CREATE INDEX villages_city_idx ON villages (left(code, 4));
CREATE INDEX sites_city_idx ON sites (left(county_code, 4));
CREATE INDEX projects_city_idx ON projects (left(county_code, 4));
CREATE INDEX relocation_assignments_city_idx ON relocation_assignments (left(village_code, 4));

DROP FUNCTION counted_in(text[]);
DROP FUNCTION region_tops(text[]);
DROP FUNCTION region_tree(text[]);
DROP FUNCTION region_lineage(text);

ALTER TABLE regions DROP CONSTRAINT regions_parent_level_fkey;
ALTER TABLE regions DROP CONSTRAINT regions_code_level_key;
ALTER TABLE regions DROP COLUMN parent_level;
-- Statistical codes are hierarchical: the code's length is its level and
-- its prefix is its parent, so a misfiled region is rejected outright.
ALTER TABLE regions ADD CONSTRAINT regions_parent_matches_level CHECK (
    (level = 'city' AND parent_code IS NULL) OR
    (level = 'county' AND parent_code = left(code, 4) || '00') OR
    (level = 'township' AND parent_code = left(code, 6)) OR
    (level = 'village' AND parent_code = left(code, 9)));
