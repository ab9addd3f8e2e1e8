-- Per-county data versions: a change moves the versions of the counties
-- whose area it reaches, not only the one global data version, so that a
-- tile over other counties stays valid in every cache. A tile keys on the
-- counties whose boundary's bounding box meets it (web: tileStamp); a
-- change reaches the counties whose boundary's bounding box meets what
-- the change drew or will draw, old and new: a village's point and the
-- lines of its people's moves, a site's point and the lines to it, a
-- project's point or line, an assignment's line, a township's or
-- county's boundary. Both sides compare the same bounding boxes, so a
-- tile that could show a change always has a county the change moved.
-- Versions come from one sequence, so the largest version of a tile's
-- counties moves whenever any of them does.

CREATE SEQUENCE county_version_seq;

-- county_versions holds each county's version and the bounding box of
-- its boundary (WGS 84), which servers read with the versions (a
-- boundary is large; its box is four numbers).
CREATE TABLE county_versions (
    code    text PRIMARY KEY REFERENCES regions (code) ON DELETE CASCADE,
    version bigint NOT NULL,
    min_lon float8 NOT NULL,
    min_lat float8 NOT NULL,
    max_lon float8 NOT NULL,
    max_lat float8 NOT NULL
);

-- county_versions_follow_regions gives every county its row, and its
-- box when its boundary moves.
CREATE FUNCTION county_versions_follow_regions() RETURNS void LANGUAGE sql AS $$
    INSERT INTO county_versions
    SELECT code, nextval('county_version_seq'), ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary), ST_YMax(boundary)
    FROM regions WHERE level = 'county'
    ON CONFLICT (code) DO UPDATE
    SET min_lon = EXCLUDED.min_lon, min_lat = EXCLUDED.min_lat, max_lon = EXCLUDED.max_lon, max_lat = EXCLUDED.max_lat
    WHERE (county_versions.min_lon, county_versions.min_lat, county_versions.max_lon, county_versions.max_lat)
          IS DISTINCT FROM (EXCLUDED.min_lon, EXCLUDED.min_lat, EXCLUDED.max_lon, EXCLUDED.max_lat)
$$;
SELECT county_versions_follow_regions();

-- bump_county_versions moves the versions of the counties the statement
-- reached. TG_ARGV[0] is the SQL of what a transition row r drew.
CREATE FUNCTION bump_county_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    drawn    text := 'SELECT NULL::geometry AS g WHERE false';
    counties boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM old_rows r', TG_ARGV[0]);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        drawn := drawn || format(' UNION ALL SELECT (%s) FROM new_rows r', TG_ARGV[0]);
    END IF;
    -- A region filed under another parent changes the figures of both
    -- parents, wherever its point lies: their boundaries are drawn too.
    IF TG_TABLE_NAME = 'regions' AND TG_OP = 'UPDATE' THEN
        drawn := drawn || ' UNION ALL SELECT p.boundary FROM old_rows o JOIN new_rows n USING (code)
            JOIN regions p ON p.code IN (o.parent_code, n.parent_code) WHERE o.parent_code IS DISTINCT FROM n.parent_code';
    END IF;
    -- A county added, or its boundary moved (a county deleted takes its
    -- row along).
    IF TG_TABLE_NAME = 'regions' AND TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM new_rows WHERE level = ''county'')' INTO counties;
        IF counties THEN
            PERFORM county_versions_follow_regions();
        END IF;
    END IF;
    EXECUTE format($f$
        UPDATE county_versions v SET version = nextval('county_version_seq')
        FROM regions c
        WHERE c.code = v.code AND c.level = 'county'
          AND EXISTS (SELECT FROM (%s) d WHERE d.g && c.boundary)$f$, drawn);
    RETURN NULL;
END
$$;

-- What a row draws, by table, over the transition row r: the lines of
-- moves (village → site) included, which cross counties.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('regions', 'ST_Collect(coalesce(r.boundary, r.point),
            (SELECT ST_Collect(ST_MakeLine(r.point, s.geom)) FROM relocation_assignments a JOIN sites s ON s.code = a.site_code
             WHERE a.village_code = r.code))'),
        ('villages', '(SELECT g.point FROM regions g WHERE g.code = r.code)'),
        ('sites', 'ST_Collect(r.geom,
            (SELECT ST_Collect(ST_MakeLine(g.point, r.geom)) FROM relocation_assignments a JOIN regions g ON g.code = a.village_code
             WHERE a.site_code = r.code))'),
        ('projects', 'r.geom'),
        ('relocation_assignments', '(SELECT ST_MakeLine(g.point, s.geom) FROM regions g, sites s
            WHERE g.code = r.village_code AND s.code = r.site_code)')) v (tbl, drawn)
    LOOP
        PERFORM create_statement_triggers(t.tbl, 'county_versions', 'bump_county_versions', ARRAY[t.drawn]);
    END LOOP;
END
$$;

---- create above / drop below ----

SELECT drop_statement_triggers(t, 'county_versions')
FROM unnest(ARRAY['regions', 'villages', 'sites', 'projects', 'relocation_assignments']) t;
DROP FUNCTION bump_county_versions();
DROP FUNCTION county_versions_follow_regions();
DROP TABLE county_versions;
DROP SEQUENCE county_version_seq;
