-- The low zooms of a country's map (issue 17): provinces and cities are
-- drawn below the zoom where counties begin, each with the figures of
-- its counties summed when read (region_figures), and a tile of zoom 9
-- keeps its poverty villages only where all of them would not fit.
--
-- region_figures is the stored rollups (counties and below) beside the
-- sums for the regions above them. A read of one level above the
-- counties scanned every stored rollup to find none of that level: the
-- constraint below lets the planner leave that branch out (constraint
-- exclusion applies to UNION ALL branches), so that a tile of cities
-- reads only the cities.
ALTER TABLE region_rollups ADD CONSTRAINT region_rollups_levels CHECK (level IN ('county', 'township', 'village'));

-- The shapes of provinces and cities that a tile of theirs looks up, as
-- 002 and 014 index the counties' and townships'.
CREATE INDEX region_shapes_province_gix ON region_shapes USING gist (shape) WHERE level = 'province';
CREATE INDEX region_shapes_city_gix ON region_shapes USING gist (shape) WHERE level = 'city';
CREATE INDEX region_shapes_history_province_gix ON region_shapes_history USING gist (shape, valid) WHERE level = 'province';
CREATE INDEX region_shapes_history_city_gix ON region_shapes_history USING gist (shape, valid) WHERE level = 'city';

---- create above / drop below ----
DROP INDEX region_shapes_history_city_gix;
DROP INDEX region_shapes_history_province_gix;
DROP INDEX region_shapes_city_gix;
DROP INDEX region_shapes_province_gix;
ALTER TABLE region_rollups DROP CONSTRAINT region_rollups_levels;
