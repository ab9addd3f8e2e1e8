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

// stageSQL creates the staging table stage of t, dropped at commit.
func stageSQL(stage string, t *geo.Table) string {
	cols := make([]string, 0, len(t.Fields)+1)
	for _, f := range t.Fields {
		cols = append(cols, pgx.Identifier{f.Name}.Sanitize()+" "+stagedTypes[f.Kind])
	}
	cols = append(cols, pgx.Identifier{stagedWKB}.Sanitize()+" bytea")
	return "CREATE TEMP TABLE " + pgx.Identifier{stage}.Sanitize() + " (" + strings.Join(cols, ", ") + ") ON COMMIT DROP"
}

// countSQL counts the codes staged in stage that t already holds: the
// rows the upsert will update.
func countSQL(stage string, t *geo.Table) string {
	return "SELECT count(*) FROM " + pgx.Identifier{stage}.Sanitize() + " JOIN " + pgx.Identifier{t.Name}.Sanitize() + " USING (code)"
}
