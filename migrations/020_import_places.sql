-- Where an imported feature lies is checked against its own region, not
-- against one box around the data: a village's point within its
-- township's county, a site, a project, a hazard zone, a road or a service
-- within its county, a region's boundary within its parent's (a township
-- within its county, a county within its city, and so on up; a region
-- without a parent lies anywhere). A box around a city let a village be
-- filed in the wrong county of it, and a box around the data refused the
-- first province of a national load outside it.
--
-- The importer asks misplaced_features once per file, over arrays of its
-- features, so that the check is one set-based statement however many
-- features a file holds.

-- lies_within says whether geometry g lies in holder, with a small
-- tolerance for data drawn at other scales: a point within 0.01° (about
-- a kilometre) of it; a line that reaches as near (a road runs on across
-- county lines, and belongs to the county that keeps it); an area with at
-- most 1% of it outside. No holder (a top region's parent) holds
-- everything.
CREATE FUNCTION lies_within(g geometry, holder geometry) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN holder IS NULL OR ST_Covers(holder, g) OR CASE ST_Dimension(g)
    WHEN 2 THEN ST_Area(ST_Difference(g, holder)) <= 0.01 * ST_Area(g)
    ELSE ST_DWithin(holder, g, 0.01) END;

-- misplaced_features finds the features of a file that do not lie where
-- they say: each feature i (from 1) has its code, its level (for a region;
-- NULL for anything else), the code of the region it names as holding it
-- (Table.LiesIn: a region's parent, a village's township, a county) and
-- its geometry as WKB. A holder is looked up in the file first (a region
-- of the same file, written with it), then in regions; a township holder
-- holds by its county's boundary. For a region it also checks what the
-- schema would refuse without naming the feature: a parent missing where
-- the level needs one, unknown, or of another level than parent_level_of
-- says. A holder that is not a region at all is the importer's to report
-- for other layers (the field names a region of a level, Field.Ref).
-- Invalid geometries are left to the importer's check of shapes.
CREATE FUNCTION misplaced_features(codes text[], levels text[], holders text[], wkbs bytea[])
RETURNS TABLE (i integer, field text, reason text) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH f AS MATERIALIZED (
        SELECT u.i::int AS i, u.code, u.level, u.holder, ST_GeomFromWKB(u.b, 4326) AS g
        FROM unnest(codes, levels, holders, wkbs) WITH ORDINALITY u (code, level, holder, b, i)
    ), named AS (
        SELECT DISTINCT holder AS code FROM f WHERE holder IS NOT NULL
    ), h AS MATERIALIZED (
        SELECT DISTINCT ON (k.code) k.code, k.level, k.parent_code, k.boundary
        FROM (SELECT f.code, f.level, f.holder AS parent_code, f.g AS boundary, 0 AS pick
              FROM f WHERE f.level IS NOT NULL AND f.code IN (SELECT code FROM named)
              UNION ALL
              SELECT r.code, r.level, r.parent_code, r.boundary, 1
              FROM regions r WHERE r.code IN (SELECT code FROM named)) k
        ORDER BY k.code, k.pick
    ), c AS (
        SELECT h.code, h.level,
               coalesce(p.code, h.code) AS holding, coalesce(p.level, h.level) AS holding_level,
               CASE WHEN h.level = 'township' THEN p.boundary ELSE h.boundary END AS boundary
        FROM h LEFT JOIN regions p ON h.level = 'township' AND p.code = h.parent_code
    )
    SELECT f.i, 'parent_code', format('required: a %s lies in a %s', f.level, parent_level_of(f.level))
    FROM f WHERE f.level IS NOT NULL AND f.holder IS NULL AND NOT above_counties(f.level)
    UNION ALL
    SELECT f.i, 'parent_code',
           CASE WHEN c.code IS NULL THEN format('no region with code %s, in the database or the file', f.holder)
                WHEN parent_level_of(f.level) IS NULL THEN format('a %s has no parent, got %s', f.level, f.holder)
                ELSE format('%s is a %s, and a %s lies in a %s', f.holder, c.level, f.level, parent_level_of(f.level)) END
    FROM f LEFT JOIN c ON c.code = f.holder
    WHERE f.level IS NOT NULL AND f.holder IS NOT NULL AND c.level IS DISTINCT FROM parent_level_of(f.level)
    UNION ALL
    SELECT f.i, 'geometry',
           format('lies outside %s %s, which holds it (beyond the tolerance: 0.01° for a point or a line, 1%% of an area)',
                  c.holding_level, c.holding)
    FROM f JOIN c ON c.code = f.holder
    WHERE (f.level IS NULL OR c.level = parent_level_of(f.level)) AND ST_IsValid(f.g) AND NOT lies_within(f.g, c.boundary)
    ORDER BY 1
$$;

---- create above / drop below ----

DROP FUNCTION misplaced_features(text[], text[], text[], bytea[]);
DROP FUNCTION lies_within(geometry, geometry);
