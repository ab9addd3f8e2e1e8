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
// sqlBulkOff; and it lifts statement_timeout, which guards the
// server's reads: a national file's upsert takes minutes.
const (
	sqlBulk    = `SELECT set_config('battlemap.bulk', 'on', true), set_config('statement_timeout', '0', true)`
	sqlBulkOff = `SELECT set_config('battlemap.bulk', 'off', true)`
)

// sqlPendingCities are the counties whose rollups a bulk load left to
// refresh, grouped by their city (a county gone from regions makes a
// group of its own), cities in code order.
const sqlPendingCities = `
SELECT array_agg(c ORDER BY c)
FROM unnest(string_to_array(nullif(current_setting('battlemap.rollups_pending', true), ''), ',')) c
LEFT JOIN regions r ON r.code = c
GROUP BY coalesce(r.parent_code, c)
ORDER BY min(c)`

// sqlRefreshRollups refreshes the rollups of the counties $1.
const sqlRefreshRollups = `SELECT refresh_rollups($1)`

// sqlBumpVersions moves the versions of the counties a bulk load's
// statements drew in (migrations/022_bulk_loads.sql), once, at its end.
const sqlBumpVersions = `SELECT bump_pending_versions()`
