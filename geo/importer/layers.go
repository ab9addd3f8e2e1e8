package importer

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is how a field's text is read.
type kind int

const (
	text    kind = iota // any non-empty text, or one of enum
	integer             // a whole number within [min, max]
	boolean             // true/false or 1/0
	date                // YYYY-MM-DD
)

// field is one property of a feature (GeoJSON) or column (CSV). The names
// are those of the demo data files and of the schema's columns.
type field struct {
	name     string
	kind     kind
	required bool
	enum     []string // text: the allowed values, as the schema's CHECK lists them
	digits   int      // text: exactly this many digits (a statistical code)
	min, max int64    // integer: the bounds the schema's CHECK allows
	def      any      // stored when the field is absent; nil is NULL
	// ref is the level of the region the code in this field names, which
	// must exist before the import: "county", "township", or "village" (a
	// village in the registry). refLen > 0 takes only the code's first
	// refLen digits, for a village whose township must exist.
	ref    string
	refLen int
}

// ruleKind is the kind of a rule between two fields.
type ruleKind int

const (
	atMost     ruleKind = iota // a ≤ b, when both are given
	within                     // code a lies in the region of code b: a starts with b
	presentIff                 // a is given iff b equals when (with when "": iff b is given)
)

// rule is a constraint between two fields of one feature, checked as the
// schema's table constraints would.
type rule struct {
	kind ruleKind
	a, b string
	when string
}

// layer is what one kind of map data needs to be imported: its fields and
// rules, its geometry types, and its SQL (sql.go).
type layer struct {
	name       string // the layer's name, which is also its table
	fields     []field
	rules      []rule
	geometries []string // the geometry types allowed, as GeoJSON names them
	stage      string   // the temporary table rows are copied into
	sqlStage   string   // creates stage
	sqlCount   string   // how many staged codes the table already holds
	sqlUpsert  []string // moves the staged rows into the schema, in order
}

// Field bounds, from the columns' types and CHECK constraints.
const (
	maxInt32 = math.MaxInt32
	maxInt64 = math.MaxInt64
)

// layers are the three kinds of map data that can be imported.
var layers = []*layer{
	{
		name: "villages",
		fields: []field{
			{name: "code", kind: text, required: true, digits: 12, ref: "township", refLen: 9},
			{name: "name", kind: text, required: true},
			{name: "poverty_status", kind: text, required: true, enum: []string{"none", "not_exited", "exited"}},
			{name: "exit_year", kind: integer, min: 2000, max: 2100},
			{name: "population", kind: integer, required: true, max: maxInt32},
			{name: "poor_households", kind: integer, required: true, max: maxInt32},
			{name: "poor_population", kind: integer, required: true, max: maxInt32},
			{name: "demonstration", kind: boolean, def: false},
			{name: "pairing_level", kind: text, enum: []string{"city", "county"}},
			{name: "pairing_unit", kind: text},
			{name: "cooperatives", kind: integer, max: maxInt32, def: int64(0)},
		},
		rules: []rule{
			{kind: atMost, a: "poor_population", b: "population"},
			{kind: atMost, a: "poor_households", b: "poor_population"},
			{kind: presentIff, a: "exit_year", b: "poverty_status", when: "exited"},
			{kind: presentIff, a: "pairing_unit", b: "pairing_level"},
		},
		geometries: []string{"Point"},
		stage:      "import_villages",
		sqlStage:   sqlStageVillages,
		sqlCount:   sqlCountVillages,
		sqlUpsert:  []string{sqlUpsertVillageRegions, sqlUpsertVillages},
	},
	{
		name: "sites",
		fields: []field{
			{name: "code", kind: text, required: true},
			{name: "name", kind: text, required: true},
			{name: "type", kind: text, required: true, enum: []string{"urban", "town", "rural"}},
			{name: "county_code", kind: text, required: true, digits: 6, ref: "county"},
			{name: "township_code", kind: text, digits: 9, ref: "township"},
			{name: "capacity_households", kind: integer, required: true, max: maxInt32},
			{name: "capacity_people", kind: integer, required: true, max: maxInt32},
			{name: "moved_in_households", kind: integer, max: maxInt32, def: int64(0)},
			{name: "moved_in_people", kind: integer, max: maxInt32, def: int64(0)},
			{name: "progress", kind: integer, required: true, max: 100},
			{name: "status", kind: text, required: true, enum: []string{"planned", "under_construction", "completed", "occupied"}},
			{name: "planned_completion", kind: date},
		},
		rules: []rule{
			{kind: atMost, a: "moved_in_households", b: "capacity_households"},
			{kind: atMost, a: "moved_in_people", b: "capacity_people"},
			{kind: within, a: "township_code", b: "county_code"},
		},
		geometries: []string{"Point"},
		stage:      "import_sites",
		sqlStage:   sqlStageSites,
		sqlCount:   sqlCountSites,
		sqlUpsert:  []string{sqlUpsertSites},
	},
	{
		name: "projects",
		fields: []field{
			{name: "code", kind: text, required: true},
			{name: "name", kind: text, required: true},
			{name: "category", kind: text, required: true, enum: []string{
				"water", "power", "road", "telecom", "housing", "renovation", "industry", "training", "other"}},
			{name: "fund_use", kind: text, required: true, enum: []string{
				"industry", "cooperative", "interest_subsidy", "training", "public_facilities"}},
			{name: "county_code", kind: text, required: true, digits: 6, ref: "county"},
			{name: "village_code", kind: text, digits: 12, ref: "village"},
			{name: "funds_planned", kind: integer, required: true, max: maxInt64},
			{name: "funds_disbursed", kind: integer, max: maxInt64, def: int64(0)},
			{name: "completion", kind: integer, required: true, max: 100},
			{name: "status", kind: text, required: true, enum: []string{"planned", "under_construction", "completed"}},
			{name: "start_date", kind: date},
			{name: "end_date", kind: date},
		},
		rules: []rule{
			{kind: atMost, a: "funds_disbursed", b: "funds_planned"},
			{kind: atMost, a: "start_date", b: "end_date"},
			{kind: within, a: "village_code", b: "county_code"},
		},
		geometries: []string{"Point", "LineString"},
		stage:      "import_projects",
		sqlStage:   sqlStageProjects,
		sqlCount:   sqlCountProjects,
		sqlUpsert:  []string{sqlUpsertProjects},
	},
}

// Layers names the layers that can be imported.
func Layers() []string {
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.name
	}
	return names
}

// layerNamed is the layer called name, or nil.
func layerNamed(name string) *layer {
	for _, l := range layers {
		if l.name == name {
			return l
		}
	}
	return nil
}

// columns are the staging table's columns COPY fills: the fields in order,
// then the geometry as WKB.
func (l *layer) columns() []string {
	cols := make([]string, 0, len(l.fields)+1)
	for _, f := range l.fields {
		cols = append(cols, f.name)
	}
	return append(cols, "geom")
}

// parse reads a field's non-empty text s into the value stored: a string,
// an int64, a bool or a time.Time. When s is not acceptable, it returns a
// reason instead.
func (f *field) parse(s string) (any, string) {
	switch f.kind {
	case integer:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < f.min || n > f.max {
			return nil, "must be a whole number from " + strconv.FormatInt(f.min, 10) + " to " +
				strconv.FormatInt(f.max, 10) + ", got " + quote(s)
		}
		return n, ""
	case boolean:
		switch strings.ToLower(s) {
		case "true", "1":
			return true, ""
		case "false", "0":
			return false, ""
		}
		return nil, "must be true or false (or 1 or 0), got " + quote(s)
	case date:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, "must be a date as YYYY-MM-DD, got " + quote(s)
		}
		return t, ""
	}
	switch {
	case strings.ContainsRune(s, 0):
		return nil, "must not contain a NUL character"
	case f.enum != nil && !slices.Contains(f.enum, s):
		return nil, "must be one of " + strings.Join(f.enum, ", ") + ", got " + quote(s)
	case f.digits > 0 && !allDigits(s, f.digits):
		return nil, "must be a statistical code of " + strconv.Itoa(f.digits) + " digits, got " + quote(s)
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

// check applies r to a feature's parsed values (absent fields are not in
// vals) and returns the reason it fails, or "".
func (r rule) check(vals map[string]any) string {
	a, hasA := vals[r.a]
	b, hasB := vals[r.b]
	switch r.kind {
	case atMost:
		if !hasA || !hasB {
			return ""
		}
		switch a := a.(type) {
		case int64:
			if a > b.(int64) {
				return strconv.FormatInt(a, 10) + " exceeds " + r.b + " (" + strconv.FormatInt(b.(int64), 10) + ")"
			}
		case time.Time:
			if a.After(b.(time.Time)) {
				return a.Format(time.DateOnly) + " is after " + r.b + " (" + b.(time.Time).Format(time.DateOnly) + ")"
			}
		}
	case within:
		if hasA && hasB && !strings.HasPrefix(a.(string), b.(string)) {
			return a.(string) + " is not in " + r.b + " " + b.(string)
		}
	case presentIff:
		cond := hasB && (r.when == "" || b == r.when)
		switch {
		case cond && !hasA && r.when != "":
			return "required when " + r.b + " is " + r.when
		case cond && !hasA:
			return "required with " + r.b
		case !cond && hasA && r.when != "":
			return "given only when " + r.b + " is " + r.when
		case !cond && hasA:
			return "given only with " + r.b
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
