-- short_name (002) drops a committee suffix by a regular expression:
-- 0.9 µs a name, which a tile of zoom 9 pays for each of its 1,250
-- villages and a search for every name it compares. Comparing the
-- name's last characters with the four suffixes takes 0.15 µs and gives
-- the same names: all 649,588 of the national data set compared, none
-- differs. Tile 9/427/209's villages: 10.3 → 9.4 ms. The index on
-- short_name(name) (021) holds the same values, so it stays as it is.
CREATE OR REPLACE FUNCTION short_name(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN right(name, 5) IN ('村民委员会', '居民委员会') THEN left(name, -5)
            WHEN right(name, 3) IN ('村委会', '居委会') THEN left(name, -3)
            ELSE name END;

---- create above / drop below ----

CREATE OR REPLACE FUNCTION short_name(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN regexp_replace(name, '(村民委员会|居民委员会|村委会|居委会)$', '');
