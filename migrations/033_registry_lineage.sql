-- Registry events know the regions they lie in (issue 17). A region's
-- registry lists the events of the regions under it: they were found by
-- walking down the regions from it (region_tree), every region of its
-- tree, then each one's events. Under a country that walk is 650,000
-- regions, and /api/regions/100000/registry took 3 seconds, though a
-- country's 130,000 events are read in a tenth of that.
--
-- An event now carries the lineage of its region, top first and ending
-- with the region itself, the one its rollup row holds, and an index
-- finds the events under any region. The lineage follows the region:
-- when a region moves (a city filed under a new province, a township
-- under another county) the rollups of the regions under it are written
-- again with their new lineage, and the events of those regions take it.
ALTER TABLE registry_events ADD COLUMN lineage text[];
UPDATE registry_events e SET lineage = r.lineage FROM region_rollups r WHERE r.code = e.region_code;
CREATE INDEX registry_events_lineage_gix ON registry_events USING gin (lineage);

-- registry_event_lineage gives a new event its region's lineage. Only
-- villages, townships and counties have events (registry_transition,
-- at commit), and each has its rollup row by then: the rollups are
-- written with the regions.
CREATE FUNCTION registry_event_lineage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.lineage INTO NEW.lineage FROM region_rollups r WHERE r.code = NEW.region_code;
    RETURN NEW;
END
$$;
CREATE TRIGGER registry_events_lineage BEFORE INSERT ON registry_events
    FOR EACH ROW EXECUTE FUNCTION registry_event_lineage();

-- registry_events_follow gives the events of the regions whose rollup
-- rows were written (refresh_rollups writes a row again when anything of
-- it changed, its lineage included) their regions' lineage where it
-- changed. It runs as the owner: the registry is written by the database
-- only, whoever's edit refreshed the rollups.
CREATE FUNCTION registry_events_follow() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE registry_events e SET lineage = n.lineage
    FROM new_rows n
    WHERE e.region_code = n.code AND e.lineage IS DISTINCT FROM n.lineage;
    RETURN NULL;
END
$$;
CREATE TRIGGER region_rollups_registry_lineage AFTER INSERT ON region_rollups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION registry_events_follow();

---- create above / drop below ----

DROP TRIGGER region_rollups_registry_lineage ON region_rollups;
DROP FUNCTION registry_events_follow();
DROP TRIGGER registry_events_lineage ON registry_events;
DROP FUNCTION registry_event_lineage();
DROP INDEX registry_events_lineage_gix;
ALTER TABLE registry_events DROP COLUMN lineage;
