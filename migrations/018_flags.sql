-- Consistency flags: the rules that find figures which cannot all be
-- true ("数字脱贫", "被脱贫"), evaluated by PostgreSQL over the data and
-- its whole history.
--
-- A flag is one span of time over which a rule held for one unit,
-- project or site: raised when the rule first held, cleared when it
-- stopped (NULL while it holds). The spans are computed from the history
-- tables (012–016), so a flag raised in March and cleared in May says so,
-- whatever happened since, and the flags as of a past moment are those
-- whose span covers it. The rules' codes and severities are here, their
-- Chinese messages and statements in the catalogue (geo/catalog.go,
-- FlagRules); TestFlagRulesMatch fails when the two differ.
--
-- flag_spans computes the spans of the subjects given (villages,
-- townships, counties, projects, sites, by code), rule by rule;
-- refresh_flags stores them in flags for those subjects. Every change to
-- the data a rule reads marks the subjects it touched in flags_pending
-- (a project marks its village too, whose figures it is compared with;
-- an assignment its village and its site; a change of the rollups the
-- township and county it moved), and at the end of the transaction the
-- marked subjects are computed again, once each, so that the flags a
-- transaction leaves are those of its data. A subject's flags are
-- computed from its whole history, which its key index finds.

CREATE TABLE flag_rules (
    code     text PRIMARY KEY CONSTRAINT flag_rules_code_known CHECK (code IN (
                 'exit_below_standard', 'sudden_cut', 'funds_ahead', 'site_overfilled', 'over_assigned',
                 'exit_override', 'completion_not_marked', 'completed_underfunded', 'site_done_unbuilt', 'stale_figures')),
    severity text NOT NULL CONSTRAINT flag_rules_severity_known CHECK (severity IN ('high', 'medium', 'low')),
    -- The worse the severity, the lower its rank: lists sort by it.
    rank     smallint NOT NULL GENERATED ALWAYS AS (CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END) STORED
);
INSERT INTO flag_rules (code, severity) VALUES
    ('exit_below_standard', 'high'),
    ('exit_override', 'medium'),
    ('sudden_cut', 'high'),
    ('completion_not_marked', 'medium'),
    ('completed_underfunded', 'medium'),
    ('funds_ahead', 'high'),
    ('site_done_unbuilt', 'medium'),
    ('site_overfilled', 'high'),
    ('over_assigned', 'high'),
    ('stale_figures', 'low');

CREATE TABLE flags (
    id           text PRIMARY KEY,
    rule         text NOT NULL REFERENCES flag_rules (code),
    -- What the flag is about: a village, township or county (their code),
    -- a project or a site (its code).
    subject      text NOT NULL CONSTRAINT flags_subject_known
                     CHECK (subject IN ('village', 'township', 'county', 'project', 'site')),
    subject_code text NOT NULL,
    name         text NOT NULL,
    county_code  text NOT NULL,
    -- The regions it lies in, from the top down to the finest (a project
    -- its village's, a site its township's), as they last stood: the
    -- drill-down counts a region's flags by it.
    lineage      text[] NOT NULL,
    raised_at    timestamptz NOT NULL,
    cleared_at   timestamptz,
    -- The transaction of the change that raised it, and of the one that
    -- cleared it: their audit rows are the change (audit_log.txid).
    raised_txid  bigint,
    cleared_txid bigint,
    -- The figures the rule judged when it was raised.
    facts        jsonb NOT NULL,
    geom         geometry(Point, 4326) NOT NULL,
    CONSTRAINT flags_span_ordered CHECK (cleared_at IS NULL OR cleared_at > raised_at)
);
CREATE INDEX flags_county_idx ON flags (county_code);
CREATE INDEX flags_lineage_gix ON flags USING gin (lineage);
CREATE INDEX flags_subject_idx ON flags (subject_code);
CREATE INDEX flags_span_idx ON flags USING gist (tstzrange(raised_at, cleared_at));
CREATE INDEX flags_geom_gix ON flags USING gist (geom);
CREATE INDEX flags_geom_3857_gix ON flags USING gist (ST_Transform(geom, 3857));
-- Only refresh_flags writes flags.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON flags, flag_rules FROM battlemap_app;

-- A flag's id names its rule, what it is about and when it was raised
-- (microseconds since 1970), so that it stays the same however often the
-- flags are computed again.
CREATE FUNCTION flag_id(rule text, subject_code text, raised_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT rule || '.' || subject_code || '.' || (extract(epoch FROM raised_at) * 1000000)::bigint
$$;

-- flag_spans computes every rule over the history of the subjects given.
-- Each rule is a query of the spans over which it held, as rows of
-- (rule, subject, code, county, raised, cleared, raising transaction,
-- facts); the name, point and clearing transaction are looked up once,
-- at the end. Spans are made by range_agg, which merges the versions a
-- rule held in that touch into one.
CREATE FUNCTION flag_spans(subjects text[]) RETURNS TABLE (
    id text, rule text, subject text, subject_code text, name text, county_code text, lineage text[],
    raised_at timestamptz, cleared_at timestamptz, raised_txid bigint, cleared_txid bigint, facts jsonb, geom geometry
) LANGUAGE sql STABLE AS $$
WITH
-- Exited (出列、摘帽) but not meeting the standard of its level as it
-- stood: a unit's rollup row (its figures, for a township or county
-- summed over its villages) against the standard of the moment.
exit_below AS (
    SELECT r.code, r.level, r.county_code, r.valid * s.valid AS valid, r.txid,
           jsonb_build_object('population', r.population, 'poor_population', r.poor_population,
                              'incidence', round(r.poor_population::numeric / nullif(r.population, 0), 5),
                              'poverty_villages', r.villages_exited + r.villages_not_exited,
                              'exited_villages', r.villages_exited, 'max_incidence', s.max_incidence,
                              'min_villages_exited', s.min_villages_exited) AS facts
    FROM region_rollups_history r
    JOIN exit_standards_history s ON s.level = r.level AND s.valid && r.valid
    WHERE r.code = ANY (subjects) AND r.poverty_status = 'exited'
      AND NOT meets_exit_standard(round(r.poor_population::numeric / nullif(r.population, 0), 5),
                                  r.villages_exited + r.villages_not_exited, r.villages_exited,
                                  s.max_incidence, s.min_villages_exited)
),
-- Project versions, with what the rules of projects read.
project_rules AS (
    SELECT p.code, p.county_code, p.valid, p.txid, x.rule,
           jsonb_build_object('status', p.status, 'completion', p.completion, 'funds_planned', p.funds_planned,
                              'funds_disbursed', p.funds_disbursed,
                              'disbursed_percent', round(p.funds_disbursed * 100.0 / nullif(p.funds_planned, 0), 1)) AS facts
    FROM projects_history p
    CROSS JOIN LATERAL (VALUES
        -- Finished in its figures, not in its status.
        ('completion_not_marked', p.completion = 100 AND p.status <> 'completed'),
        -- Completed with less than 90% of its funds disbursed.
        ('completed_underfunded', p.status = 'completed' AND p.funds_disbursed < 0.9 * p.funds_planned),
        -- Money out, nothing built: disbursed more than 30 points ahead of
        -- completion.
        ('funds_ahead', p.funds_disbursed * 100.0 / nullif(p.funds_planned, 0) - p.completion > 30)
    ) x (rule, holds)
    WHERE p.code = ANY (subjects) AND x.holds
),
-- A site completed or occupied below 100% progress.
site_unbuilt AS (
    SELECT s.code, s.county_code, s.valid, s.txid,
           jsonb_build_object('status', s.status, 'progress', s.progress) AS facts
    FROM sites_history s
    WHERE s.code = ANY (subjects) AND s.status IN ('completed', 'occupied') AND s.progress < 100
),
-- People assigned to move, summed at each moment an assignment or the
-- row it is compared with changed: into a site (against those moved in)
-- and out of a village (against its population).
assigned_rows AS (
    SELECT 'site' AS subject, s.code, s.county_code, s.valid, s.txid, s.moved_in_people AS figure
    FROM sites_history s WHERE s.code = ANY (subjects)
    UNION ALL
    SELECT 'village', v.code, v.county_code, v.valid, v.txid, v.population
    FROM villages_history v WHERE v.code = ANY (subjects)
),
-- The assignments' versions, by the side they are compared on.
assignment_sides AS (
    SELECT 'site' AS subject, a.site_code AS code, a.valid, a.txid, a.people
    FROM relocation_assignments_history a
    WHERE a.site_code IN (SELECT code FROM assigned_rows WHERE subject = 'site')
    UNION ALL
    SELECT 'village', a.village_code, a.valid, a.txid, a.people
    FROM relocation_assignments_history a
    WHERE a.village_code IN (SELECT code FROM assigned_rows WHERE subject = 'village')
),
-- The moments either side changed, each with the transaction of the
-- version that began then (none for an assignment deleted: its history
-- keeps when it ended, not who ended it).
assigned_moments AS (
    SELECT subject, code, t, max(txid) AS txid FROM (
        SELECT r.subject, r.code, lower(r.valid) AS t, r.txid FROM assigned_rows r
        UNION ALL
        SELECT a.subject, a.code, lower(a.valid), a.txid FROM assignment_sides a
        UNION ALL
        SELECT a.subject, a.code, upper(a.valid), NULL FROM assignment_sides a WHERE NOT upper_inf(a.valid)
    ) e
    GROUP BY subject, code, t
),
assigned_sums AS (
    SELECT m.subject, m.code, m.t, m.txid, coalesce(sum(a.people), 0) AS people
    FROM assigned_moments m
    LEFT JOIN assignment_sides a ON a.subject = m.subject AND a.code = m.code AND a.valid @> m.t
    GROUP BY m.subject, m.code, m.t, m.txid
),
assigned AS (
    SELECT m.subject, r.code, r.county_code, m.txid, r.figure, m.people,
           tstzrange(m.t, lead(m.t) OVER (PARTITION BY m.subject, m.code ORDER BY m.t)) * r.valid AS valid
    FROM assigned_sums m
    JOIN assigned_rows r ON r.subject = m.subject AND r.code = m.code AND r.valid @> m.t
),
over_assigned AS (
    SELECT subject, code, county_code, valid, txid,
           CASE subject WHEN 'site' THEN 'site_overfilled' ELSE 'over_assigned' END AS rule,
           CASE subject WHEN 'site' THEN jsonb_build_object('moved_in_people', figure, 'assigned_people', people)
                ELSE jsonb_build_object('population', figure, 'assigned_people', people) END AS facts
    FROM assigned
    WHERE CASE subject WHEN 'site' THEN figure > people ELSE people > figure END
),
-- A village's poor population, version by version, with the one before.
poor AS (
    SELECT v.code, v.county_code, v.valid, v.txid, v.poor_population,
           lag(v.poor_population) OVER (PARTITION BY v.code ORDER BY lower(v.valid)) AS before
    FROM villages_history v WHERE v.code = ANY (subjects)
),
-- "被脱贫": a change that cut a village's poor population by more than a
-- third (and by ten people or more) without the village exiting in the
-- same change. It holds until the figure is back to two thirds of what
-- it was or the village exits.
sudden_cut AS (
    SELECT c.code, c.county_code, lower(c.valid) AS raised, c.txid,
           (SELECT min(t) FROM (
                SELECT lower(l.valid) FROM villages_history l
                WHERE l.code = c.code AND lower(l.valid) > lower(c.valid) AND l.poor_population * 3 >= c.before * 2
                UNION ALL
                SELECT e.at FROM registry_events e
                WHERE e.region_code = c.code AND e.kind = 'exit' AND e.at > lower(c.valid)) later (t)) AS cleared,
           jsonb_build_object('poor_population_before', c.before, 'poor_population', c.poor_population,
                              'cut_percent', round((c.before - c.poor_population) * 100.0 / c.before, 1)) AS facts
    FROM poor c
    WHERE c.before - c.poor_population >= 10 AND (c.before - c.poor_population) * 3 > c.before
      AND NOT EXISTS (SELECT FROM registry_events e
                      WHERE e.region_code = c.code AND e.kind = 'exit' AND e.txid = c.txid
                        AND e.at BETWEEN lower(c.valid) - interval '1 second' AND lower(c.valid) + interval '1 second')
),
-- The moments a village's projects moved: completion or disbursement
-- changed from the version before.
moved AS (
    SELECT village_code, lower(valid) AS t
    FROM (SELECT p.village_code, p.valid, p.completion, p.funds_disbursed,
                 lag(p.completion) OVER w AS c0, lag(p.funds_disbursed) OVER w AS d0
          FROM projects_history p
          WHERE p.village_code = ANY (subjects)
          WINDOW w AS (PARTITION BY p.code ORDER BY lower(p.valid))) x
    WHERE c0 IS NOT NULL AND (completion <> c0 OR funds_disbursed <> d0)
),
-- The calendar quarters (China Standard Time) in which they moved, and
-- how often, those that have ended.
moved_quarters AS (
    SELECT village_code AS code, q AT TIME ZONE 'Asia/Shanghai' AS q_start,
           (q + interval '3 months') AT TIME ZONE 'Asia/Shanghai' AS q_end, count(*) AS moves
    FROM moved, LATERAL (SELECT date_trunc('quarter', t AT TIME ZONE 'Asia/Shanghai') AS q) d
    GROUP BY village_code, q
    HAVING (q + interval '3 months') AT TIME ZONE 'Asia/Shanghai' <= now()
),
-- A poverty village whose poor population did not change in a whole
-- quarter in which its projects moved (figures not kept up, "数在转"
-- broken): raised when the quarter ended, cleared when the figure next
-- changes.
stale AS (
    SELECT m.code, v.county_code, m.q_end AS raised,
           (SELECT min(lower(c.valid)) FROM poor c
            WHERE c.code = m.code AND lower(c.valid) >= m.q_end AND c.poor_population IS DISTINCT FROM c.before) AS cleared,
           jsonb_build_object('quarter', to_char(m.q_start AT TIME ZONE 'Asia/Shanghai', 'YYYY"Q"Q'), 'project_moves', m.moves,
                              'poor_population', v.poor_population,
                              'unchanged_since', (SELECT max(lower(c.valid)) FROM poor c
                                                  WHERE c.code = m.code AND lower(c.valid) < m.q_end
                                                    AND c.poor_population IS DISTINCT FROM c.before)) AS facts
    FROM moved_quarters m
    JOIN poor v ON v.code = m.code AND v.valid @> m.q_start
    WHERE NOT EXISTS (SELECT FROM poor c WHERE c.code = m.code AND lower(c.valid) > m.q_start AND lower(c.valid) < m.q_end
                                           AND c.poor_population IS DISTINCT FROM c.before)
      AND EXISTS (SELECT FROM regions_history g WHERE g.code = m.code AND g.valid @> m.q_end - interval '1 microsecond'
                                                  AND g.poverty_status = 'not_exited')
),
-- Spans of the rules that hold version by version: the versions merged.
spans AS (
    SELECT 'exit_below_standard' AS rule, level AS subject, code, county_code, unnest(range_agg(valid)) AS span
    FROM exit_below GROUP BY level, code, county_code
    UNION ALL
    SELECT rule, 'project', code, county_code, unnest(range_agg(valid)) FROM project_rules GROUP BY rule, code, county_code
    UNION ALL
    SELECT 'site_done_unbuilt', 'site', code, county_code, unnest(range_agg(valid)) FROM site_unbuilt GROUP BY code, county_code
    UNION ALL
    SELECT rule, subject, code, county_code, unnest(range_agg(valid)) FROM over_assigned GROUP BY rule, subject, code, county_code
),
-- Each span with the version that began it: its transaction and facts.
all_flags AS (
    SELECT s.rule, s.subject, s.code, s.county_code, lower(s.span) AS raised, upper(s.span) AS cleared, b.txid, b.facts
    FROM spans s
    CROSS JOIN LATERAL (
        SELECT e.txid, e.facts FROM exit_below e WHERE s.rule = 'exit_below_standard' AND e.code = s.code AND lower(e.valid) = lower(s.span)
        UNION ALL
        SELECT p.txid, p.facts FROM project_rules p WHERE p.rule = s.rule AND p.code = s.code AND lower(p.valid) = lower(s.span)
        UNION ALL
        SELECT u.txid, u.facts FROM site_unbuilt u WHERE s.rule = 'site_done_unbuilt' AND u.code = s.code AND lower(u.valid) = lower(s.span)
        UNION ALL
        SELECT o.txid, o.facts FROM over_assigned o WHERE o.rule = s.rule AND o.code = s.code AND lower(o.valid) = lower(s.span)
        LIMIT 1
    ) b
    UNION ALL
    SELECT 'sudden_cut', 'village', code, county_code, raised, cleared, txid, facts FROM sudden_cut
    UNION ALL
    SELECT 'stale_figures', 'village', code, county_code, raised, cleared, NULL::bigint, facts FROM stale
    UNION ALL
    -- An exit an admin made over the standard, with the reason written:
    -- it holds while the unit stays exited.
    SELECT 'exit_override', e.level, e.region_code, c.county, e.at,
           (SELECT min(n.at) FROM registry_events n WHERE n.region_code = e.region_code AND n.id > e.id), e.txid,
           jsonb_build_object('reason', e.reason, 'actor', e.actor, 'incidence', e.incidence,
                              'max_incidence', e.max_incidence, 'exited_villages', e.exited_villages,
                              'poverty_villages', e.poverty_villages, 'min_villages_exited', e.min_villages_exited)
    FROM registry_events e
    CROSS JOIN LATERAL (SELECT unnest(region_counties(ARRAY[e.region_code])) AS county) c
    WHERE e.override AND e.region_code = ANY (subjects)
)
SELECT flag_id(f.rule, f.code, f.raised), f.rule, f.subject, f.code, coalesce(n.name, f.code), f.county_code,
       coalesce(region_lineage(n.region), region_lineage(f.county_code), ARRAY[f.county_code]),
       f.raised, f.cleared, f.txid,
       -- The transaction that cleared it: the one whose version of the
       -- subject began when the flag ended.
       (SELECT t.txid FROM (
            SELECT h.txid, lower(h.valid) AS t FROM region_rollups_history h WHERE f.subject NOT IN ('project', 'site') AND h.code = f.code
            UNION ALL SELECT h.txid, lower(h.valid) FROM villages_history h WHERE f.subject = 'village' AND h.code = f.code
            UNION ALL SELECT h.txid, lower(h.valid) FROM projects_history h WHERE f.subject = 'project' AND h.code = f.code
            UNION ALL SELECT h.txid, lower(h.valid) FROM sites_history h WHERE f.subject = 'site' AND h.code = f.code
            UNION ALL SELECT h.txid, lower(h.valid) FROM relocation_assignments_history h
            WHERE (f.subject = 'site' AND h.site_code = f.code) OR (f.subject = 'village' AND h.village_code = f.code)
            UNION ALL SELECT e.txid, e.at FROM registry_events e WHERE e.region_code = f.code) t
        WHERE t.t = f.cleared LIMIT 1),
       f.facts, n.geom
FROM all_flags f
CROSS JOIN LATERAL (
    -- The subject's name, point and region as it last stood.
    SELECT x.name, x.geom, x.region FROM (
        SELECT r.name, r.point AS geom, r.code AS region, upper(r.valid) AS till FROM regions_history r
        WHERE f.subject NOT IN ('project', 'site') AND r.code = f.code
        UNION ALL
        SELECT p.name, ST_PointOnSurface(p.geom), coalesce(p.village_code, p.county_code), upper(p.valid)
        FROM projects_history p WHERE f.subject = 'project' AND p.code = f.code
        UNION ALL
        SELECT s.name, s.geom, coalesce(s.township_code, s.county_code), upper(s.valid)
        FROM sites_history s WHERE f.subject = 'site' AND s.code = f.code
    ) x ORDER BY x.till DESC NULLS FIRST LIMIT 1
) n
$$;

-- refresh_flags computes the flags of subjects again (NULL: of every
-- subject there is or was).
CREATE FUNCTION refresh_flags(subjects text[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET jit = off
SET search_path = public, pg_temp AS $$
BEGIN
    IF subjects IS NULL THEN
        subjects := ARRAY(SELECT code FROM region_rollups_history UNION SELECT code FROM projects_history
                          UNION SELECT code FROM sites_history);
    END IF;
    DELETE FROM flags f WHERE f.subject_code = ANY (subjects);
    INSERT INTO flags (id, rule, subject, subject_code, name, county_code, lineage, raised_at, cleared_at,
                       raised_txid, cleared_txid, facts, geom)
    SELECT * FROM flag_spans(subjects);
END
$$;
REVOKE EXECUTE ON FUNCTION refresh_flags(text[]) FROM PUBLIC;

-- flags_pending: the subjects whose flags a transaction must compute
-- again before it ends ('*': all). Rows live within their transaction,
-- which keys them, so that concurrent changes never wait on each other
-- here.
CREATE UNLOGGED TABLE flags_pending (
    txid   bigint NOT NULL DEFAULT txid_current(),
    subject text NOT NULL,
    PRIMARY KEY (txid, subject)
);
REVOKE ALL ON flags_pending FROM battlemap_app;

-- flags_mark, a statement trigger of every table a rule reads, marks the
-- subjects of the rows the statement changed. TG_ARGV[0] is the SQL of
-- a row's subjects (a text[]) over the transition row r; a TRUNCATE marks
-- all.
CREATE FUNCTION flags_mark() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO flags_pending (subject) VALUES ('*') ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO flags_pending (subject) SELECT DISTINCT s FROM new_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING', TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('INSERT INTO flags_pending (subject) SELECT DISTINCT s FROM old_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

-- flags_refresh_pending runs when the transaction ends (a deferred
-- constraint trigger of each subject marked): the first to run computes
-- every subject marked, the others find nothing left.
CREATE FUNCTION flags_refresh_pending() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
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
CREATE CONSTRAINT TRIGGER flags_pending_refresh AFTER INSERT ON flags_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION flags_refresh_pending();

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('regions', 'ARRAY[r.code]'),
        ('villages', 'ARRAY[r.code]'),
        ('sites', 'ARRAY[r.code]'),
        ('projects', 'ARRAY[r.code, r.village_code]'),
        ('relocation_assignments', 'ARRAY[r.village_code, r.site_code]'),
        ('region_rollups', 'ARRAY[r.code]'),
        ('registry_events', 'ARRAY[r.region_code]'),
        ('exit_standards', 'ARRAY[''*'']')) v (tbl, subjects_sql)
    LOOP
        PERFORM create_statement_triggers(t.tbl, 'flags', 'flags_mark', ARRAY[t.subjects_sql]);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION flags_mark()',
                       t.tbl || '_flags_trunc', t.tbl);
    END LOOP;
END
$$;

SELECT refresh_flags(NULL);

-- The flags as of a past moment: those whose span covers it, not yet
-- cleared then.
CREATE VIEW as_of.flags AS
SELECT id, rule, subject, subject_code, name, county_code, lineage, raised_at, NULL::timestamptz AS cleared_at,
       raised_txid, NULL::bigint AS cleared_txid, facts, geom
FROM public.flags WHERE tstzrange(raised_at, cleared_at) @> as_of_moment();

---- create above / drop below ----

DROP VIEW as_of.flags;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments', 'region_rollups',
                             'registry_events', 'exit_standards'] LOOP
        PERFORM drop_statement_triggers(t, 'flags');
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_flags_trunc', t);
    END LOOP;
END
$$;
DROP TRIGGER flags_pending_refresh ON flags_pending;
DROP FUNCTION flags_refresh_pending();
DROP FUNCTION flags_mark();
DROP TABLE flags_pending;
DROP FUNCTION refresh_flags(text[]);
DROP FUNCTION flag_spans(text[]);
DROP FUNCTION flag_id(text, text, timestamptz);
DROP TABLE flags;
DROP TABLE flag_rules;
