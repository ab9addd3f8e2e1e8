-- Two changes of the same rows, made at the same time, both commit.
--
-- A change's versions began at its transaction's start (now()), and 012
-- refused a change dated before a version of the same rows. But a
-- transaction that started first can commit second: two edits of one
-- county, the later started committing first (each refreshes the
-- county's rollup rows, one after the other under the county's lock), or
-- two edits of one village. The second then found the first's versions
-- beginning after its own start, and was refused — measured: 472 of the
-- edits benchmark's raw updates failed so once the rollups kept their
-- history (014).
--
-- So an undated change takes effect when it can: at its transaction's
-- start, or, when another transaction's version of the same rows began
-- at or after that, a microsecond after the latest of them — the order
-- of the versions is then the order in which the changes reached the
-- rows, which is what happened. (Within one transaction, never before a
-- version it wrote itself.) The versions of one change may then begin at
-- slightly different times for the rows that waited; the audit rows keep
-- the transaction's start, and a version finds its audit rows by
-- transaction (geo/changes.go). A dated change (battlemap.valid_from) is
-- still refused before a version it follows: its time is what it says.

CREATE OR REPLACE FUNCTION keep_history() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    hist text := TG_TABLE_NAME || '_history';
    key  text := (SELECT string_agg(format('%I', k), ', ') FROM unnest(TG_ARGV) k);
    -- The key's columns in the history (h) and in the rows changed (o).
    hkey text := (SELECT string_agg(format('h.%I', k), ', ') FROM unnest(TG_ARGV) k);
    okey text := (SELECT string_agg(format('o.%I', k), ', ') FROM unnest(TG_ARGV) k);
    dated timestamptz := nullif(current_setting('battlemap.valid_from', true), '')::timestamptz;
    -- When the change takes effect.
    at   timestamptz := coalesce(dated, now());
    -- The rows the statement touched, old and new, and those it changed:
    -- old and new differ, or one is missing.
    touched text;
    changed text;
    later   timestamptz;
    others  timestamptz;
    mine    timestamptz;
BEGIN
    IF at > now() THEN
        RAISE invalid_parameter_value USING
            MESSAGE = format('battlemap.valid_from %s is in the future: a change takes effect by now at the latest', at);
    END IF;
    IF TG_OP <> 'TRUNCATE' THEN
        touched := CASE TG_OP WHEN 'INSERT' THEN 'SELECT * FROM new_rows' WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
                              ELSE 'SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows' END;
        changed := CASE TG_OP
            WHEN 'UPDATE' THEN format('SELECT (o.o).* FROM (SELECT o, (%1$s) AS k FROM old_rows o) o
                                       LEFT JOIN (SELECT n, (%1$s) AS k FROM new_rows n) n USING (k)
                                       WHERE n IS NULL OR to_jsonb(o.o) <> to_jsonb(n.n)', key)
            WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        END;
    END IF;
    -- The versions of the rows concerned (all of them, for TRUNCATE): the
    -- latest moment one holds or held; the latest start of another
    -- transaction's; the latest start of this one's.
    EXECUTE format('SELECT max(coalesce(upper(h.valid), lower(h.valid))),
                           max(lower(h.valid)) FILTER (WHERE h.txid IS DISTINCT FROM txid_current()),
                           max(lower(h.valid)) FILTER (WHERE h.txid = txid_current())
                    FROM %I h %s', hist,
                   CASE WHEN TG_OP = 'TRUNCATE' THEN ''
                        ELSE format('JOIN (%s) o ON (%s) = (%s)', touched, hkey, okey) END)
        INTO later, others, mine;
    IF dated IS NOT NULL THEN
        IF later > at THEN
            RAISE invalid_parameter_value USING
                MESSAGE = format('a change dated %s comes before a version of the same rows that held until or began at %s', at, later);
        END IF;
    ELSE
        at := greatest(at, others + interval '1 microsecond', mine);
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
                       hist, changed, hkey, okey) USING at;
        EXECUTE format('UPDATE %1$I h SET valid = tstzrange(lower(h.valid), $1) FROM (%2$s) o
                        WHERE (%3$s) = (%4$s) AND upper_inf(h.valid)',
                       hist, changed, hkey, okey) USING at;
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

---- create above / drop below ----

-- As 012 made it.
CREATE OR REPLACE FUNCTION keep_history() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
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
