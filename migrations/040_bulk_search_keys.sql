-- The search keys of a national load (issue 17). ranked_grams sorted a
-- name's keys and dropped those it holds twice (村 in 新村村), a query of
-- its own for each name: 5.9 s for the 606,000 villages' names, where
-- the keys alone take 2.1 s. The GIN index sorts a row's keys and drops
-- those given twice itself, and the search asks for keys by containment
-- (@>), which a key given twice does not change: the index holds the
-- same keys as before, and is not rebuilt.
--
-- Tried and not kept: leaving out, before the insertion, the subjects
-- flags_mark finds noted already in flags_pending, instead of ON
-- CONFLICT DO NOTHING. It saved 2 s where a village's code is noted a
-- second time (606,000 codes at once), and cost 5 s over the rollups'
-- refreshes, province by province, which hashed all the codes noted so
-- far for each 20,000 they noted.

SELECT edit_function('ranked_grams(text, text)',
    $old$    RETURN ARRAY(SELECT DISTINCT g FROM unnest(grams) g ORDER BY 1);$old$,
    $new$    RETURN grams;$new$);

---- create above / drop below ----

SELECT edit_function('ranked_grams(text, text)',
    $new$    RETURN grams;$new$,
    $old$    RETURN ARRAY(SELECT DISTINCT g FROM unnest(grams) g ORDER BY 1);$old$);
