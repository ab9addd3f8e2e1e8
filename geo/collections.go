package geo

import (
	"encoding/json"
	"fmt"
	"math"
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
