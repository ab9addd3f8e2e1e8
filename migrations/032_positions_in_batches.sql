-- Positions in batches. sequence_changes (008) gave every committed
-- audit row without a position its position in one statement, and a row
-- trigger checked each row so changed by making JSON of the whole row,
-- before and after. A national import commits 1.3 million audit rows at
-- once (a village's regions row and its villages row, each with its
-- geometry as GeoJSON): the statement ran past the servers' statement
-- timeout every time it was tried (6 s for 10,000 rows, nearly all of it
-- the check), so no change after the import ever got a position, and no
-- event stream could start (LastEvent gives positions first).
--
-- sequence_changes now positions at most a batch of rows, the oldest
-- first, and the server calls it until a call positions fewer
-- (geo.SequenceChanges): each call is short, and positions still become
-- visible in their order, since each batch's are larger than the one
-- before it and are committed after them. The check is now the triggers'
-- own column lists: an UPDATE that names any column but position is
-- refused, whatever it would set (a statement trigger, run once), and a
-- position set twice is refused by a row trigger whose condition
-- PostgreSQL tests itself. No function runs per row: the national
-- backlog, 126 calls, is positioned in about a minute.

DROP TRIGGER audit_log_positions_only ON audit_log;
DROP FUNCTION audit_log_positions_only();

CREATE FUNCTION audit_log_positions_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: only a change''s position may be set, once'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- audit_log_update_columns (re)makes the trigger that refuses an UPDATE
-- naming any column of the audit log but position: a migration that adds
-- a column to the log runs it again (the migrations' tests check that the
-- list is whole).
CREATE FUNCTION audit_log_update_columns() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'DROP TRIGGER IF EXISTS audit_log_positions_only ON audit_log';
    EXECUTE format('CREATE TRIGGER audit_log_positions_only BEFORE UPDATE OF %s ON audit_log
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_positions_only()',
                   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                    WHERE a.attrelid = 'audit_log'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                      AND a.attname <> 'position'));
END
$$;
-- It is a migrations' tool: nobody else runs it.
REVOKE EXECUTE ON FUNCTION audit_log_update_columns() FROM PUBLIC;
SELECT audit_log_update_columns();

CREATE TRIGGER audit_log_position_once BEFORE UPDATE OF position ON audit_log
    FOR EACH ROW WHEN (OLD.position IS NOT NULL) EXECUTE FUNCTION audit_log_positions_only();

DROP FUNCTION sequence_changes();
-- sequence_changes gives positions to at most batch of the committed
-- audit rows that have none, in the order of their ids, and returns how
-- many it gave. One sequencer runs at a time (the lock), and each
-- statement below sees what the one before it committed, so positions
-- become visible in their order. It runs as the owner: the servers' role
-- may not write the log.
CREATE FUNCTION sequence_changes(batch integer) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    given bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('battlemap.positions'));
    UPDATE audit_log a SET position = n.position
    FROM (SELECT id, nextval('change_position_seq') AS position
          FROM (SELECT id FROM audit_log WHERE position IS NULL ORDER BY id LIMIT batch) w) n
    WHERE a.id = n.id;
    GET DIAGNOSTICS given = ROW_COUNT;
    RETURN given;
END
$$;
REVOKE EXECUTE ON FUNCTION sequence_changes(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sequence_changes(integer) TO battlemap_app;

---- create above / drop below ----

DROP FUNCTION sequence_changes(integer);
CREATE FUNCTION sequence_changes() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    given bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('battlemap.positions'));
    UPDATE audit_log a SET position = n.position
    FROM (SELECT id, nextval('change_position_seq') AS position
          FROM (SELECT id FROM audit_log WHERE position IS NULL ORDER BY id) w) n
    WHERE a.id = n.id;
    GET DIAGNOSTICS given = ROW_COUNT;
    RETURN given;
END
$$;
REVOKE EXECUTE ON FUNCTION sequence_changes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sequence_changes() TO battlemap_app;

DROP TRIGGER audit_log_position_once ON audit_log;
DROP TRIGGER audit_log_positions_only ON audit_log;
DROP FUNCTION audit_log_update_columns();
DROP FUNCTION audit_log_positions_only();
CREATE FUNCTION audit_log_positions_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.position IS NULL AND NEW.position IS NOT NULL
       AND to_jsonb(OLD) - 'position' = to_jsonb(NEW) - 'position' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: only a change''s position may be set, once'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_positions_only BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_positions_only();
