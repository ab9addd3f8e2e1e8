-- The people lifted out of a region's villages in a period are the falls
-- of their poor people from one version to the next (geo/rankings.go,
-- like region_timeline). A version that fell ended within the period,
-- and few do: a year's edits, where every village has a version that
-- holds through it. Ranking a country's counties read every village's
-- versions overlapping the period (about 3 s for 606,000 villages); it
-- now reads the versions that ended in it by this index, of the villages'
-- closed versions alone.
CREATE INDEX region_rollups_history_village_ends_idx ON region_rollups_history (upper(valid))
    WHERE level = 'village' AND NOT upper_inf(valid);

---- create above / drop below ----

DROP INDEX region_rollups_history_village_ends_idx;
