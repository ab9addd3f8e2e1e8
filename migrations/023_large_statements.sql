-- Statements that write a country's villages at once (a bulk load: some
-- 600,000 rows in one INSERT) hand refresh_shapes every code they wrote.
-- Its "codes IS NULL OR code = ANY (codes)" could use no index, and an
-- array given as a parameter is searched element by element for each
-- row: every region's code was compared with every code written, some
-- 4 × 10^11 comparisons, hours for one statement. The codes are now
-- joined as a set (hashed or by the primary key, as the planner sees
-- fit), and all of them only when NULL asks for all.

CREATE OR REPLACE FUNCTION refresh_shapes(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF codes IS NULL THEN
        DELETE FROM region_shapes;
        INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
        SELECT code, level,
               ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
               ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
               m
        FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions WHERE boundary IS NOT NULL) b;
        RETURN;
    END IF;
    DELETE FROM region_shapes s USING (SELECT DISTINCT unnest(codes)) c (code) WHERE s.code = c.code;
    INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
    SELECT code, level,
           ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
           ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
           m
    FROM (SELECT r.code, r.level, ST_Transform(r.boundary, 3857) AS m
          FROM regions r JOIN (SELECT DISTINCT unnest(codes)) c (code) ON c.code = r.code
          WHERE r.boundary IS NOT NULL) b;
END
$$;

---- create above / drop below ----
CREATE OR REPLACE FUNCTION refresh_shapes(codes text[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM region_shapes WHERE codes IS NULL OR code = ANY (codes);
    INSERT INTO region_shapes (code, level, shape_z7, shape_z10, shape)
    SELECT code, level,
           ST_Multi(ST_SimplifyPreserveTopology(m, 500)),
           ST_Multi(ST_SimplifyPreserveTopology(m, 50)),
           m
    FROM (SELECT code, level, ST_Transform(boundary, 3857) AS m FROM regions
          WHERE boundary IS NOT NULL AND (codes IS NULL OR code = ANY (codes))) b;
$$;
