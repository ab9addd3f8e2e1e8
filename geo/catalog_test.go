package geo_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// notMapData are the schema's enumerated CHECK constraints (named
// …_known) that no map data is drawn from, so the catalogue has no Enum
// for them (the roles of accounts are account.Roles).
var notMapData = []string{"audit_log_action_known", "users_role_known", "credentials_kind_known"}

// check is a constraint as pg_constraint has it.
type check struct {
	table string
	def   string // pg_get_constraintdef: CHECK ((level = ANY (ARRAY['city'::text, …])))
}

// schemaChecks are the CHECK constraints of the schema's tables, by name.
func schemaChecks(t *testing.T, db geo.DB) map[string]check {
	t.Helper()
	return schemaConstraints(t, db, "c")
}

// schemaConstraints are the constraints of the schema's tables of type
// contype (pg_constraint's: c for CHECK, f for a foreign key), by name.
func schemaConstraints(t *testing.T, db geo.DB, contype string) map[string]check {
	t.Helper()
	rows, err := db.Query(context.Background(), `
SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype = $1 AND conrelid <> 0 AND connamespace = current_schema()::regnamespace`, contype)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]check{}
	var name string
	var c check
	if _, err := pgx.ForEachRow(rows, []any{&name, &c.table, &c.def}, func() error {
		checks[name] = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return checks
}

// quoted finds the string literals of a constraint's definition.
var quoted = regexp.MustCompile(`'((?:[^']|'')*)'`)

// TestEnumsMatchConstraints: every enumeration of the catalogue allows
// exactly the values of the CHECK constraint it names, and every
// enumerated constraint of the schema (…_known) has its enumeration,
// but those of notMapData.
func TestEnumsMatchConstraints(t *testing.T) {
	checks := schemaChecks(t, pgtest.New(t))
	for _, e := range geo.Enums {
		t.Run(e.Name, func(t *testing.T) {
			c, ok := checks[e.Constraint]
			if !ok {
				t.Fatalf("no CHECK constraint %s in the schema", e.Constraint)
			}
			var allowed []string
			for _, m := range quoted.FindAllStringSubmatch(c.def, -1) {
				allowed = append(allowed, strings.ReplaceAll(m[1], "''", "'"))
			}
			if missing, extra := difference(e.Strings(), allowed), difference(allowed, e.Strings()); missing != nil || extra != nil {
				t.Errorf("%s differs from %s: the catalogue alone has %q, the constraint alone %q (constraint: %s)",
					e.Name, e.Constraint, missing, extra, c.def)
			}
		})
	}
	for name := range checks {
		if !strings.HasSuffix(name, "_known") || slices.Contains(notMapData, name) {
			continue
		}
		if !slices.ContainsFunc(geo.Enums, func(e *geo.Enum) bool { return e.Constraint == name }) {
			t.Errorf("the schema's %s has no Enum in the catalogue (geo.Enums); add one, or name it in notMapData", name)
		}
	}
}

// difference is the values of a not in b, in a's order; nil if none.
func difference(a, b []string) []string {
	var d []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			d = append(d, v)
		}
	}
	return d
}

// column is a table column as pg_attribute has it.
type column struct {
	sqlType string
	notNull bool
	def     *string // its default, as SQL; nil for none
}

// integerRange are the values of each integer type.
var integerRange = map[string][2]int64{
	"smallint": {math.MinInt16, math.MaxInt16},
	"integer":  {math.MinInt32, math.MaxInt32},
	"bigint":   {math.MinInt64, math.MaxInt64},
}

// fieldKinds is the kind of field each column type stores.
var fieldKinds = map[string]geo.FieldKind{
	"text": geo.TextField, "smallint": geo.IntegerField, "integer": geo.IntegerField, "bigint": geo.IntegerField,
	"boolean": geo.BooleanField, "date": geo.DateField,
}

// ruleConstraints is the type of constraint (pg_constraint's contype)
// each kind of rule mirrors: a rule between values a CHECK, a rule on
// where regions lie the foreign key that holds both codes to the
// hierarchy (to a (code, parent) key).
var ruleConstraints = map[geo.RuleKind]string{geo.AtMost: "c", geo.PresentIff: "c", geo.Within: "f", geo.CodeOfLevel: "c", geo.ParentOf: "f"}

// TestTablesMatchSchema holds each importable table's fields to the
// schema: a column of the same name (or the Column named) and kind in the
// table that stores it, required or with a default where the column is
// NOT NULL, the same default, integer bounds those of the column's type
// and CHECK constraints, an enumeration that is the column's own; and
// each rule between fields to the constraint it mirrors, of the type its
// kind wants.
func TestTablesMatchSchema(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	checks := schemaChecks(t, pool)
	constraints := map[string]map[string]check{}
	for _, contype := range ruleConstraints {
		if constraints[contype] == nil {
			constraints[contype] = schemaConstraints(t, pool, contype)
		}
	}
	for _, tb := range append(slices.Clone(geo.Tables), geo.AssignmentTable) {
		for _, f := range tb.Fields {
			table := cmp.Or(f.In, tb.Name)
			t.Run(table+"."+f.StoredIn(), func(t *testing.T) {
				var col column
				err := pool.QueryRow(ctx, `
SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, table, f.StoredIn()).Scan(&col.sqlType, &col.notNull, &col.def)
				if err != nil {
					t.Fatalf("column %s.%s: %v", table, f.StoredIn(), err)
				}
				if kind, ok := fieldKinds[col.sqlType]; !ok || kind != f.Kind {
					t.Errorf("kind %d, but the column is %s", f.Kind, col.sqlType)
				}
				if col.notNull && !f.Required && f.Default == nil {
					t.Errorf("neither required nor with a default, but the column is NOT NULL")
				}
				if f.Default != nil && (col.def == nil || *col.def != fmt.Sprint(f.Default)) {
					t.Errorf("default %v, but the column's is %v", f.Default, deref(col.def))
				}
				if f.Kind == geo.IntegerField {
					lo, hi := bounds(checks, table, f.Name, integerRange[col.sqlType])
					if f.Min != lo || f.Max != hi {
						t.Errorf("bounds %d to %d, but the column (%s and its CHECKs) allows %d to %d", f.Min, f.Max, col.sqlType, lo, hi)
					}
				}
				if f.Enum != nil {
					if c := checks[f.Enum.Constraint]; c.table != table || !strings.Contains(c.def, "("+f.StoredIn()+" = ANY ") {
						t.Errorf("enumeration %s, whose constraint %s (on %q: %s) is not this column's", f.Enum.Name, f.Enum.Constraint, c.table, c.def)
					}
				}
			})
		}
		for _, r := range tb.Rules {
			t.Run(r.Constraint, func(t *testing.T) {
				contype := ruleConstraints[r.Kind]
				c, ok := constraints[contype][r.Constraint]
				switch {
				case !ok:
					t.Errorf("rule %s–%s mirrors %s, which the schema lacks (as a constraint of type %s)", r.A, r.B, r.Constraint, contype)
				case !strings.Contains(c.def, r.A) || !strings.Contains(c.def, r.B):
					t.Errorf("rule %s–%s mirrors %s, which is about something else: %s", r.A, r.B, r.Constraint, c.def)
				}
			})
		}
	}
}

// comparison finds a column compared with a whole number in a
// constraint's definition: (progress >= 0), (exit_year <= 2100).
var comparison = regexp.MustCompile(`\((\w+) (>=|<=|>|<) (-?\d+)\)`)

// bounds narrows typeRange, the column's type's, by the comparisons of
// the column with numbers in table's CHECK constraints.
func bounds(checks map[string]check, table, column string, typeRange [2]int64) (lo, hi int64) {
	lo, hi = typeRange[0], typeRange[1]
	for _, c := range checks {
		if c.table != table {
			continue
		}
		for _, m := range comparison.FindAllStringSubmatch(c.def, -1) {
			n, err := strconv.ParseInt(m[3], 10, 64)
			if m[1] != column || err != nil {
				continue
			}
			switch m[2] {
			case ">=":
				lo = max(lo, n)
			case ">":
				lo = max(lo, n+1)
			case "<=":
				hi = min(hi, n)
			case "<":
				hi = min(hi, n-1)
			}
		}
	}
	return lo, hi
}

// deref is what s points to, or nil, for a message.
func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// TestRulesNameFields: a rule between fields names two fields of its
// table, which the importer would otherwise never find given; a Within
// rule, two fields naming regions, which the importer looks up.
func TestRulesNameFields(t *testing.T) {
	for _, tb := range geo.Tables {
		for _, r := range tb.Rules {
			for _, name := range []string{r.A, r.B} {
				i := slices.IndexFunc(tb.Fields, func(f geo.Field) bool { return f.Name == name })
				switch {
				case i < 0:
					t.Errorf("%s: rule %s names %s, which is not one of its fields", tb.Name, r.Constraint, name)
				case r.Kind == geo.Within && tb.Fields[i].Ref == "":
					t.Errorf("%s: rule %s names %s, which names no region (Ref)", tb.Name, r.Constraint, name)
				}
			}
		}
	}
}

// TestFiguresHaveLabels: every rolled-up figure has its Chinese name,
// which the pages write beside it (GET /api/catalogue); a county carries
// them all.
func TestFiguresHaveLabels(t *testing.T) {
	// A county's own columns end with demonstration; its figures follow.
	first := slices.IndexFunc(geo.Counties.Columns, func(c geo.Column) bool { return c.Name == "demonstration" }) + 1
	if first == 0 || first == len(geo.Counties.Columns) {
		t.Fatal("no figures after a county's demonstration column")
	}
	seen := map[string]bool{}
	for _, c := range geo.Counties.Columns[first:] {
		if c.Label == "" || seen[c.Label] {
			t.Errorf("figure %s: label %q missing or given twice", c.Name, c.Label)
		}
		seen[c.Label] = true
	}
}

// TestLevelCodesMatchConstraint holds LevelCodeProblem, the importer's
// check of a region's code for its level, to regions_code_matches_level:
// for every level and sample codes of every form, the catalogue takes a
// code exactly when the constraint does.
func TestLevelCodesMatchConstraint(t *testing.T) {
	pool := pgtest.New(t)
	def := schemaChecks(t, pool)["regions_code_matches_level"].def
	expr, ok := strings.CutPrefix(def, "CHECK ")
	if !ok {
		t.Fatalf("regions_code_matches_level: %q is no CHECK", def)
	}
	// The constraint's own text, evaluated over the values given.
	sql := "SELECT " + expr + " FROM (SELECT $1::text AS level, $2::text AS code) r"
	codes := []string{"100000", "110000", "520000", "520300", "520302", "520302001", "520302001001", "52030", "5203000", "52030a", ""}
	for _, level := range geo.RegionLevels.Strings() {
		for _, code := range codes {
			var takes bool
			if err := pool.QueryRow(context.Background(), sql, level, code).Scan(&takes); err != nil {
				t.Fatalf("%s %q: %v", level, code, err)
			}
			if problem := geo.LevelCodeProblem(level, code); (problem == "") != takes {
				t.Errorf("%s %q: the catalogue says %q, the constraint takes it: %v", level, code, problem, takes)
			}
		}
	}
}
