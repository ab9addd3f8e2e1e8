-- The flags' marks, appended (issue 17).
--
-- flags_pending held each subject once per transaction, by its primary
-- key (txid, subject), and every mark was an INSERT … ON CONFLICT DO
-- NOTHING: a speculative insertion into that key for each subject. A
-- national villages load marks each village three times (its regions
-- row, its villages row, its rollup row) and its registry event a
-- fourth: 606,000 codes cost 4.4 s the first time and 3.0 s each time
-- after. The subjects are now appended, under an index of the
-- transaction alone (2.0 and 1.9 s), and the refresh at the end of the
-- transaction takes each subject once (0.4 s for 1.2 million marks).

ALTER TABLE flags_pending DROP CONSTRAINT flags_pending_pkey;
CREATE INDEX flags_pending_txid_idx ON flags_pending (txid);

SELECT edit_function('flags_refresh_pending()',
    $old$SELECT array_agg(subject) INTO marked FROM gone;$old$,
    $new$SELECT array_agg(subject) INTO marked FROM (SELECT DISTINCT subject FROM gone) d;$new$);
SELECT edit_function('flags_mark()',
    $old$VALUES ('*') ON CONFLICT DO NOTHING;$old$, $new$VALUES ('*');$new$);
SELECT edit_function('flags_mark()',
    $old$FROM new_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING'$old$,
    $new$FROM new_rows r, unnest(%s) s WHERE s IS NOT NULL'$new$);
SELECT edit_function('flags_mark()',
    $old$FROM old_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING'$old$,
    $new$FROM old_rows r, unnest(%s) s WHERE s IS NOT NULL'$new$);
SELECT edit_function('flags_mark_row()',
    $old$    WHERE s IS NOT NULL
    ON CONFLICT DO NOTHING;$old$, $new$    WHERE s IS NOT NULL;$new$);
SELECT edit_function('flags_mark_under(text[])',
    $old$    UNION SELECT code FROM projects WHERE county_code = ANY (counties)
    ON CONFLICT DO NOTHING$old$, $new$    UNION SELECT code FROM projects WHERE county_code = ANY (counties)$new$);

---- create above / drop below ----

SELECT edit_function('flags_mark_under(text[])',
    $new$    UNION SELECT code FROM projects WHERE county_code = ANY (counties)$new$, $old$    UNION SELECT code FROM projects WHERE county_code = ANY (counties)
    ON CONFLICT DO NOTHING$old$);
SELECT edit_function('flags_mark_row()',
    $new$    WHERE s IS NOT NULL;$new$, $old$    WHERE s IS NOT NULL
    ON CONFLICT DO NOTHING;$old$);
SELECT edit_function('flags_mark()',
    $new$FROM old_rows r, unnest(%s) s WHERE s IS NOT NULL'$new$,
    $old$FROM old_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING'$old$);
SELECT edit_function('flags_mark()',
    $new$FROM new_rows r, unnest(%s) s WHERE s IS NOT NULL'$new$,
    $old$FROM new_rows r, unnest(%s) s WHERE s IS NOT NULL ON CONFLICT DO NOTHING'$old$);
SELECT edit_function('flags_mark()', $new$VALUES ('*');$new$, $old$VALUES ('*') ON CONFLICT DO NOTHING;$old$);
SELECT edit_function('flags_refresh_pending()',
    $new$SELECT array_agg(subject) INTO marked FROM (SELECT DISTINCT subject FROM gone) d;$new$,
    $old$SELECT array_agg(subject) INTO marked FROM gone;$old$);

-- A mark made twice by a transaction still running goes before the key
-- is back.
DELETE FROM flags_pending a USING flags_pending b
WHERE a.txid = b.txid AND a.subject = b.subject AND a.ctid > b.ctid;
DROP INDEX flags_pending_txid_idx;
ALTER TABLE flags_pending ADD PRIMARY KEY (txid, subject);
