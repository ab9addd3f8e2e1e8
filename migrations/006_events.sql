-- The audit log is the durable change log that screens follow: an audit
-- row's id is its change's position, from which a Server-Sent Events
-- client resumes (Last-Event-ID), on any instance, after any restart.
-- For that the ids must come in commit order, or a client that has seen
-- id 10 could miss id 9, committed after it. So every statement that
-- changes map data (or users) first takes a transaction-level advisory
-- lock, held to commit: changes commit one after another, and each one's
-- audit rows get their ids while it holds the lock. (The rollups'
-- per-city lock serialised the edits of a city already; this makes the
-- order global.) The same trigger announces the change on
-- battlemap_changes, delivered at commit, so instances need not poll.
--
-- The trigger fires before the data version's, the rollups' and the
-- audit's (triggers of one kind fire in name order: "…_changes_in_order"
-- first), so the lock is held before any of them writes.

CREATE FUNCTION changes_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('battlemap.changes'));
    PERFORM pg_notify('battlemap_changes', '');
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments', 'users'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION changes_in_order()', t || '_changes_in_order', t);
    END LOOP;
END
$$;

---- create above / drop below ----

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments', 'users'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_changes_in_order', t);
    END LOOP;
END
$$;
DROP FUNCTION changes_in_order();
