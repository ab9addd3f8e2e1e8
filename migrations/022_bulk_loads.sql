-- Bulk loads: a transaction that writes hundreds of thousands of rows
-- (battlemap import of a national file, geo/importer's Bulk) must not
-- pay per statement, or per row, for what it needs once.
--
-- The rollups. Every statement on the map tables refreshes the rollups
-- of the counties it touched (rollups_on_change, 002/003/008), and a
-- bulk load writes each layer in several statements (a village is a
-- regions row and a villages row): the same counties were refreshed once
-- per statement, and a national load refreshed every county of the
-- country in one call, holding all their rows in one array. A
-- transaction that sets battlemap.bulk to 'on' (transaction-local) only
-- records the counties to refresh, in battlemap.rollups_pending; it then
-- refreshes them itself, one city at a time, before it commits
-- (geo/importer's Bulk does, with battlemap.bulk off again). The
-- wrapper is a function of its own around the refresh, so that whatever
-- an earlier migration made of refresh_rollups is kept as it is.
--
-- The flags. flags_pending's deferred trigger fires once per subject
-- marked; the first run computes the flags of all of them and deletes
-- them, and every later run deleted nothing after walking the index
-- entries of every row the first run deleted: quadratic, two minutes for
-- 20,000 villages, hours for a country. A run whose own row is gone now
-- returns at once, after one look-up by its key.

ALTER FUNCTION refresh_rollups(text[]) RENAME TO refresh_rollups_now;

CREATE FUNCTION refresh_rollups(counties text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF counties IS NULL OR coalesce(current_setting('battlemap.bulk', true), '') <> 'on' THEN
        PERFORM refresh_rollups_now(counties);
        RETURN;
    END IF;
    PERFORM set_config('battlemap.rollups_pending', array_to_string(ARRAY(
        SELECT DISTINCT c FROM unnest(counties || string_to_array(nullif(current_setting('battlemap.rollups_pending', true), ''), ',')) c
        WHERE c IS NOT NULL ORDER BY c), ','), true);
END
$$;

CREATE OR REPLACE FUNCTION flags_refresh_pending() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    marked text[];
BEGIN
    IF NOT EXISTS (SELECT FROM flags_pending WHERE txid = NEW.txid AND subject = NEW.subject) THEN
        RETURN NULL; -- an earlier run took this subject with the others
    END IF;
    WITH gone AS (DELETE FROM flags_pending WHERE txid = txid_current() RETURNING subject)
    SELECT array_agg(subject) INTO marked FROM gone;
    IF marked IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM refresh_flags(CASE WHEN '*' = ANY (marked) THEN NULL ELSE marked END);
    RETURN NULL;
END
$$;

---- create above / drop below ----

CREATE OR REPLACE FUNCTION flags_refresh_pending() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    marked text[];
BEGIN
    WITH gone AS (DELETE FROM flags_pending WHERE txid = txid_current() RETURNING subject)
    SELECT array_agg(subject) INTO marked FROM gone;
    IF marked IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM refresh_flags(CASE WHEN '*' = ANY (marked) THEN NULL ELSE marked END);
    RETURN NULL;
END
$$;

DROP FUNCTION refresh_rollups(text[]);
ALTER FUNCTION refresh_rollups_now(text[]) RENAME TO refresh_rollups;
