package geo

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Collection is one feature collection served by the OGC API: what its
// features are, their properties and the filters its items take. One
// definition drives the SQL of its pages, counts, single features and
// extent, built once at start.
type Collection struct {
	ID          string
	Title       string
	Description string
	// GeometryType is the GeoJSON type of every feature's geometry, or
	// "Geometry" when it varies.
	GeometryType string
	// Columns are the features' properties, in order.
	Columns []Column
	// Filters are the query parameters that narrow the features by a
	// property, beside bbox and datetime.
	Filters []Filter
	// Dates names the properties that give a feature's time, the days it
	// spans (a Selection's From and To meet them); "" when features have
	// no time, and every From and To then matches them all.
	Dates string

	from  string // the tables the columns read from, aliased
	where string // which of their rows are features
	key   string // the feature id, text; pages follow its byte order
	geom  string // the geometry, EPSG:4326
	// start and end are the SQL dates of the days a feature spans, either
	// NULL when open; "" for collections without time.
	start, end string

	pageSQL   string // $1 bbox, $2… filters, then cursor and limit
	itemsSQL  string // pageSQL's parameters; the count of matches, then the page
	itemSQL   string // $1 id
	extentSQL string
}

// Column is one property of a collection's features, or one rolled-up
// figure of a region, and the SQL expression that yields it.
type Column struct {
	Name string
	// Type is the JSON Schema type of its values: "string", "integer",
	// "number" or "boolean". Any value may also be null.
	Type        string
	Description string
	sql         string
}

// Filter is a query parameter that narrows a collection's features to
// those whose property compares so with the value given.
type Filter struct {
	Param       string
	Description string
	kind        kind
	column      string // SQL expression compared with the value
	op          string // SQL comparison operator
}

// Type is the JSON Schema type of the filter's values.
func (f Filter) Type() string {
	switch f.kind.sqlType {
	case "boolean":
		return "boolean"
	case "integer":
		return "integer"
	}
	return "string"
}

// Allowed says in words what values the filter takes.
func (f Filter) Allowed() string { return f.kind.allowed }

// Values are the values an enumerated filter takes, nil for other filters.
func (f Filter) Values() []string { return f.kind.values }

// Record is a row of named values in its columns' order. It encodes as a
// JSON object whose members keep that order.
type Record struct {
	Columns []Column
	Values  []any
}

// MarshalJSON implements json.Marshaler.
func (r Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

// AppendJSON appends the record's JSON object to b. Pages encode a record
// per feature, so the common values (plain strings, integers, ordinary
// numbers) are written here directly; anything else goes through
// encoding/json, which spells them all the same way.
func (r Record) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	for i, c := range r.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		// Names are plain identifiers (checked in TestColumnNames).
		b = append(append(append(b, '"'), c.Name...), '"', ':')
		var err error
		if b, err = appendJSONValue(b, r.Values[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	return append(b, '}'), nil
}

// appendJSONValue appends v as encoding/json writes it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float64:
		// encoding/json's own format in this range; it switches to
		// exponents outside it, and refuses NaN and infinities.
		if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
			return strconv.AppendFloat(b, v, 'f', -1, 64), nil
		}
	case string:
		if plainJSONString(v) {
			return append(append(append(b, '"'), v...), '"'), nil
		}
	}
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// plainJSONString reports whether s is valid UTF-8 that encoding/json
// would write between quotes as it is: no control characters, quotes,
// backslashes, HTML specials or line/paragraph separators.
func plainJSONString(s string) bool {
	for _, r := range s {
		switch {
		case r < 0x20, r == '"', r == '\\', r == '<', r == '>', r == '&',
			r == utf8.RuneError, r == '\u2028', r == '\u2029':
			return false
		}
	}
	return true
}

var _ json.Marshaler = Record{}

// The values of enumerated properties, as the schema's CHECK constraints
// allow them.
var (
	regionStatuses    = []string{"none", "not_exited", "exited"}
	siteTypes         = []string{"urban", "town", "rural"}
	siteStatuses      = []string{"planned", "under_construction", "completed", "occupied"}
	projectStatuses   = []string{"planned", "under_construction", "completed"}
	projectCategories = []string{"water", "power", "road", "telecom", "housing", "renovation", "industry", "training", "other"}
	projectFundUses   = []string{"industry", "cooperative", "interest_subsidy", "training", "public_facilities"}
)

// figureColumns are a region's figures rolled up from everything inside
// it, read from region_figures (alias f), where they are defined. County
// and township features carry them all; the drill-down shows them.
var figureColumns = []Column{
	{"villages", "integer", "villages and communities", "f.villages"},
	{"villages_not_exited", "integer", "poverty villages not yet exited (未出列)", "f.villages_not_exited"},
	{"villages_exited", "integer", "poverty villages exited (已出列)", "f.villages_exited"},
	{"villages_none", "integer", "villages never registered as poverty villages", "f.villages - f.villages_not_exited - f.villages_exited"},
	{"villages_demonstration", "integer", "demonstration villages", "f.villages_demonstration"},
	{"share_exited", "number", "exited ÷ all poverty villages (0–1)", "f.share_exited"},
	{"population", "integer", "registered population", "f.population"},
	{"poor_households", "integer", "registered poor households", "f.poor_households"},
	{"poor_population", "integer", "registered poor people", "f.poor_population"},
	{"poverty_incidence", "number", "poor people ÷ population (0–1)", "f.poverty_incidence"},
	{"cooperatives", "integer", "cooperatives", "f.cooperatives"},
	{"relocation_households", "integer", "households assigned to move out", "f.relocation_households"},
	{"relocation_people", "integer", "people assigned to move out", "f.relocation_people"},
	{"sites", "integer", "relocation sites in the region", "f.sites"},
	{"site_capacity_people", "integer", "people the region's sites are planned for", "f.site_capacity_people"},
	{"site_moved_in_people", "integer", "people moved into the region's sites", "f.site_moved_in_people"},
	{"site_progress_avg", "number", "average construction progress of the region's sites (%)", "round(f.site_progress_avg::numeric, 1)::float8"},
	{"projects", "integer", "funded projects", "f.projects"},
	{"projects_completed", "integer", "projects completed", "f.projects_completed"},
	{"completion_avg", "number", "average project completion (%)", "round(f.completion_avg::numeric, 1)::float8"},
	{"funds_planned", "integer", "special funds planned (yuan)", "f.funds_planned"},
	{"funds_disbursed", "integer", "special funds disbursed (yuan)", "f.funds_disbursed"},
}

// figures picks figureColumns by name.
func figures(names ...string) []Column {
	cols := make([]Column, len(names))
	for i, n := range names {
		j := slices.IndexFunc(figureColumns, func(c Column) bool { return c.Name == n })
		if j < 0 {
			panic("geo: no figure column " + n)
		}
		cols[i] = figureColumns[j]
	}
	return cols
}

// regionColumns are what every region feature carries first: its code and
// name, its parents' codes, and its own poverty status.
func regionColumns(parents ...Column) []Column {
	return slices.Concat(
		[]Column{{"code", "string", "statistical code", "f.code"}, {"name", "string", "name", "f.name"}},
		parents,
		[]Column{
			{"status", "string", "poverty status of the region itself: " + strings.Join(regionStatuses, ", "), "f.poverty_status"},
			{"exit_year", "integer", "year it exited poverty", "f.exit_year"},
			{"demonstration", "boolean", "a demonstration point", "f.demonstration"},
		})
}

// Filters shared by several collections.
func countyFilter(column string) Filter {
	return Filter{Param: "county", Description: "in this county", kind: codeKind(6, "county"), column: column, op: "="}
}

func townshipFilter(column string) Filter {
	return Filter{Param: "township", Description: "in this township", kind: codeKind(9, "township"), column: column, op: "="}
}

func statusFilter(values []string, column string) Filter {
	return Filter{Param: "status", Description: "with this status", kind: enumKind(values...), column: column, op: "="}
}

var demonstrationFilter = Filter{Param: "demonstration", Description: "demonstration points (true) or the others (false)",
	kind: boolKind, column: "f.demonstration", op: "="}

// percentFilters are name_lt and name_gte on a 0–100 column.
func percentFilters(name, column string) []Filter {
	return []Filter{
		{Param: name + "_lt", Description: name + " below this percentage", kind: percentKind, column: column, op: "<"},
		{Param: name + "_gte", Description: name + " at or above this percentage", kind: percentKind, column: column, op: ">="},
	}
}

// regionFrom is a level's regions with their figures.
const regionFrom = `region_figures f JOIN regions g ON g.code = f.code`

// Collections are the feature collections served, in the order listed.
var Collections = []*Collection{
	{
		ID: "counties", Title: "Counties (县/区/市)",
		Description:  "County boundaries with the figures rolled up from their villages, relocation sites and projects",
		GeometryType: "MultiPolygon",
		Columns:      slices.Concat(regionColumns(), figureColumns),
		Filters:      []Filter{statusFilter(regionStatuses, "f.poverty_status"), demonstrationFilter},
		from:         regionFrom, where: `f.level = 'county'`, key: "f.code", geom: "g.boundary",
	},
	{
		ID: "townships", Title: "Townships (乡/镇/街道)",
		Description:  "Township boundaries with the figures rolled up from their villages, relocation sites and projects",
		GeometryType: "MultiPolygon",
		Columns: slices.Concat(regionColumns(Column{"county_code", "string", "county", "f.parent_code"}),
			figureColumns),
		Filters: []Filter{countyFilter("f.parent_code"), statusFilter(regionStatuses, "f.poverty_status"), demonstrationFilter},
		from:    regionFrom, where: `f.level = 'township'`, key: "f.code", geom: "g.boundary",
	},
	{
		ID: "villages", Title: "Villages and communities (村/社区)",
		Description:  "Villages and communities with their poverty status and registry figures",
		GeometryType: "Point",
		Columns: slices.Concat(
			regionColumns(Column{"township_code", "string", "township", "v.township_code"},
				Column{"county_code", "string", "county", "v.county_code"}),
			[]Column{
				{"pairing_level", "string", "paired-assistance (包保) level: city or county", "v.pairing_level"},
				{"pairing_unit", "string", "paired-assistance unit", "v.pairing_unit"},
			},
			figures("population", "poor_households", "poor_population", "poverty_incidence", "cooperatives",
				"relocation_households", "relocation_people", "projects", "projects_completed", "completion_avg",
				"funds_planned", "funds_disbursed")),
		Filters: []Filter{countyFilter("v.county_code"), townshipFilter("v.township_code"),
			statusFilter(regionStatuses, "f.poverty_status"), demonstrationFilter},
		from: regionFrom + ` JOIN villages v ON v.code = f.code`, where: "true", key: "f.code", geom: "g.point",
	},
	{
		ID: "sites", Title: "Relocation sites (易地扶贫搬迁安置点)",
		Description:  "Relocation sites: capacity, people moved in, construction progress",
		GeometryType: "Point",
		Columns: []Column{
			{"code", "string", "site code", "s.code"},
			{"name", "string", "site name", "s.name"},
			{"type", "string", strings.Join(siteTypes, ", "), "s.type"},
			{"status", "string", strings.Join(siteStatuses, ", "), "s.status"},
			{"progress", "integer", "construction progress (%)", "s.progress"},
			{"capacity_households", "integer", "planned households", "s.capacity_households"},
			{"capacity_people", "integer", "planned people", "s.capacity_people"},
			{"moved_in_households", "integer", "households moved in", "s.moved_in_households"},
			{"moved_in_people", "integer", "people moved in", "s.moved_in_people"},
			{"county_code", "string", "county", "s.county_code"},
			{"township_code", "string", "township", "s.township_code"},
			{"planned_completion", "string", "planned completion date", "s.planned_completion::text"},
		},
		Filters: slices.Concat([]Filter{
			countyFilter("s.county_code"), townshipFilter("s.township_code"),
			{Param: "type", Description: "of this type", kind: enumKind(siteTypes...), column: "s.type", op: "="},
			statusFilter(siteStatuses, "s.status"),
		}, percentFilters("progress", "s.progress")),
		from: "sites s", where: "true", key: "s.code", geom: "s.geom",
	},
	{
		ID: "projects", Title: "Projects (扶贫项目)",
		Description:  "Funded poverty-alleviation projects: points, or lines for roads and pipes",
		GeometryType: "Geometry",
		Columns: []Column{
			{"code", "string", "project code", "p.code"},
			{"name", "string", "project name", "p.name"},
			{"category", "string", strings.Join(projectCategories, ", "), "p.category"},
			{"fund_use", "string", `"33112" fund use: ` + strings.Join(projectFundUses, ", "), "p.fund_use"},
			{"status", "string", strings.Join(projectStatuses, ", "), "p.status"},
			{"completion", "integer", "completion (%)", "p.completion"},
			{"funds_planned", "integer", "special funds planned (yuan)", "p.funds_planned"},
			{"funds_disbursed", "integer", "special funds disbursed (yuan)", "p.funds_disbursed"},
			{"county_code", "string", "county", "p.county_code"},
			{"village_code", "string", "village, if it serves one", "p.village_code"},
			{"start_date", "string", "start date", "p.start_date::text"},
			{"end_date", "string", "end date", "p.end_date::text"},
		},
		Filters: slices.Concat([]Filter{
			countyFilter("p.county_code"), townshipFilter("left(p.village_code, 9)"),
			{Param: "village", Description: "serving this village", kind: codeKind(12, "village"), column: "p.village_code", op: "="},
			{Param: "category", Description: "of this category", kind: enumKind(projectCategories...), column: "p.category", op: "="},
			{Param: "fund_use", Description: `with this "33112" fund use`, kind: enumKind(projectFundUses...), column: "p.fund_use", op: "="},
			statusFilter(projectStatuses, "p.status"),
		}, percentFilters("completion", "p.completion")),
		Dates: "start_date…end_date",
		from:  "projects p", where: "true", key: "p.code", geom: "p.geom",
		start: "p.start_date", end: "p.end_date",
	},
}

func init() {
	for _, c := range Collections {
		c.build()
	}
}

// mustCollection is the collection id, for the code that reuses one.
func mustCollection(id string) *Collection {
	c, err := CollectionByID(id)
	if err != nil {
		panic(err)
	}
	return c
}

// SelectList is the SQL select list of the collection's properties, each
// named as its column; other readers of the same rows (the tiles) use it
// so that a feature says the same thing everywhere.
func (c *Collection) SelectList() string { return selectList(c.Columns) }

// CollectionByID returns the collection id, or an ENotFound error that
// lists the collections there are.
func CollectionByID(id string) (*Collection, error) {
	for _, c := range Collections {
		if c.ID == id {
			return c, nil
		}
	}
	ids := make([]string, len(Collections))
	for i, c := range Collections {
		ids[i] = c.ID
	}
	return nil, Errorf(ENotFound, "no collection %s; the collections are %s", Quote(id), strings.Join(ids, ", "))
}

// build makes the collection's SQL from its definition. Parameters stay
// parameters: a filter not given is NULL, and "$n IS NULL OR …" lets the
// planner drop it (the box is always given: see below). Ids compare as bytes (COLLATE "C") so that the order
// of pages does not depend on the database's locale.
func (c *Collection) build() {
	selectFrom := "SELECT " + c.key + " AS id, ST_AsBinary(" + c.geom + ") AS geom, " + selectList(c.Columns) +
		"\nFROM " + c.from

	where := []string{c.where,
		// Always a box (the whole world when none is asked for), never
		// "$1 IS NULL OR …": under a generic plan, which PostgreSQL adopts
		// for a prepared statement after a few runs, only the plain form
		// keeps the spatial index.
		"ST_Intersects(" + c.geom + ", ST_MakeEnvelope(($1::float8[])[1], ($1::float8[])[2], ($1::float8[])[3], ($1::float8[])[4], 4326))"}
	next := 2 // the number of the next parameter
	param := func(sqlType string) string {
		n := "$" + strconv.Itoa(next) + "::" + sqlType
		next++
		return n
	}
	for _, f := range c.Filters {
		n := param(f.kind.sqlType)
		where = append(where, "("+n+" IS NULL OR "+f.column+" "+f.op+" "+n+")")
	}
	if c.start != "" {
		// The features whose days meet the interval's; an open end, the
		// feature's or the interval's, meets everything on its side.
		from, to := param("date"), param("date")
		where = append(where,
			"("+from+" IS NULL OR "+c.end+" IS NULL OR "+c.end+" >= "+from+")",
			"("+to+" IS NULL OR "+c.start+" IS NULL OR "+c.start+" <= "+to+")")
	}
	cursor, limit := param("text"), param("int4")
	id := c.key + ` COLLATE "C"`

	countSQL := "SELECT count(*) AS matched\nFROM " + c.from + "\nWHERE " + strings.Join(where, "\n  AND ")
	c.pageSQL = selectFrom + "\nWHERE " + strings.Join(where, "\n  AND ") +
		"\n  AND (" + cursor + " IS NULL OR " + id + " > " + cursor + ")\nORDER BY " + id + "\nLIMIT " + limit
	// One statement sees one snapshot, so the count and the page agree
	// without a transaction around them, and the pair costs one round
	// trip. The count's single row is joined to the page so that an empty
	// page still brings it (as one row whose page columns are NULL).
	c.itemsSQL = "SELECT m.matched, p.*\nFROM (" + countSQL + ") m\nLEFT JOIN LATERAL (\n" + c.pageSQL + "\n) p ON true\nORDER BY p.id COLLATE \"C\""
	c.itemSQL = selectFrom + "\nWHERE " + c.where + " AND " + c.key + " = $1"
	days := "NULL::text, NULL::text"
	if c.start != "" {
		days = "min(" + c.start + ")::text, max(" + c.end + ")::text"
	}
	c.extentSQL = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last\nFROM (SELECT ST_Extent(" + c.geom +
		") AS e, " + days + " FROM " + c.from + " WHERE " + c.where + ") x (e, first, last)"
}
