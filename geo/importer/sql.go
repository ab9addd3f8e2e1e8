package importer

import (
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// The importer's SQL, in one place. Validated rows are copied into a
// temporary staging table (its columns are the layer's fields, in order,
// then the geometry as WKB) and moved into the schema by the table's
// upsert statements (geo.Table.UpsertSQL, which the demo loader shares),
// one per table, so the data version and the rollups move once per table
// rather than once per feature.

// sqlRegions looks up the regions that features name, with whether each
// has a row in the villages registry (a project's village must) and its
// lineage, the path from the top down to it along parent_code (a site's
// township must lie in its county).
const sqlRegions = `
SELECT r.code, r.level, v.code IS NOT NULL, region_lineage(r.code)
FROM regions r LEFT JOIN villages v ON v.code = r.code
WHERE r.code = ANY ($1)`

// sqlInvalidShapes finds the geometries of $1 (WKB) that are not valid,
// by their position in it (from 1), with PostGIS's reason.
const sqlInvalidShapes = `
SELECT w.i::int, ST_IsValidReason(ST_GeomFromWKB(w.b, 4326))
FROM unnest($1::bytea[]) WITH ORDINALITY w (b, i)
WHERE NOT ST_IsValid(ST_GeomFromWKB(w.b, 4326))
ORDER BY w.i`

// stagedWKB is the staging table's column of the geometry as WKB, and
// stagedGeometry the geometry the upsert reads from it.
const (
	stagedWKB      = "wkb"
	stagedGeometry = "ST_GeomFromWKB(" + stagedWKB + ", 4326)"
)

// stagedTypes are the staging columns' types, wide enough for every value
// a field's checks let through; the upsert casts them to the columns'.
var stagedTypes = map[geo.FieldKind]string{
	geo.TextField:    "text",
	geo.IntegerField: "bigint",
	geo.BooleanField: "boolean",
	geo.DateField:    "date",
}

// stagedPos is the staging table's column of a row's position in its
// file (the feature's index, or the CSV line), which a bulk load fills
// to name the rows that its checks in SQL reject; NULL otherwise.
const stagedPos = "import_pos"

// stageSQL creates the staging table stage of t, dropped at commit.
func stageSQL(stage string, t *geo.Table) string {
	cols := make([]string, 0, len(t.Fields)+2)
	for _, f := range t.Fields {
		cols = append(cols, pgx.Identifier{f.Name}.Sanitize()+" "+stagedTypes[f.Kind])
	}
	cols = append(cols, pgx.Identifier{stagedWKB}.Sanitize()+" bytea", pgx.Identifier{stagedPos}.Sanitize()+" integer")
	return "CREATE TEMP TABLE " + pgx.Identifier{stage}.Sanitize() + " (" + strings.Join(cols, ", ") + ") ON COMMIT DROP"
}

// countSQL counts the codes staged in stage that t already holds: the
// rows the upsert will update.
func countSQL(stage string, t *geo.Table) string {
	return "SELECT count(*) FROM " + pgx.Identifier{stage}.Sanitize() + " JOIN " + pgx.Identifier{t.Name}.Sanitize() + " USING (code)"
}

// duplicatesSQL finds the codes staged in stage more than once, with the
// positions of their rows in the file, in order, the codes in the order
// of their first row: the file may give a code only once.
func duplicatesSQL(stage string) string {
	pos, key := pgx.Identifier{stagedPos}.Sanitize(), pgx.Identifier{geo.KeyField}.Sanitize()
	return "SELECT " + key + ", array_agg(" + pos + " ORDER BY " + pos + ") FROM " + pgx.Identifier{stage}.Sanitize() +
		" GROUP BY " + key + " HAVING count(*) > 1 ORDER BY min(" + pos + ")"
}

// sqlBulk makes the transaction a bulk load: the rollups' refresh only
// records the counties it would refresh, and the county versions the
// box of what was drawn (migrations/022_bulk_loads.sql), until
// sqlBulkOff; it lifts statement_timeout, which guards the server's
// reads: a national file's upsert takes minutes; and it gives the
// transaction's sorts and hashes bulkWorkMem, where the server's 4 MB
// sent the upserts' sorts of a country's rows, and the hash of the
// boundaries that hold a file's regions, to disk.
const (
	sqlBulk    = `SELECT set_config('battlemap.bulk', 'on', true), set_config('statement_timeout', '0', true), set_config('work_mem', '` + bulkWorkMem + `', true)`
	sqlBulkOff = `SELECT set_config('battlemap.bulk', 'off', true)`
)

// bulkWorkMem is the work_mem of a bulk load's transaction: one load at a
// time runs on a machine, from the command line.
const bulkWorkMem = "128MB"

// sqlPendingProvinces are the counties whose rollups a bulk load left to
// refresh, grouped by their province (the second region of their
// lineage, from the top: a county without a country above it is grouped
// by its city, one without a region above it, or gone from regions, by
// itself), groups in code order. A refresh reads every village of the
// country once per call (counted_in's join), so a country's 338 cities
// cost more than its 31 provinces; a province's rows, some 60,000 at
// most, are still held by a call at ease.
const sqlPendingProvinces = `
WITH pending AS (
    SELECT string_to_array(nullif(current_setting('battlemap.rollups_pending', true), ''), ',') AS counties
)
SELECT array_agg(c ORDER BY c)
FROM pending, unnest(pending.counties) c
LEFT JOIN region_lineages((SELECT counties FROM pending)) l ON l.code = c
GROUP BY coalesce(l.lineage[2], c)
ORDER BY min(c)`

// sqlAnalyze gathers the planner's statistics of the tables a bulk load
// filled, within its transaction (migrations/026_bulk_sets.sql).
const sqlAnalyze = `SELECT analyze_loaded()`

// sqlRefreshRollups refreshes the rollups of the counties $1.
const sqlRefreshRollups = `SELECT refresh_rollups($1)`

// sqlBumpVersions moves the versions of the counties a bulk load's
// statements drew in (migrations/022_bulk_loads.sql), once, at its end.
const sqlBumpVersions = `SELECT bump_pending_versions()`
