-- Reserved. Number 8 belongs to the rework of the data versions being
-- written on main (changes_in_order, bump_county_versions, data_version,
-- refresh_rollups); tern wants the numbers without gaps, so until that
-- migration is merged this empty one holds its place for 009_factors.sql.
-- Delete this file when main's 008 arrives.
SELECT 1;

---- create above / drop below ----

SELECT 1;
