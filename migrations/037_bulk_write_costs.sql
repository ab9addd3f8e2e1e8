-- What a national load paid for and did not need (issue 17).
--
-- The national data set's villages.csv (606,000 villages) loaded over its
-- regions took 247 s on a 2-core machine; auto_explain of the load, with
-- its triggers, and pg_stat_user_functions found these costs, which buy
-- nothing:
--
-- 1. rollups_on_change re-cut the tile shapes (refresh_shapes) of every
--    region inserted, and a village is a region with a point and no
--    boundary: 12 s to find nothing to cut. Only the regions inserted or
--    deleted with a boundary are re-cut now, as an update re-cuts only
--    those whose boundary changed.
-- 2. Four foreign keys checked again what two others hold, one lookup per
--    row and key (2.4 million for the load):
--    - regions_parent_code_fkey: regions_parent_level_fkey is MATCH FULL
--      on (parent_code, parent_level), so a parent code is always a
--      region's;
--    - villages_code_fkey: villages_township_of_region, (code,
--      township_code) → regions (code, parent_code), both columns NOT
--      NULL, holds the code to be a region's and deletes the village with
--      its region as the dropped key did;
--    - villages_township_code_fkey and villages_county_code_fkey:
--      villages_county_of_township, (township_code, county_code) →
--      regions (code, parent_code), holds the township to be a region and
--      the county to be its parent, which regions' own key holds to be a
--      region.
--    1, 2 and 5 together: 247 → 210 s.
-- 3. audit_geometry found the CRS's name by a subquery of spatial_ref_sys
--    on each call: 4.6 s for 606,000 points. ST_AsGeoJSON's short-CRS
--    option writes the same JSON in 0.9 s (TestAuditJSON compares every
--    audited row with to_jsonb).
-- 4. registry_transition writes the registry's events one at a time, one
--    INSERT for each poverty village that enters it (121,000 in the
--    load), and the statement trigger that marks their regions for the
--    flags built its statement anew for each: 97 µs of an event's 125. A
--    row trigger with a statement of its own marks it in about 35.
-- 5. flags_pending's deferred trigger ran at commit once per subject
--    marked, to find its subject taken by the first run: 649,000 runs,
--    6 s (pg_stat_user_functions). A transaction now notes itself once,
--    in flags_pending_transactions, whose deferred trigger runs the
--    refresh once.
-- 6. ranked_grams, the search index's keys (027), took 12.8 µs a name in
--    SQL (two generated series, a union and a sorted aggregate); the same
--    keys in PL/pgSQL take 9.3 µs (200,000 national names; TestRankedGrams
--    compares them). The keys are the same, so the index is kept as it is.

SELECT edit_function('rollups_on_change()',
$old$        ELSE
            reshape := codes;$old$,
$new$        ELSIF TG_OP = 'INSERT' THEN
            SELECT coalesce(array_agg(code), '{}') INTO reshape FROM new_rows WHERE boundary IS NOT NULL;
        ELSE
            SELECT coalesce(array_agg(code), '{}') INTO reshape FROM old_rows WHERE boundary IS NOT NULL;$new$);

ALTER TABLE regions DROP CONSTRAINT regions_parent_code_fkey;
ALTER TABLE villages DROP CONSTRAINT villages_code_fkey,
                     DROP CONSTRAINT villages_township_code_fkey,
                     DROP CONSTRAINT villages_county_code_fkey;
-- A village written before its region is refused by the trigger that
-- fills its township, in the name of the key that now holds it.
SELECT edit_function('villages_follow_parents()',
    $old$CONSTRAINT = 'villages_code_fkey'$old$, $new$CONSTRAINT = 'villages_township_of_region'$new$);

CREATE OR REPLACE FUNCTION audit_geometry(g geometry) RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE
RETURN ST_AsGeoJSON(g, 15, 2)::jsonb;

-- flags_mark_row marks for the flags' refresh the subjects in the columns
-- of the new row its arguments name, as flags_mark does for a statement's
-- rows: for a table written one row at a time.
CREATE FUNCTION flags_mark_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO flags_pending (subject)
    SELECT s FROM (SELECT to_jsonb(NEW)) r (j), unnest(TG_ARGV) c, LATERAL (SELECT r.j ->> c) s (s)
    WHERE s IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
DROP TRIGGER registry_events_flags_ins ON registry_events;
CREATE TRIGGER registry_events_flags_ins AFTER INSERT ON registry_events
    FOR EACH ROW EXECUTE FUNCTION flags_mark_row('region_code');

CREATE UNLOGGED TABLE flags_pending_transactions (txid bigint PRIMARY KEY DEFAULT txid_current());
CREATE FUNCTION flags_pending_note() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO flags_pending_transactions DEFAULT VALUES ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- flags_refresh_pending (022) now runs once, for its transaction's row:
-- it takes the row, then every subject marked, as before.
SELECT edit_function('flags_refresh_pending()', $old$    IF NOT EXISTS (SELECT FROM flags_pending WHERE txid = NEW.txid AND subject = NEW.subject) THEN
        RETURN NULL; -- an earlier run took this subject with the others
    END IF;
$old$, $new$    DELETE FROM flags_pending_transactions WHERE txid = NEW.txid;
$new$);
DROP TRIGGER flags_pending_refresh ON flags_pending;
CREATE TRIGGER flags_pending_note AFTER INSERT ON flags_pending FOR EACH STATEMENT EXECUTE FUNCTION flags_pending_note();
CREATE CONSTRAINT TRIGGER flags_pending_refresh AFTER INSERT ON flags_pending_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION flags_refresh_pending();

CREATE OR REPLACE FUNCTION ranked_grams(level text, name text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
    rank text := level_rank(level) || '/' || length(name) || '/';
    n int := length(name);
    grams text[] := '{}';
BEGIN
    FOR i IN 1 .. n LOOP
        grams := grams || (rank || substr(name, i, 1));
        IF i < n THEN
            grams := grams || (rank || substr(name, i, 2));
        END IF;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT g FROM unnest(grams) g ORDER BY 1);
END
$$;

---- create above / drop below ----

CREATE OR REPLACE FUNCTION ranked_grams(level text, name text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT level_rank(level) || '/' || length(name) || '/' || g), '{}') FROM (
        SELECT substr(name, i, 1) FROM generate_series(1, length(name)) i
        UNION ALL
        SELECT substr(name, i, 2) FROM generate_series(1, length(name) - 1) i
    ) x (g)
$$;

DROP TRIGGER flags_pending_refresh ON flags_pending_transactions;
DROP TRIGGER flags_pending_note ON flags_pending;
CREATE CONSTRAINT TRIGGER flags_pending_refresh AFTER INSERT ON flags_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION flags_refresh_pending();
SELECT edit_function('flags_refresh_pending()', $new$    DELETE FROM flags_pending_transactions WHERE txid = NEW.txid;
$new$, $old$    IF NOT EXISTS (SELECT FROM flags_pending WHERE txid = NEW.txid AND subject = NEW.subject) THEN
        RETURN NULL; -- an earlier run took this subject with the others
    END IF;
$old$);
DROP FUNCTION flags_pending_note();
DROP TABLE flags_pending_transactions;

DROP TRIGGER registry_events_flags_ins ON registry_events;
CREATE TRIGGER registry_events_flags_ins AFTER INSERT ON registry_events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flags_mark('ARRAY[r.region_code]');
DROP FUNCTION flags_mark_row();

CREATE OR REPLACE FUNCTION audit_geometry(g geometry) RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE
RETURN ST_AsGeoJSON(g, 15, 0)::jsonb || coalesce((
    SELECT jsonb_build_object('crs', jsonb_build_object('type', 'name', 'properties',
                                                        jsonb_build_object('name', s.auth_name || ':' || s.auth_srid)))
    FROM spatial_ref_sys s WHERE s.srid = ST_SRID(g) AND ST_SRID(g) <> 0), '{}');

SELECT edit_function('villages_follow_parents()',
    $old$CONSTRAINT = 'villages_township_of_region'$old$, $new$CONSTRAINT = 'villages_code_fkey'$new$);
ALTER TABLE villages ADD CONSTRAINT villages_code_fkey FOREIGN KEY (code) REFERENCES regions (code) ON DELETE CASCADE,
                     ADD CONSTRAINT villages_township_code_fkey FOREIGN KEY (township_code) REFERENCES regions (code),
                     ADD CONSTRAINT villages_county_code_fkey FOREIGN KEY (county_code) REFERENCES regions (code);
ALTER TABLE regions ADD CONSTRAINT regions_parent_code_fkey FOREIGN KEY (parent_code) REFERENCES regions (code);

SELECT edit_function('rollups_on_change()',
$new$        ELSIF TG_OP = 'INSERT' THEN
            SELECT coalesce(array_agg(code), '{}') INTO reshape FROM new_rows WHERE boundary IS NOT NULL;
        ELSE
            SELECT coalesce(array_agg(code), '{}') INTO reshape FROM old_rows WHERE boundary IS NOT NULL;$new$,
$old$        ELSE
            reshape := codes;$old$);
