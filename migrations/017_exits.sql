-- Exits (有进有出): the standard a poverty unit must meet to leave the
-- registry, and the registry's events.
--
-- A poverty village may be marked exited only when its poverty incidence
-- (贫困发生率: poor people over population) is below the standard — 3%,
-- the western region's. A township or a county (摘帽) must have, over its
-- villages, an incidence below its standard and at least a share of its
-- poverty villages exited. The standards are data: admins change them,
-- every change is audited and kept with its history. A change that marks
-- a unit exited without meeting its standard is refused by PostgreSQL,
-- whoever writes it (an edit, an import, SQL), with the standard and the
-- unit's figures; an admin may override with a written reason, which is
-- recorded with the exit and raises a flag (018).
--
-- Every change of a unit's place in the registry is an event of its own:
-- it enters (none → not_exited), exits, returns to poverty (返贫: exited
-- → not_exited) or leaves (→ none), with who, when, the figures and the
-- standard of the moment, and the reason given.

-- exit_standards: per level, the largest poverty incidence a unit may
-- exit with (exclusive), the share of its poverty villages that must have
-- exited first (townships and counties), and until when the policies
-- continue after an exit (摘帽不摘政策: its projects, funds and pairing
-- stay; the campaign's policies hold through 2020).
CREATE TABLE exit_standards (
    level               text PRIMARY KEY CONSTRAINT exit_standards_level_known
                            CHECK (level IN ('village', 'township', 'county')),
    max_incidence       numeric(6, 5) NOT NULL CONSTRAINT exit_standards_max_incidence_range
                            CHECK (max_incidence > 0 AND max_incidence <= 1),
    min_villages_exited numeric(6, 5) CONSTRAINT exit_standards_min_villages_exited_range
                            CHECK (min_villages_exited BETWEEN 0 AND 1),
    policies_until      date NOT NULL,
    CONSTRAINT exit_standards_villages_share_above_villages
        CHECK ((level = 'village') = (min_villages_exited IS NULL))
);
INSERT INTO exit_standards VALUES
    ('village', 0.03, NULL, '2020-12-31'),
    ('township', 0.03, 0.9, '2020-12-31'),
    ('county', 0.03, 0.9, '2020-12-31');

-- Only admins (scope '*') change a standard, as with the targets.
ALTER TABLE exit_standards ENABLE ROW LEVEL SECURITY;
ALTER TABLE exit_standards FORCE ROW LEVEL SECURITY;
CREATE POLICY exit_standards_read ON exit_standards FOR SELECT USING (true);
CREATE POLICY exit_standards_write ON exit_standards
    USING (coalesce(current_setting('battlemap.scope', true) = '*', false))
    WITH CHECK (coalesce(current_setting('battlemap.scope', true) = '*', false));
CREATE TRIGGER exit_standards_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON exit_standards
    FOR EACH STATEMENT EXECUTE FUNCTION announce_change();
-- A standard judges every unit: its change may raise or clear flags
-- (018) anywhere, so it moves every county's version, and the answers
-- and tiles keyed on them follow.
CREATE TRIGGER exit_standards_versions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON exit_standards
    FOR EACH STATEMENT EXECUTE FUNCTION bump_all_versions();
SELECT create_statement_triggers('exit_standards', 'row_audit', 'audit_rows', ARRAY['r.level', 'NULL::text']);
SELECT keep_history_of('exit_standards', ARRAY['level']);
-- The first standards held before any data: the history's past is judged
-- by them (a flag raised in 2016 was raised against a standard).
UPDATE exit_standards_history SET valid = tstzrange(NULL, upper(valid));

-- exit_figures are the figures a unit's exit is judged on, from its
-- rollup row (region_rollups, kept current by every statement): for a
-- village its own; for a township or a county the sums over its
-- villages, and how many of its villages are poverty villages
-- (registered: not_exited or exited) and how many of those have exited.
-- The flags (018) judge the rollups' history by the same columns.
CREATE FUNCTION exit_figures(unit text) RETURNS TABLE (
    level text, population bigint, poor_population bigint, incidence numeric,
    poverty_villages integer, exited_villages integer
) LANGUAGE sql STABLE AS $$
    SELECT level, population, poor_population, round(poor_population::numeric / nullif(population, 0), 5),
           villages_not_exited + villages_exited, villages_exited
    FROM region_rollups WHERE code = unit
$$;

-- meets_exit_standard says whether figures f meet standard s: incidence
-- below the standard's, and for a township or a county the share of its
-- poverty villages exited at least the standard's (a unit without
-- poverty villages meets that part).
CREATE FUNCTION meets_exit_standard(f_incidence numeric, f_poverty integer, f_exited integer,
                                    s_max numeric, s_min_share numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(f_incidence, 0) < s_max
       AND (s_min_share IS NULL OR f_poverty = 0 OR f_exited::numeric / f_poverty >= s_min_share)
$$;

-- registry_events: the registry's history of entries and exits, written
-- by the trigger below only (append-only: the server's role may read it).
CREATE TABLE registry_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_code         text NOT NULL REFERENCES regions (code) ON DELETE CASCADE,
    level               text NOT NULL,
    kind                text NOT NULL CONSTRAINT registry_events_kind_known
                            CHECK (kind IN ('enter', 'exit', 'return', 'leave')),
    at                  timestamptz NOT NULL,
    actor               text NOT NULL,
    exit_year           smallint,
    -- The unit's figures when the event was made.
    population          bigint,
    poor_population     bigint,
    incidence           numeric,
    poverty_villages    integer,
    exited_villages     integer,
    -- The standard of the moment (exits).
    max_incidence       numeric,
    min_villages_exited numeric,
    -- The reason the actor gave; for an exit that did not meet the
    -- standard, the admin's written reason for overriding it.
    reason              text,
    override            boolean NOT NULL DEFAULT false,
    txid                bigint NOT NULL DEFAULT txid_current(),
    CONSTRAINT registry_events_override_has_reason CHECK (NOT override OR btrim(reason) <> '')
);
CREATE INDEX registry_events_region_idx ON registry_events (region_code, id);
CREATE INDEX registry_events_at_idx ON registry_events (at);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON registry_events FROM battlemap_app;

-- registry_transition runs at the end of the transaction that changed a
-- unit's poverty_status (a deferred constraint trigger), so that it
-- judges the figures the change left — an edit or an import writes a
-- village's regions row before its figures. Each change of status is an
-- event, dated when it took effect (the version of regions it began),
-- with the unit's figures and the standard as they stood then (the
-- histories of region_rollups and exit_standards), so that a load that
-- replays a half-year in one transaction dates each event on its day.
-- An exit that does not meet the standard is refused unless an admin
-- overrides it: the reason is the transaction's setting battlemap.reason,
-- which the server sets from the request. A refusal is SQLSTATE BR001 (a
-- rule of the data refused the change), its message safe to show, its
-- column the field, its detail the standard and the figures as JSON.
CREATE FUNCTION registry_transition() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    old_status text := CASE TG_OP WHEN 'INSERT' THEN 'none' ELSE OLD.poverty_status END;
    at timestamptz;
    f record;
    s exit_standards%ROWTYPE;
    kind text;
    reason text := nullif(btrim(current_setting('battlemap.reason', true)), '');
    overridden boolean := false;
    actor text := coalesce(nullif(current_setting('battlemap.actor', true), ''), session_user);
BEGIN
    IF old_status = NEW.poverty_status THEN
        RETURN NULL;
    END IF;
    SELECT min(lower(h.valid)) INTO at FROM regions_history h
    WHERE h.code = NEW.code AND h.txid = txid_current() AND h.poverty_status = NEW.poverty_status;
    at := coalesce(at, now());
    kind := CASE
        WHEN NEW.poverty_status = 'exited' THEN 'exit'
        WHEN NEW.poverty_status = 'none' THEN 'leave'
        WHEN old_status = 'exited' THEN 'return'
        ELSE 'enter' END;
    SELECT h.population, h.poor_population, round(h.poor_population::numeric / nullif(h.population, 0), 5) AS incidence,
           h.villages_not_exited + h.villages_exited AS poverty_villages, h.villages_exited AS exited_villages
    INTO f FROM region_rollups_history h WHERE h.code = NEW.code AND h.valid @> at;
    IF kind = 'exit' THEN
        SELECT h.level, h.max_incidence, h.min_villages_exited, h.policies_until INTO s
        FROM exit_standards_history h WHERE h.level = NEW.level AND h.valid @> at;
        IF s.level IS NULL THEN
            RAISE SQLSTATE 'BR001' USING
                MESSAGE = format('%s %s cannot exit: only villages, townships and counties are poverty units', NEW.level, NEW.code),
                COLUMN = 'poverty_status', CONSTRAINT = 'exit_standard';
        END IF;
        IF NOT meets_exit_standard(f.incidence, f.poverty_villages, f.exited_villages, s.max_incidence, s.min_villages_exited) THEN
            IF reason IS NULL OR coalesce(current_setting('battlemap.scope', true), '') <> '*' THEN
                RAISE SQLSTATE 'BR001' USING
                    MESSAGE = format('%s %s (%s) does not meet the exit standard and was not marked exited: ', NEW.level, NEW.code, NEW.name)
                        || format('its poverty incidence is %s%% (%s poor of %s people), the standard is below %s%%',
                                  round(coalesce(f.incidence, 0) * 100, 2), coalesce(f.poor_population, 0), coalesce(f.population, 0),
                                  round(s.max_incidence * 100, 2))
                        || CASE WHEN s.min_villages_exited IS NULL THEN ''
                                ELSE format(' with at least %s%% of its poverty villages exited (%s of %s have)',
                                            round(s.min_villages_exited * 100), f.exited_villages, f.poverty_villages) END
                        || '; an admin may override it with a written reason',
                    DETAIL = json_build_object(
                        'rule', 'exit_standard', 'region', NEW.code, 'level', NEW.level,
                        'standard', json_build_object('max_incidence', s.max_incidence, 'min_villages_exited', s.min_villages_exited),
                        'figures', jsonb_build_object('population', f.population, 'poor_population', f.poor_population,
                                                      'incidence', f.incidence, 'poverty_villages', f.poverty_villages,
                                                      'exited_villages', f.exited_villages)
                                   -- A village is judged on its incidence alone.
                                   - CASE WHEN NEW.level = 'village' THEN ARRAY['poverty_villages', 'exited_villages']
                                          ELSE '{}'::text[] END)::text,
                    COLUMN = 'poverty_status', CONSTRAINT = 'exit_standard';
            END IF;
            overridden := true;
        END IF;
    END IF;
    INSERT INTO registry_events (region_code, level, kind, at, actor, exit_year, population, poor_population, incidence,
                                 poverty_villages, exited_villages, max_incidence, min_villages_exited, reason, override)
    VALUES (NEW.code, NEW.level, kind, at, actor, NEW.exit_year, f.population, f.poor_population, f.incidence,
            f.poverty_villages, f.exited_villages, s.max_incidence, s.min_villages_exited, reason, overridden);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER regions_registry_insert AFTER INSERT ON regions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.poverty_status <> 'none') EXECUTE FUNCTION registry_transition();
CREATE CONSTRAINT TRIGGER regions_registry_update AFTER UPDATE OF poverty_status ON regions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.poverty_status IS DISTINCT FROM NEW.poverty_status) EXECUTE FUNCTION registry_transition();

-- as_of_views made the as_of schema from a list of tables; it now finds
-- every table that keeps its history, so that a migration that makes a
-- table keep it only has to run it again.
CREATE OR REPLACE FUNCTION as_of_views() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t    text;
    defs text[];
    v    text;
BEGIN
    PERFORM set_config('search_path', 'public', true);
    defs := ARRAY[pg_get_viewdef('public.rollup_figures'::regclass), pg_get_viewdef('public.region_figures'::regclass)];
    DROP VIEW IF EXISTS as_of.region_figures, as_of.rollup_figures;
    FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r'
               AND to_regclass(format('public.%I', c.relname || '_history')) IS NOT NULL
             ORDER BY c.relname LOOP
        EXECUTE format('DROP VIEW IF EXISTS as_of.%I', t);
        EXECUTE format('CREATE VIEW as_of.%I AS SELECT %s FROM public.%I WHERE valid @> as_of_moment()', t,
                       (SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
                        WHERE attrelid = format('public.%I', t)::regclass AND attnum > 0 AND NOT attisdropped),
                       t || '_history');
    END LOOP;
    PERFORM set_config('search_path', 'as_of, public', true);
    FOREACH v IN ARRAY ARRAY['rollup_figures', 'region_figures'] LOOP
        EXECUTE format('CREATE VIEW as_of.%I AS %s', v, defs[array_position(ARRAY['rollup_figures', 'region_figures'], v)]);
    END LOOP;
    PERFORM set_config('search_path', 'public', true);
END
$$;
SELECT as_of_views();

---- create above / drop below ----

DROP VIEW as_of.exit_standards;
DROP TRIGGER regions_registry_update ON regions;
DROP TRIGGER regions_registry_insert ON regions;
DROP FUNCTION registry_transition();
DROP TABLE registry_events;
DROP FUNCTION meets_exit_standard(numeric, integer, integer, numeric, numeric);
DROP FUNCTION exit_figures(text);
SELECT drop_history_of('exit_standards');
SELECT drop_statement_triggers('exit_standards', 'row_audit');
DROP TABLE exit_standards;
