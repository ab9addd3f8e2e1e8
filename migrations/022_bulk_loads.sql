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
--
-- The county versions. bump_county_versions (007/008) finds the counties
-- a statement reached by asking, for each county, whether any geometry
-- drawn meets its boundary: a nested loop of counties × rows, more than
-- five minutes for 2,870 counties and 620,000 village points. A bulk
-- transaction moves them once, at its end, from the box of all it drew.

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

-- bump_versions_of moves the versions of the counties met, or
-- other_version when there are none: bump_county_versions' end, which a
-- bulk load's end shares.
CREATE FUNCTION bump_versions_of(met text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bumped bigint;
BEGIN
    -- Locked in the order of codes first, so that two writes reaching the
    -- same counties wait for each other instead of deadlocking (an UPDATE
    -- locks rows in the order it finds them, which moves as they do).
    PERFORM FROM county_versions WHERE code = ANY (met) ORDER BY code FOR UPDATE;
    UPDATE county_versions SET version = nextval('county_version_seq'), changed_at = now() WHERE code = ANY (met);
    GET DIAGNOSTICS bumped = ROW_COUNT;
    IF bumped = 0 THEN
        UPDATE other_version SET version = version + 1, changed_at = now();
    END IF;
END
$$;

-- In bulk mode, bump_county_versions only widens the box of what was
-- drawn (battlemap.versions_pending); bump_pending_versions moves, at the
-- load's end, the versions of the counties that box meets: every county
-- a statement would have moved, and perhaps a few more, whose caches are
-- then read again.
CREATE OR REPLACE FUNCTION bump_county_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    drawn    text := 'SELECT NULL::geometry AS g WHERE false';
    counties boolean;
    met      text[];
    area     box2d;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM old_rows r', TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM new_rows r', TG_ARGV[0]);
    END IF;
    -- A region filed under another parent changes the figures of both
    -- parents, wherever its point lies: their boundaries are drawn too.
    IF TG_TABLE_NAME = 'regions' AND TG_OP = 'UPDATE' THEN
        drawn := drawn || ' UNION ALL SELECT p.boundary FROM old_rows o JOIN new_rows n USING (code)
            JOIN regions p ON p.code IN (o.parent_code, n.parent_code) WHERE o.parent_code IS DISTINCT FROM n.parent_code';
    END IF;
    -- A county added, or its boundary moved.
    IF TG_TABLE_NAME = 'regions' AND TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM new_rows WHERE level = ''county'')' INTO counties;
        IF counties THEN
            PERFORM county_versions_follow_regions();
        END IF;
    END IF;
    IF coalesce(current_setting('battlemap.bulk', true), '') = 'on' THEN
        EXECUTE format('SELECT ST_Extent(g) FROM (%s) d', drawn) INTO area;
        PERFORM set_config('battlemap.versions_pending', coalesce((
            SELECT ST_Extent(b)::text FROM (VALUES (area::geometry),
                (nullif(current_setting('battlemap.versions_pending', true), '')::box2d::geometry)) v (b)), ''), true);
        RETURN NULL;
    END IF;
    EXECUTE format($f$
        SELECT coalesce(array_agg(c.code), '{}') FROM regions c
        WHERE c.level = 'county' AND EXISTS (SELECT FROM (%s) d WHERE d.g && c.boundary)$f$, drawn) INTO met;
    PERFORM bump_versions_of(met);
    RETURN NULL;
END
$$;

CREATE FUNCTION bump_pending_versions() RETURNS void LANGUAGE sql AS $$
    SELECT bump_versions_of(ARRAY(
        SELECT c.code FROM regions c
        WHERE c.level = 'county'
          AND c.boundary && ST_SetSRID(current_setting('battlemap.versions_pending')::box2d::geometry, 4326)))
    WHERE nullif(current_setting('battlemap.versions_pending', true), '') IS NOT NULL;
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

CREATE OR REPLACE FUNCTION bump_county_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    drawn    text := 'SELECT NULL::geometry AS g WHERE false';
    counties boolean;
    met      text[];
    bumped   bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM old_rows r', TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM new_rows r', TG_ARGV[0]);
    END IF;
    -- A region filed under another parent changes the figures of both
    -- parents, wherever its point lies: their boundaries are drawn too.
    IF TG_TABLE_NAME = 'regions' AND TG_OP = 'UPDATE' THEN
        drawn := drawn || ' UNION ALL SELECT p.boundary FROM old_rows o JOIN new_rows n USING (code)
            JOIN regions p ON p.code IN (o.parent_code, n.parent_code) WHERE o.parent_code IS DISTINCT FROM n.parent_code';
    END IF;
    -- A county added, or its boundary moved.
    IF TG_TABLE_NAME = 'regions' AND TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM new_rows WHERE level = ''county'')' INTO counties;
        IF counties THEN
            PERFORM county_versions_follow_regions();
        END IF;
    END IF;
    EXECUTE format($f$
        SELECT coalesce(array_agg(c.code), '{}') FROM regions c
        WHERE c.level = 'county' AND EXISTS (SELECT FROM (%s) d WHERE d.g && c.boundary)$f$, drawn) INTO met;
    -- Locked in the order of codes first, so that two writes reaching the
    -- same counties wait for each other instead of deadlocking (an UPDATE
    -- locks rows in the order it finds them, which moves as they do).
    PERFORM FROM county_versions WHERE code = ANY (met) ORDER BY code FOR UPDATE;
    UPDATE county_versions SET version = nextval('county_version_seq'), changed_at = now() WHERE code = ANY (met);
    GET DIAGNOSTICS bumped = ROW_COUNT;
    IF bumped = 0 THEN
        UPDATE other_version SET version = version + 1, changed_at = now();
    END IF;
    RETURN NULL;
END
$$;
DROP FUNCTION bump_pending_versions();
DROP FUNCTION bump_versions_of(text[]);
