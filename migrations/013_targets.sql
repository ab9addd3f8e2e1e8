-- Targets, and which change made each version.
--
-- region_targets: what a region is to reach in a year — poor people to
-- lift out of poverty, poverty villages to exit, people to relocate —
-- against which the timeline measures the year's progress
-- ("1–6月减贫10.3万人，占年度目标51%"). A target is data like any other:
-- only admins (scope '*') set it, every change is audited, announced and
-- kept with its history, so a target lowered afterwards to make a share
-- look better shows as such. A figure not set is NULL (no target), not 0.
CREATE TABLE region_targets (
    region_code       text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
    year              smallint NOT NULL CONSTRAINT region_targets_year_range CHECK (year BETWEEN 2000 AND 2100),
    poor_people_out   integer CONSTRAINT region_targets_poor_people_out_not_negative CHECK (poor_people_out >= 0),
    villages_exit     integer CONSTRAINT region_targets_villages_exit_not_negative CHECK (villages_exit >= 0),
    relocation_people integer CONSTRAINT region_targets_relocation_people_not_negative CHECK (relocation_people >= 0),
    PRIMARY KEY (region_code, year)
);

ALTER TABLE region_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE region_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY region_targets_read ON region_targets FOR SELECT USING (true);
CREATE POLICY region_targets_write ON region_targets
    USING (coalesce(current_setting('battlemap.scope', true) = '*', false))
    WITH CHECK (coalesce(current_setting('battlemap.scope', true) = '*', false));

-- A target draws nothing on the map: its changes move the other version
-- (no county's), which the answers that show it follow.
CREATE TRIGGER region_targets_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON region_targets
    FOR EACH STATEMENT EXECUTE FUNCTION announce_change();
CREATE TRIGGER region_targets_versions_trunc AFTER TRUNCATE ON region_targets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_all_versions();
SELECT create_statement_triggers('region_targets', 'county_versions', 'bump_county_versions', ARRAY['NULL::geometry']);
SELECT create_statement_triggers('region_targets', 'row_audit', 'audit_rows',
                                 ARRAY['r.region_code || ''/'' || r.year', 'r.region_code']);

-- Each version records the transaction that made it (as the audit log
-- does, txid_current()), so a version links to the audit rows of the
-- change that made it. keep_history writes the table's columns and the
-- range; the transaction is the column's default.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments',
                             'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN txid bigint DEFAULT txid_current()', t || '_history');
    END LOOP;
END
$$;

-- keep_history_of makes a table keep its history as 012 made the map
-- tables keep theirs (its rows as they are become their first version),
-- with the transaction of each version; key is the table's key.
-- drop_history_of undoes it. Tables that keep their history from here on
-- are made to this way.
CREATE FUNCTION keep_history_of(tbl text, key text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    hist text := tbl || '_history';
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE %I, valid tstzrange NOT NULL, txid bigint DEFAULT txid_current())', hist, tbl);
    EXECUTE format('CREATE INDEX %I ON %I (%s, lower(valid))', hist || '_key_idx', hist,
                   (SELECT string_agg(format('%I', k), ', ') FROM unnest(key) k));
    EXECUTE format('CREATE INDEX %I ON %I USING gist (valid)', hist || '_valid_gix', hist);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I FROM battlemap_app', hist);
    EXECUTE format('INSERT INTO %I SELECT r.*, tstzrange(now(), NULL) FROM %I r', hist, tbl);
    PERFORM create_statement_triggers(tbl, 'history', 'keep_history', key);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION keep_history()',
                   hist || '_trunc', tbl);
END
$$;
CREATE FUNCTION drop_history_of(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM drop_statement_triggers(tbl, 'history');
    EXECUTE format('DROP TRIGGER %I ON %I', tbl || '_history_trunc', tbl);
    EXECUTE format('DROP TABLE %I', tbl || '_history');
END
$$;
-- They are the migrations' tools, as create_statement_triggers is.
REVOKE EXECUTE ON FUNCTION keep_history_of(text, text[]), drop_history_of(text) FROM PUBLIC;

SELECT keep_history_of('region_targets', ARRAY['region_code', 'year']);

---- create above / drop below ----

SELECT drop_history_of('region_targets');
DROP FUNCTION drop_history_of(text);
DROP FUNCTION keep_history_of(text, text[]);
DROP TABLE region_targets;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments',
                             'hazard_zones', 'roads', 'services'] LOOP
        EXECUTE format('ALTER TABLE %I DROP COLUMN txid', t || '_history');
    END LOOP;
END
$$;
