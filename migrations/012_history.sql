-- History: every version of every row of the map data is kept, with the
-- time range in which it held, by triggers in the same transaction as the
-- change, so that no write path (an edit, an import, the demo, plain SQL)
-- can skip it. A change ends the range of the version it replaces and
-- starts one for the new; a delete ends the range and starts none; a
-- statement that leaves a row as it was writes nothing. So the history
-- grows with the number of changes, never with the days that pass, and
-- the map as of any moment is the versions whose range holds it.
--
-- A version's range starts at its transaction's time (now()): all the
-- rows one change writes share it. A row changed twice in one
-- transaction keeps only its last version (the first held for no time).
-- A change may be dated earlier, to load a past (the demo's months, a
-- registry's records): the setting battlemap.valid_from, for the
-- transaction, gives the time it took effect. It may not be later than
-- now, nor earlier than the start of a version it replaces, so that
-- versions never overlap and the past is only ever extended.
--
-- The history tables are written by the triggers only: they run as the
-- owner, and the servers' role may read the history but not rewrite it.

-- keep_history records a statement's changes to its table in the table's
-- history (TG_TABLE_NAME || '_history'); TG_ARGV are the key's columns.
CREATE FUNCTION keep_history() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    hist text := TG_TABLE_NAME || '_history';
    key  text := (SELECT string_agg(format('%I', k), ', ') FROM unnest(TG_ARGV) k);
    -- The key's columns in the history (h) and in the rows changed (o).
    hkey text := (SELECT string_agg(format('h.%I', k), ', ') FROM unnest(TG_ARGV) k);
    okey text := (SELECT string_agg(format('o.%I', k), ', ') FROM unnest(TG_ARGV) k);
    -- When the change took effect.
    at   timestamptz := coalesce(nullif(current_setting('battlemap.valid_from', true), '')::timestamptz, now());
    -- Rows the statement changed: old and new differ, or one is missing.
    changed text;
    later   timestamptz;
BEGIN
    IF at > now() THEN
        RAISE invalid_parameter_value USING
            MESSAGE = format('battlemap.valid_from %s is in the future: a change takes effect by now at the latest', at);
    END IF;
    -- The latest moment a version of the rows concerned holds or held:
    -- the change must not come before it.
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('SELECT max(coalesce(upper(valid), lower(valid))) FROM %I', hist) INTO later;
    ELSE
        EXECUTE format('SELECT max(coalesce(upper(h.valid), lower(h.valid))) FROM %1$I h JOIN (%2$s) o ON (%3$s) = (%4$s)',
                       hist,
                       CASE TG_OP WHEN 'INSERT' THEN 'SELECT * FROM new_rows' WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
                                  ELSE 'SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows' END,
                       hkey, okey) INTO later;
        changed := CASE TG_OP
            WHEN 'UPDATE' THEN format('SELECT (o.o).* FROM (SELECT o, (%1$s) AS k FROM old_rows o) o
                                       LEFT JOIN (SELECT n, (%1$s) AS k FROM new_rows n) n USING (k)
                                       WHERE n IS NULL OR to_jsonb(o.o) <> to_jsonb(n.n)', key)
            WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        END;
    END IF;
    IF later > at THEN
        RAISE invalid_parameter_value USING
            MESSAGE = format('a change dated %s comes before a version of the same rows that held until or began at %s', at, later);
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('DELETE FROM %I WHERE upper_inf(valid) AND lower(valid) = $1', hist) USING at;
        EXECUTE format('UPDATE %I SET valid = tstzrange(lower(valid), $1) WHERE upper_inf(valid)', hist) USING at;
        RETURN NULL;
    END IF;
    IF changed IS NOT NULL THEN
        -- A version begun at the change's time held for no time: it
        -- goes; any other ends then.
        EXECUTE format('DELETE FROM %1$I h USING (%2$s) o
                        WHERE (%3$s) = (%4$s) AND upper_inf(h.valid) AND lower(h.valid) = $1',
                       hist, changed,
                       hkey, okey) USING at;
        EXECUTE format('UPDATE %1$I h SET valid = tstzrange(lower(h.valid), $1) FROM (%2$s) o
                        WHERE (%3$s) = (%4$s) AND upper_inf(h.valid)',
                       hist, changed,
                       hkey, okey) USING at;
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO %I SELECT n.*, tstzrange($1, NULL) FROM new_rows n', hist) USING at;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format('INSERT INTO %1$I SELECT (n.n).*, tstzrange($1, NULL)
                        FROM (SELECT n, (%2$s) AS k FROM new_rows n) n
                        LEFT JOIN (SELECT o, (%2$s) AS k FROM old_rows o) o USING (k)
                        WHERE o IS NULL OR to_jsonb(o.o) <> to_jsonb(n.n)', hist, key) USING at;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('regions', ARRAY['code']), ('villages', ARRAY['code']), ('sites', ARRAY['code']),
        ('projects', ARRAY['code']), ('relocation_assignments', ARRAY['village_code', 'site_code']),
        ('hazard_zones', ARRAY['code']), ('roads', ARRAY['code']), ('services', ARRAY['code'])) v (tbl, key)
    LOOP
        -- The table's columns as they are, without its constraints: a
        -- version of a row that no longer exists refers to nothing.
        EXECUTE format('CREATE TABLE %I (LIKE %I, valid tstzrange NOT NULL)', t.tbl || '_history', t.tbl);
        EXECUTE format('CREATE INDEX %I ON %I (%s, lower(valid))', t.tbl || '_history_key_idx', t.tbl || '_history',
                       (SELECT string_agg(format('%I', k), ', ') FROM unnest(t.key) k));
        EXECUTE format('CREATE INDEX %I ON %I USING gist (valid)', t.tbl || '_history_valid_gix', t.tbl || '_history');
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I FROM battlemap_app', t.tbl || '_history');
        EXECUTE format('INSERT INTO %I SELECT r.*, tstzrange(now(), NULL) FROM %I r', t.tbl || '_history', t.tbl);
        PERFORM create_statement_triggers(t.tbl, 'history', 'keep_history', t.key);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION keep_history()',
                       t.tbl || '_history_trunc', t.tbl);
    END LOOP;
END
$$;

---- create above / drop below ----

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments',
                             'hazard_zones', 'roads', 'services'] LOOP
        PERFORM drop_statement_triggers(t, 'history');
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_history_trunc', t);
        EXECUTE format('DROP TABLE %I', t || '_history');
    END LOOP;
END
$$;
DROP FUNCTION keep_history();
