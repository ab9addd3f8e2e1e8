package geo

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
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

	itemsSQL  [encodings]string // $1…$4 bbox, $5… filters, then cursor, limit and how far to count; see Items
	denseSQL  [encodings]string // itemsSQL's parameters but how far to count; see Items
	itemSQL   [encodings]string // $1 id
	fcSQL     string            // $1…$4 bbox, $5… filters, then limit; see FeatureCollection
	extentSQL string
}

// Encoding is how the database writes the features it reads, each as one
// text: the server passes the bytes on and encodes nothing itself.
type Encoding int

const (
	// GeoJSON writes a feature as a GeoJSON Feature object: its id, its
	// geometry in WGS 84 longitude/latitude with up to 15 decimals (all a
	// float64 holds of a longitude or latitude, written shortest) and its
	// properties, an object of the columns in order, as PostgreSQL's
	// to_json spells their values.
	GeoJSON Encoding = iota
	// CSV writes a feature as one CSV record without its line end: the
	// columns in order (null as an empty cell, text always quoted and,
	// when it begins as a spreadsheet formula would, prefixed with a
	// single quote; numbers without exponents), then lon and lat for a
	// collection of points, else the geometry as WKT. CSVHeader names the
	// cells.
	CSV
	encodings // how many there are
)

func init() {
	for _, c := range Collections {
		c.build()
	}
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
// planner drop it (the box is always given: see below). Ids compare as
// bytes (COLLATE "C") so that the order of pages does not depend on the
// database's locale.
func (c *Collection) build() {
	where := []string{c.where,
		// Always a box (the whole world when none is asked for), never
		// "$1 IS NULL OR …": under a generic plan, which PostgreSQL adopts
		// for a prepared statement after a few runs, only the plain form
		// keeps the spatial index.
		"ST_Intersects(" + c.geom + ", ST_MakeEnvelope($1::float8, $2::float8, $3::float8, $4::float8, 4326))"}
	next := 5 // the number of the next parameter
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
	// FeatureCollection takes no cursor: its limit is the cursor's number.
	firstLimit := "$" + strconv.Itoa(next) + "::int4"
	cursor, limit, upTo := param("text"), param("int4"), param("int8")
	id := c.key + ` COLLATE "C"`
	matches := "\nFROM " + c.from + "\nWHERE " + strings.Join(where, "\n  AND ")

	// records are the features' rows as encode reads them.
	records := "SELECT " + c.key + " AS id, " + c.geom + " AS geom, properties\nFROM " + c.from + "\n" + lateralRecord("properties", c.Columns)

	// One statement reads the page and what its envelope says, from one
	// snapshot in one round trip and one scan (itemsSQL). It reads the
	// matching features, up to upTo+1 of them (m): a box over a province
	// would otherwise count hundreds of thousands of rows on every
	// request. Over them, in id order, window w counts them (matched) and
	// those after the cursor (after), numbers them (r) and looks ahead
	// from each to the id that would end a page starting there (last).
	// Those after the cursor come last, so the page is rows
	// matched-after+1 to matched-after+limit, and its first row knows
	// whether another page follows and where it starts. Row 1 comes as
	// well even when it lies before the cursor, without a feature, so
	// that an empty page still says how many matched.
	// byID is the window of both page statements: every row of the
	// subquery, in id order.
	byID := "WINDOW w AS (ORDER BY id COLLATE \"C\" ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
	after := func(col string) string { return "(" + cursor + " IS NULL OR " + col + ` COLLATE "C" > ` + cursor + ")" }
	counted := "SELECT id, geom, properties,\n" +
		"  count(*) OVER w AS matched,\n" +
		"  count(*) FILTER (WHERE " + after("id") + ") OVER w AS after,\n" +
		"  row_number() OVER w AS r,\n" +
		"  lead(id, " + limit + " - 1) OVER w AS last\n" +
		"FROM (\n" + records + "\nWHERE " + strings.Join(where, "\n  AND ") + "\nLIMIT " + upTo + " + 1\n) m\n" + byID
	// When more than upTo match, the statement sends row 1 alone, without
	// its feature, for Items to learn so; numberMatched is then NULL and
	// the answer leaves it out, as OGC API – Features allows, and Items
	// reads the page with denseSQL instead: the ids of the first limit+1
	// matches after the cursor, sorted, and only those rows make their
	// records (page). Over them window w counts them (n), numbers them (r)
	// and names the page's last id (last), the next page's cursor when a
	// limit+1st follows.
	ids := "SELECT " + c.key + matches + "\n  AND " + after(c.key) + "\nORDER BY " + id + "\nLIMIT " + limit + " + 1"
	page := "SELECT id, geom, properties, NULL::int8 AS matched,\n" +
		"  count(*) OVER w AS n, row_number() OVER w AS r, nth_value(id, " + limit + ") OVER w AS last\n" +
		"FROM (\n" + records + "\nWHERE " + c.where + " AND " + c.key + " IN (\n" + ids + "\n)\n) p\n" + byID
	one := records + "\nWHERE " + c.where + " AND " + c.key + " = $1"
	for e := range encodings {
		c.itemsSQL[e] = "SELECT x.matched, least(x.after, " + limit + ") AS returned,\n" +
			"  CASE WHEN x.after > " + limit + " AND x.r = x.matched - x.after + 1 THEN x.last END AS next,\n" +
			"  CASE WHEN x.r > x.matched - x.after AND x.matched <= " + upTo + " THEN " + c.encode(e) + " END AS feature\n" +
			"FROM (\n" + counted + "\n) x\n" +
			"WHERE x.r = 1 OR x.matched <= " + upTo + " AND x.r > x.matched - x.after AND x.r <= x.matched - x.after + " + limit + "\n" +
			// The window's order: no sort of its own.
			"ORDER BY x.id COLLATE \"C\""
		c.denseSQL[e] = "SELECT x.matched, least(x.n, " + limit + ") AS returned,\n" +
			"  CASE WHEN x.n > " + limit + " AND x.r = 1 THEN x.last END AS next,\n" +
			"  " + c.encode(e) + " AS feature\n" +
			"FROM (\n" + page + "\n) x\n" +
			"WHERE x.r <= " + limit + "\n" +
			"ORDER BY x.id COLLATE \"C\""
		c.itemSQL[e] = "SELECT " + c.encode(e) + "\nFROM (\n" + one + "\n) x"
	}
	// string_agg takes the features in the order of the subquery's rows.
	c.fcSQL = `SELECT '{"type":"FeatureCollection","numberMatched":' || coalesce(max(x.matched), 0) || ',"features":[' ||` +
		"\n  coalesce(string_agg(ST_AsGeoJSON(x.feature, 'geom', 15), ','), '') || ']}'\n" +
		"FROM (\nSELECT feature, count(*) OVER () AS matched\nFROM " + c.from +
		"\n" + lateralRecord("feature", append([]Column{{Name: "geom", sql: c.geom}}, c.Columns...)) +
		"\nWHERE " + strings.Join(where, "\n  AND ") + "\nORDER BY " + id + "\nLIMIT " + firstLimit + "\n) x"
	days := "NULL::text, NULL::text"
	if c.start != "" {
		days = rfc3339Day("min("+c.start+")") + ", " + rfc3339Day("max("+c.end+")")
	}
	c.extentSQL = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last\nFROM (SELECT ST_Extent(" + c.geom +
		") AS e, " + days + " FROM " + c.from + " WHERE " + c.where + ") x (e, first, last)"
}

// rfc3339Day is the SQL expression that writes the date day as RFC 3339
// spells a full date (YYYY-MM-DD), or NULL when the date lies outside the
// years 1 to 9999, which RFC 3339 cannot spell: PostgreSQL's own text of
// such a date ("0001-01-01 BC", "10000-01-01") is no RFC 3339 date at
// all. A temporal extent's end that cannot be written is then open, which
// still holds every feature.
func rfc3339Day(day string) string {
	return "CASE WHEN " + day + " BETWEEN DATE '0001-01-01' AND DATE '9999-12-31' THEN to_char(" + day + ", 'YYYY-MM-DD') END"
}

// encode is the SQL expression that writes the feature of a row x (x.id,
// x.geom, x.properties: see build) as e says, a text.
func (c *Collection) encode(e Encoding) string {
	if e == GeoJSON {
		// A feature without a geometry has a null one.
		return `'{"type":"Feature","id":' || to_json(x.id) || ',"geometry":' || coalesce(ST_AsGeoJSON(x.geom, 15), 'null') ||` +
			"\n    ',\"properties\":' || to_json(x.properties) || '}'"
	}
	cells := make([]string, 0, len(c.Columns)+1)
	for _, col := range c.Columns {
		v := "(x.properties)." + pgx.Identifier{col.Name}.Sanitize()
		switch col.Type {
		case "string":
			v = `'"' || ` + csvFormulaGuard(v) + ` || replace(` + v + `, '"', '""') || '"'`
		case "number":
			// float8 to numeric keeps 15 significant digits, and numeric
			// never writes an exponent.
			v += "::numeric::text"
		default:
			v += "::text" // integers; booleans as true and false
		}
		cells = append(cells, "coalesce("+v+", '')")
	}
	if c.GeometryType == "Point" {
		cells = append(cells, "coalesce(ST_X(x.geom)::numeric::text || ',' || ST_Y(x.geom)::numeric::text, ',')")
	} else {
		cells = append(cells, `coalesce('"' || ST_AsText(x.geom) || '"', '')`)
	}
	return strings.Join(cells, " || ',' ||\n    ")
}

// csvFormulaGuard is the SQL expression of the prefix of the text cell v:
// a single quote when v begins with a character a spreadsheet reads as
// the start of a formula (=, +, -, @, tab, carriage return: OWASP's list
// against CSV injection), else the empty text. A name imported as
// =HYPERLINK(…) then shows as text instead of running when the file is
// opened in Excel, which is what ?f=csv is written for. Only text cells
// take it: numbers are written bare, and a bare number such as -5 is a
// value to a spreadsheet, never a formula, so a negative figure or
// longitude stays a number.
func csvFormulaGuard(v string) string {
	return `CASE WHEN left(` + v + `, 1) IN ('=', '+', '-', '@', E'\t', E'\r') THEN '''' ELSE '' END`
}

// CSVHeader is the header record of c's features as CSV, the names of
// the cells, without its line end. Column names are plain identifiers:
// none needs quoting.
func (c *Collection) CSVHeader() string {
	names := make([]string, 0, len(c.Columns)+2)
	for _, col := range c.Columns {
		names = append(names, col.Name)
	}
	if c.GeometryType == "Point" {
		names = append(names, "lon", "lat")
	} else {
		names = append(names, "wkt")
	}
	return strings.Join(names, ",")
}

// lateralRecord joins to each row the record of cols called name, which
// to_json(name) writes as a JSON object whose members are the columns,
// in order and named as they are, without a space between them.
func lateralRecord(name string, cols []Column) string {
	return "CROSS JOIN LATERAL (SELECT " + selectList(cols) + ") " + name
}

// propertiesSQL lists, as JSON objects in id order, the properties of c's
// features whose filter param is $1.
func (c *Collection) propertiesSQL(param string) string {
	for _, f := range c.Filters {
		if f.Param == param {
			return "SELECT to_json(properties)\nFROM " + c.from + "\n" + lateralRecord("properties", c.Columns) +
				"\nWHERE " + c.where + " AND " + f.column + " " + f.op + " $1\nORDER BY " + c.key + ` COLLATE "C"`
		}
	}
	panic("geo: " + c.ID + " has no filter " + param)
}
