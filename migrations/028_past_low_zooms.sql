-- A tile of cities or provinces as of a past moment (zooms 0–5, since
-- 024) found its regions' names and points by reading every version of
-- every region, villages' included, and testing each against the moment:
-- the as-of view of regions filters regions_history by its moment, and no
-- index served the level. Over a country's history that is some hundreds
-- of thousands of versions for every such tile. The versions of the
-- levels above the county, by when they held, as 024 indexes their
-- shapes.
CREATE INDEX regions_history_province_gix ON regions_history USING gist (valid) WHERE level = 'province';
CREATE INDEX regions_history_city_gix ON regions_history USING gist (valid) WHERE level = 'city';

---- create above / drop below ----
DROP INDEX regions_history_city_gix;
DROP INDEX regions_history_province_gix;
