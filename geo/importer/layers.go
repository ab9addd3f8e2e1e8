package importer

import (
	"strconv"
	"strings"
	"time"

	"github.com/zunyi/battlemap/geo"
)

// layer is one kind of map data that can be imported: its table as the
// catalogue declares it (fields, rules between them, geometry types) and
// the SQL built from it (sql.go).
type layer struct {
	*geo.Table
	stage     string   // the temporary table rows are copied into
	sqlStage  string   // creates stage
	sqlCount  string   // how many staged codes the table already holds
	sqlUpsert []string // moves the staged rows into the schema, in order
	sqlRecord string   // reads and locks one stored row for an edit ($1 code)
	sqlExists string   // whether a row exists ($1 code)
}

// layers are the catalogue's tables, which are what can be imported.
var layers = newLayers(geo.Tables)

// newLayers makes a layer of each table, building its SQL.
func newLayers(tables []*geo.Table) []*layer {
	ls := make([]*layer, len(tables))
	for i, t := range tables {
		stage := "import_" + t.Name
		ls[i] = &layer{
			Table:     t,
			stage:     stage,
			sqlStage:  stageSQL(stage, t),
			sqlCount:  countSQL(stage, t),
			sqlUpsert: t.UpsertSQL(stage, stagedGeometry),
			sqlRecord: t.RecordSQL(),
			sqlExists: t.ExistsSQL(),
		}
	}
	return ls
}

// Layers names the layers that can be imported.
func Layers() []string {
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.Name
	}
	return names
}

// layerNamed is the layer called name, or nil.
func layerNamed(name string) *layer {
	for _, l := range layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// columns are the staging table's columns COPY fills: the fields in order,
// then the geometry as WKB.
func (l *layer) columns() []string {
	cols := make([]string, 0, len(l.Fields)+1)
	for _, f := range l.Fields {
		cols = append(cols, f.Name)
	}
	return append(cols, stagedWKB)
}

// parse reads field f's non-empty text s into the value stored: a
// string, an int64, a bool or a time.Time. When s is not acceptable, it
// returns a reason instead.
func parse(f *geo.Field, s string) (any, string) {
	switch f.Kind {
	case geo.IntegerField:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < f.Min || n > f.Max {
			return nil, "must be a whole number from " + strconv.FormatInt(f.Min, 10) + " to " +
				strconv.FormatInt(f.Max, 10) + ", got " + quote(s)
		}
		return n, ""
	case geo.BooleanField:
		switch strings.ToLower(s) {
		case "true", "1":
			return true, ""
		case "false", "0":
			return false, ""
		}
		return nil, "must be true or false (or 1 or 0), got " + quote(s)
	case geo.DateField:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, "must be a date as YYYY-MM-DD, got " + quote(s)
		}
		// Go reads year 0000, which neither RFC 3339 nor PostgreSQL has:
		// stored, it became 1 BC and came back as no RFC 3339 date at all.
		if t.Year() < 1 {
			return nil, "must be a date in the years 0001 to 9999, got " + quote(s)
		}
		return t, ""
	}
	switch {
	case strings.ContainsRune(s, 0):
		return nil, "must not contain a NUL character"
	case f.Enum != nil && !f.Enum.Has(s):
		return nil, "must be one of " + strings.Join(f.Enum.Strings(), ", ") + ", got " + quote(s)
	case f.Digits > 0 && !allDigits(s, f.Digits):
		return nil, "must be a statistical code of " + strconv.Itoa(f.Digits) + " digits, got " + quote(s)
	}
	return s, ""
}

// allDigits reports whether s is exactly n ASCII digits.
func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkRule applies r to a feature's parsed values (absent fields are not
// in vals) and returns the reason it fails, or "". A geo.Within or
// geo.ParentOf rule needs the database, which checkRegions and
// checkPlaces ask; here it always passes.
func checkRule(r geo.Rule, vals map[string]any) string {
	a, hasA := vals[r.A]
	b, hasB := vals[r.B]
	switch r.Kind {
	case geo.CodeOfLevel:
		if hasA && hasB {
			return geo.LevelCodeProblem(b.(string), a.(string))
		}
	case geo.AtMost:
		if !hasA || !hasB {
			return ""
		}
		switch a := a.(type) {
		case int64:
			if a > b.(int64) {
				return strconv.FormatInt(a, 10) + " exceeds " + r.B + " (" + strconv.FormatInt(b.(int64), 10) + ")"
			}
		case time.Time:
			if a.After(b.(time.Time)) {
				return a.Format(time.DateOnly) + " is after " + r.B + " (" + b.(time.Time).Format(time.DateOnly) + ")"
			}
		}
	case geo.PresentIff:
		cond := hasB && (r.When == "" || b == r.When)
		switch {
		case cond && !hasA && r.When != "":
			return "required when " + r.B + " is " + r.When
		case cond && !hasA:
			return "required with " + r.B
		case !cond && hasA && r.When != "":
			return "given only when " + r.B + " is " + r.When
		case !cond && hasA:
			return "given only with " + r.B
		}
	}
	return ""
}

// quote shows a value in a reason, shortened so that a huge value does not
// make a huge report.
func quote(s string) string {
	const shown = 40
	if r := []rune(s); len(r) > shown {
		s = string(r[:shown]) + "…"
	}
	return strconv.Quote(s)
}
