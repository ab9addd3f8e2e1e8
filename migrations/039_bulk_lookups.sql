-- What a national load still looked up row by row, or computed for
-- nothing (issue 17).
--
-- The national villages.csv (606,000 villages) loaded over its regions in
-- 230 s on a 2-core machine; auto_explain of the load with its nested
-- statements found these costs:
--
-- 1. The audit's lineages. audit_rows asked region_lineages for the
--    lineage of each row's region, which looks every region up by its
--    code before it looks up the parents: 5.2 s for the regions rows of
--    the villages, 5.2 s again for their villages rows. A regions row
--    holds its parent, and a villages row its township: the lineage is
--    the parent's with the region after it, and the 606,000 rows have
--    40,000 parents. audit_rows now takes, as a third argument, the SQL
--    of the region's parent where the rows hold it, and looks up only the
--    parents. It also gives the lineage of a region deleted, whose parent
--    is still there, which the look-up by its own code could not find.
-- 2. The counties of a statement's rows. region_counties walked up from
--    each region given, one look-up of its parent per region: 2.8 s for
--    the villages' regions rows, and 2.8 s again for their villages rows,
--    whose county is a column of the row. It now looks each parent up
--    once, and the villages' rollup triggers name their county_code, as
--    the sites' and projects' do.
-- 3. Over-assigned villages. flag_spans summed, for every village marked,
--    the people assigned to move out of it at each moment its figures
--    changed, to compare them with its population: 5.5 s of the commit
--    for the 606,000 villages, of which none has an assignment. A village
--    that never had an assignment has none assigned (0 people), and a
--    population is never negative (villages_population_nonnegative): the
--    rule now reads only the villages with an assignment in their
--    history.
-- 4. The versions before a statement's. keep_history reads, for the rows
--    a statement touched, the latest version of each in the history, to
--    date the change after it. The planner joined the whole history to
--    them (a hash or merge join): for each province of a national load
--    the refreshed rollups' 20,000 rows read region_rollups_history's
--    700,000 (0.12 to 0.39 s, twice a province, and more as the history
--    grows). Each row's versions are now looked up by the history's key
--    index (0.05 s).

SELECT edit_function('audit_rows()',
$old$    j text := audit_json(TG_RELID);
$old$, $new$    j text := audit_json(TG_RELID);
    -- The SQL of the region's parent over r, where the rows hold it: the
    -- lineage is then the parent's with the region after it, and a
    -- statement's rows have far fewer parents than regions.
    above text := coalesce(TG_ARGV[2], 'NULL::text');
$new$);
SELECT edit_function('audit_rows()',
    $old$NULL::text AS region, NULL::jsonb AS j WHERE false'$old$,
    $new$NULL::text AS region, NULL::text AS above, NULL::jsonb AS j WHERE false'$new$);
SELECT edit_function('audit_rows()',
    $old$%s AS region, %s AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1], j)$old$,
    $new$%s AS region, %s AS above, %s AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1], above, j)$new$);
SELECT edit_function('audit_rows()',
    $old$%s AS region, %s AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1], j)$old$,
    $new$%s AS region, %s AS above, %s AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1], above, j)$new$);
SELECT edit_function('audit_rows()',
$old$(SELECT version FROM data_version), l.lineage
        FROM (%1$s) o FULL JOIN (%2$s) n ON n.k = o.k
        LEFT JOIN region_lineages(ARRAY(SELECT region FROM (%1$s) o UNION ALL SELECT region FROM (%2$s) n)) l
            ON l.code = coalesce(n.region, o.region),$old$,
$new$(SELECT version FROM data_version),
               CASE WHEN p.above IS NULL THEN l.lineage ELSE l.lineage || p.region END
        FROM (%1$s) o FULL JOIN (%2$s) n ON n.k = o.k
        CROSS JOIN LATERAL (SELECT coalesce(n.region, o.region), CASE WHEN n.k IS NULL THEN o.above ELSE n.above END) p (region, above)
        LEFT JOIN region_lineages(ARRAY(SELECT coalesce(above, region) FROM (%1$s) o
                                        UNION ALL SELECT coalesce(above, region) FROM (%2$s) n)) l
            ON l.code = coalesce(p.above, p.region),$new$);

SELECT drop_statement_triggers('regions', 'row_audit');
SELECT create_statement_triggers('regions', 'row_audit', 'audit_rows', ARRAY['r.code', 'r.code', 'r.parent_code']);
SELECT drop_statement_triggers('villages', 'row_audit');
SELECT create_statement_triggers('villages', 'row_audit', 'audit_rows', ARRAY['r.code', 'r.code', 'r.township_code']);

-- The counties that hold codes: the counties among them, and those above
-- the others' parents, each parent looked up once.
SELECT edit_function('region_counties(text[])',
$old$    WITH RECURSIVE up (code, parent_code, level) AS (
        SELECT code, parent_code, level FROM regions WHERE code = ANY (codes)
        UNION$old$,
$new$    WITH RECURSIVE given AS MATERIALIZED (
        SELECT code, parent_code, level FROM regions WHERE code = ANY (codes)
    ), up (code, parent_code, level) AS (
        SELECT code, parent_code, level FROM given WHERE level = 'county'
        UNION
        SELECT code, parent_code, level FROM regions
        WHERE code IN (SELECT parent_code FROM given WHERE level <> 'county')
        UNION$new$);

SELECT drop_statement_triggers('villages', 'rollups');
SELECT create_statement_triggers('villages', 'rollups', 'rollups_on_change', ARRAY['county_code']);

SELECT edit_function('flag_spans(text[])',
$old$    SELECT 'village', v.code, v.county_code, v.valid, v.txid, v.population
    FROM villages_history v WHERE v.code = ANY (subjects)$old$,
$new$    SELECT 'village', v.code, v.county_code, v.valid, v.txid, v.population
    FROM villages_history v WHERE v.code = ANY (subjects)
      AND v.code IN (SELECT a.village_code FROM relocation_assignments_history a)$new$);

SELECT edit_function('keep_history()',
$old$                    FROM %I h %s', hist,
                   CASE WHEN TG_OP = 'TRUNCATE' THEN ''
                        ELSE format('JOIN (%s) o ON (%s) = (%s)', touched, hkey, okey) END)$old$,
$new$                    FROM %s',
                   CASE WHEN TG_OP = 'TRUNCATE' THEN format('%I h', hist)
                        ELSE format('(%s) o CROSS JOIN LATERAL (SELECT h.valid, h.txid FROM %I h WHERE (%s) = (%s) OFFSET 0) h',
                                    touched, hist, hkey, okey) END)$new$);

---- create above / drop below ----

SELECT edit_function('keep_history()',
$new$                    FROM %s',
                   CASE WHEN TG_OP = 'TRUNCATE' THEN format('%I h', hist)
                        ELSE format('(%s) o CROSS JOIN LATERAL (SELECT h.valid, h.txid FROM %I h WHERE (%s) = (%s) OFFSET 0) h',
                                    touched, hist, hkey, okey) END)$new$,
$old$                    FROM %I h %s', hist,
                   CASE WHEN TG_OP = 'TRUNCATE' THEN ''
                        ELSE format('JOIN (%s) o ON (%s) = (%s)', touched, hkey, okey) END)$old$);

SELECT edit_function('flag_spans(text[])',
$new$    SELECT 'village', v.code, v.county_code, v.valid, v.txid, v.population
    FROM villages_history v WHERE v.code = ANY (subjects)
      AND v.code IN (SELECT a.village_code FROM relocation_assignments_history a)$new$,
$old$    SELECT 'village', v.code, v.county_code, v.valid, v.txid, v.population
    FROM villages_history v WHERE v.code = ANY (subjects)$old$);

SELECT drop_statement_triggers('villages', 'rollups');
SELECT create_statement_triggers('villages', 'rollups', 'rollups_on_change', ARRAY['code']);

SELECT edit_function('region_counties(text[])',
$new$    WITH RECURSIVE given AS MATERIALIZED (
        SELECT code, parent_code, level FROM regions WHERE code = ANY (codes)
    ), up (code, parent_code, level) AS (
        SELECT code, parent_code, level FROM given WHERE level = 'county'
        UNION
        SELECT code, parent_code, level FROM regions
        WHERE code IN (SELECT parent_code FROM given WHERE level <> 'county')
        UNION$new$,
$old$    WITH RECURSIVE up (code, parent_code, level) AS (
        SELECT code, parent_code, level FROM regions WHERE code = ANY (codes)
        UNION$old$);

SELECT drop_statement_triggers('villages', 'row_audit');
SELECT create_statement_triggers('villages', 'row_audit', 'audit_rows', ARRAY['r.code', 'r.code']);
SELECT drop_statement_triggers('regions', 'row_audit');
SELECT create_statement_triggers('regions', 'row_audit', 'audit_rows', ARRAY['r.code', 'r.code']);

SELECT edit_function('audit_rows()',
$new$(SELECT version FROM data_version),
               CASE WHEN p.above IS NULL THEN l.lineage ELSE l.lineage || p.region END
        FROM (%1$s) o FULL JOIN (%2$s) n ON n.k = o.k
        CROSS JOIN LATERAL (SELECT coalesce(n.region, o.region), CASE WHEN n.k IS NULL THEN o.above ELSE n.above END) p (region, above)
        LEFT JOIN region_lineages(ARRAY(SELECT coalesce(above, region) FROM (%1$s) o
                                        UNION ALL SELECT coalesce(above, region) FROM (%2$s) n)) l
            ON l.code = coalesce(p.above, p.region),$new$,
$old$(SELECT version FROM data_version), l.lineage
        FROM (%1$s) o FULL JOIN (%2$s) n ON n.k = o.k
        LEFT JOIN region_lineages(ARRAY(SELECT region FROM (%1$s) o UNION ALL SELECT region FROM (%2$s) n)) l
            ON l.code = coalesce(n.region, o.region),$old$);
SELECT edit_function('audit_rows()',
    $new$%s AS region, %s AS above, %s AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1], above, j)$new$,
    $old$%s AS region, %s AS j FROM new_rows r', TG_ARGV[0], TG_ARGV[1], j)$old$);
SELECT edit_function('audit_rows()',
    $new$%s AS region, %s AS above, %s AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1], above, j)$new$,
    $old$%s AS region, %s AS j FROM old_rows r', TG_ARGV[0], TG_ARGV[1], j)$old$);
SELECT edit_function('audit_rows()',
    $new$NULL::text AS region, NULL::text AS above, NULL::jsonb AS j WHERE false'$new$,
    $old$NULL::text AS region, NULL::jsonb AS j WHERE false'$old$);
SELECT edit_function('audit_rows()',
$new$    j text := audit_json(TG_RELID);
    -- The SQL of the region's parent over r, where the rows hold it: the
    -- lineage is then the parent's with the region after it, and a
    -- statement's rows have far fewer parents than regions.
    above text := coalesce(TG_ARGV[2], 'NULL::text');
$new$, $old$    j text := audit_json(TG_RELID);
$old$);
