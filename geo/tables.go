package geo

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Table is map data that can be imported: rows keyed by their code
// field, the fields a feature of it carries (each stored in the column of
// the same name), the rules between them and its geometry types. Its
// writes say where the fields are stored, and the SQL that stores them is
// built from it (UpsertSQL), so the importer and the demo loader write
// through the same statements. The declarations are in catalog.go.
type Table struct {
	// Name is the table's name, which is also the import layer's.
	Name string
	// Fields are the stored fields, code first.
	Fields []Field
	// Rules are the schema's constraints between two fields.
	Rules []Rule
	// Geometries are the geometry types a feature may have, as GeoJSON
	// names them.
	Geometries []string
	// LiesIn names the field of the region whose county holds a
	// feature's geometry (a township's county, a county itself); for a
	// region, its parent, whose own boundary holds it. The importer
	// checks it, with a small tolerance, in the database (a region with
	// no parent lies anywhere).
	LiesIn string
	// writes are the tables the fields are stored in, in the order they
	// are written (a table before the tables that refer to it).
	writes []write
}

// write is one table that stores some of a Table's fields (those whose In
// names it) and the code, its key.
type write struct {
	table string
	// geom is the column the feature's geometry goes to, "" for none.
	geom string
	// multi: the column holds multi-geometries, and a single geometry is
	// stored as a multi-geometry of one.
	multi bool
	// created are columns set only when a row is created, from SQL over
	// the staged row; an update keeps them.
	created []derived
	// pointOn is the column that stores a point on the geometry's
	// surface (a region's point, on its boundary), "" for none.
	pointOn string
}

// derived is a column and the SQL expression that sets it.
type derived struct{ column, expr string }

// KeyField is the field every Table is keyed by, its rows' code.
const KeyField = "code"

// UpsertSQL is the SQL that writes the rows staged in the table stage
// into t's tables, by code: one statement per table, to be run in order.
// stage has a column per field of t, named as the field (other columns
// are ignored), whose values go to the column that stores the field
// (Field.StoredIn); geom is the SQL expression of a row's geometry, in
// EPSG:4326, over stage's columns. A code already stored has every field
// and its geometry replaced by the staged values, so stage absent fields
// as their defaults (Default, FromCode). Rows are written in code order.
// A stored row the staged values would leave as it is is not updated
// (though it is locked): an edit of a village's figures leaves its
// regions row alone, so neither its rollups are refreshed nor an audit
// row written for it. Identifiers are quoted; values come only from stage.
func (t *Table) UpsertSQL(stage, geom string) []string {
	quote := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	stmts := make([]string, len(t.writes))
	for i, w := range t.writes {
		key := quote(KeyField)
		cols, values, set := []string{key}, []string{key}, []string(nil)
		var old, excluded []string
		stored := func(col, value string) {
			cols, values = append(cols, quote(col)), append(values, value)
			set = append(set, quote(col)+" = EXCLUDED."+quote(col))
			old, excluded = append(old, quote(w.table)+"."+quote(col)), append(excluded, "EXCLUDED."+quote(col))
		}
		for _, f := range t.Fields {
			if f.Name != KeyField && cmp.Or(f.In, t.Name) == w.table {
				stored(f.StoredIn(), quote(f.Name))
			}
		}
		if w.geom != "" && w.multi {
			stored(w.geom, "ST_Multi("+geom+")")
		} else if w.geom != "" {
			stored(w.geom, geom)
		}
		if w.pointOn != "" {
			stored(w.pointOn, "ST_PointOnSurface("+geom+")")
		}
		for _, d := range w.created {
			cols, values = append(cols, quote(d.column)), append(values, d.expr)
		}
		stmts[i] = "INSERT INTO " + quote(w.table) + " (" + strings.Join(cols, ", ") + ")\n" +
			"SELECT " + strings.Join(values, ", ") + "\nFROM " + quote(stage) + "\n" +
			// Rows are written, and so locked, in code order whatever the
			// file's order, so two imports of the same rows wait for one
			// another instead of deadlocking.
			"ORDER BY " + key + " COLLATE \"C\"\n" +
			"ON CONFLICT (" + key + ") DO UPDATE SET " + strings.Join(set, ", ") + "\n" +
			"WHERE (" + strings.Join(old, ", ") + ") IS DISTINCT FROM (" + strings.Join(excluded, ", ") + ")"
	}
	return stmts
}

// RecordSQL is the SQL that reads the row of t with code $1 as import
// files spell it, locking it for an edit: one text per field, in t's
// order (NULL for a field not set; a date as YYYY-MM-DD, a boolean as
// true or false), then the geometry as WKB. Row-level security applies:
// a row outside the transaction's scope is not returned, as FOR UPDATE
// locks only what the scope may change.
func (t *Table) RecordSQL() string {
	quote := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	alias := func(table string) string {
		for i, w := range t.writes {
			if w.table == table {
				return "t" + strconv.Itoa(i)
			}
		}
		panic("geo: " + t.Name + " stores nothing in " + table)
	}
	texts := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		col := alias(cmp.Or(f.In, t.Name)) + "." + quote(f.StoredIn())
		if f.Name == KeyField {
			col = alias(t.writes[0].table) + "." + quote(KeyField)
		}
		switch f.Kind {
		case DateField:
			texts[i] = "to_char(" + col + ", 'YYYY-MM-DD')"
		default:
			texts[i] = col + "::text"
		}
	}
	geom := "NULL::bytea"
	from := ""
	for i, w := range t.writes {
		a := "t" + strconv.Itoa(i)
		if w.geom != "" {
			geom = "ST_AsBinary(" + a + "." + quote(w.geom) + ")"
		}
		if i == 0 {
			from = quote(w.table) + " " + a
		} else {
			from += " JOIN " + quote(w.table) + " " + a + " ON " + a + "." + quote(KeyField) + " = t0." + quote(KeyField)
		}
	}
	return "SELECT ARRAY[" + strings.Join(texts, ", ") + "], " + geom + "\nFROM " + from +
		"\nWHERE t0." + quote(KeyField) + " = $1\nFOR UPDATE"
}

// ExistsSQL is the SQL that says whether t holds a row with code $1,
// whoever may change it.
func (t *Table) ExistsSQL() string {
	return "SELECT EXISTS (SELECT FROM " + pgx.Identifier{t.Name}.Sanitize() + " WHERE " + KeyField + " = $1)"
}
