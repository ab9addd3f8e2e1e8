package geo

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// maxIDBytes bounds a feature id given back as a cursor or in a path; the
// longest id stored is far shorter.
const maxIDBytes = 64

// Selection chooses features of a collection: where, which, from which
// feature on and how many. Its zero filters match everything. Reading it
// from a request is the web layer's job; geo binds it to SQL.
type Selection struct {
	Collection *Collection
	// BBox keeps the features whose geometry intersects it, in WGS 84
	// longitude/latitude; nil keeps them all.
	BBox *orb.Bound
	// From and To are the first and last days ("2006-01-02", China
	// Standard Time) the features' days must meet, "" for an open end;
	// collections without Dates ignore them.
	From, To string
	// Values holds a value per Collection.Filters entry, as the filter's
	// Parse returns it, nil where none is asked for.
	Values []any
	// Cursor is the id of the last feature of the previous page: the page
	// holds the features whose ids sort after it. "" starts at the first.
	Cursor string
	// Limit is the most features one page holds.
	Limit int
	// CountUpTo is the most features Items counts for the page's
	// numberMatched (0 means MaxMatched): past it, the count would cost
	// the whole box on every page, and the page says nothing instead.
	CountUpTo int
}

// MaxMatched is the most features a page's numberMatched counts unless
// the selection says otherwise (Selection.CountUpTo). Counting stops
// there, so a page over a box that holds a province's villages costs
// what one over a county's does.
const MaxMatched = 10000

// Select is the selection of c's first page of at most limit features,
// with no filter.
func (c *Collection) Select(limit int) Selection {
	return Selection{Collection: c, Limit: limit, Values: make([]any, len(c.Filters))}
}

// where is s's bounding box (the whole world when it has none), filter
// values and days in the order the collection's SQL numbers its
// parameters: $1 to $4 the box's corners, then one per filter, then, for
// a collection with dates, the first and last day. The page's cursor and
// limit follow (pageArgs), so there is room for them.
func (s Selection) where() []any {
	box := orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}
	if s.BBox != nil {
		box = *s.BBox
	}
	args := make([]any, 0, 4+len(s.Values)+4)
	args = append(args, box.Min[0], box.Min[1], box.Max[0], box.Max[1])
	args = append(args, s.Values...)
	if s.Collection.start != "" {
		args = append(args, nullIfEmpty(s.From), nullIfEmpty(s.To))
	}
	return args
}

// pageArgs are the parameters of the collection's items SQL: those of
// where, the cursor, the limit and how far to count.
func (s Selection) pageArgs() []any {
	return append(s.where(), nullIfEmpty(s.Cursor), s.Limit, s.countUpTo())
}

// countUpTo is the most features s counts: CountUpTo, or MaxMatched.
func (s Selection) countUpTo() int {
	if s.CountUpTo <= 0 {
		return MaxMatched
	}
	return s.CountUpTo
}

// ValidID reports whether s can be a feature id: short, UTF-8, no control
// characters (PostgreSQL text cannot hold NUL).
func ValidID(s string) bool {
	if s == "" || len(s) > maxIDBytes || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// Quote quotes s for an error message, cut short if long, so a huge or
// binary value cannot flood the response or the log.
func Quote(s string) string {
	const most = 40
	if len(s) > most {
		cut := most
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// Parse reads the text s of a value of f: a string, an int or a bool, as
// the filter's SQL compares it. A value f does not take is an EInvalid
// error naming the parameter and what it allows.
func (f Filter) Parse(s string) (any, error) {
	v, ok := f.kind.parse(s)
	if !ok {
		return nil, Errorf(EInvalid, "%s must be %s (got %s)", f.Param, f.kind.allowed, Quote(s))
	}
	return v, nil
}

// Format spells a value Parse returned as Parse reads it back.
func (f Filter) Format(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	default:
		return v.(string)
	}
}

// kind is what a filter's values are: how to read one, its SQL type, and
// how an error message says what is allowed.
type kind struct {
	sqlType string
	allowed string
	enum    *Enum // the enumeration of the values allowed; nil for other kinds
	parse   func(string) (any, bool)
}

// codeKind is a statistical code of the given number of digits.
func codeKind(digits int, what string) kind {
	re := regexp.MustCompile(`^[0-9]{` + strconv.Itoa(digits) + `}$`)
	return kind{
		sqlType: "text",
		allowed: "a " + strconv.Itoa(digits) + "-digit " + what + " code",
		parse:   func(s string) (any, bool) { return s, re.MatchString(s) },
	}
}

// textKind is any text that can be an id (ValidID), such as a site code.
func textKind(what string) kind {
	return kind{sqlType: "text", allowed: what, parse: func(s string) (any, bool) { return s, ValidID(s) }}
}

// enumKind is one of e's values.
func enumKind(e *Enum) kind {
	return kind{
		sqlType: "text",
		allowed: "one of " + strings.Join(e.Strings(), ", "),
		enum:    e,
		parse:   func(s string) (any, bool) { return s, e.Has(s) },
	}
}

// boolKind is true or false, spelled so.
var boolKind = kind{
	sqlType: "boolean",
	allowed: "true or false",
	parse:   func(s string) (any, bool) { return s == "true", s == "true" || s == "false" },
}

// percentKind is a whole percentage, 0 to 100.
var percentKind = kind{
	sqlType: "integer",
	allowed: "an integer from 0 to 100",
	parse: func(s string) (any, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 0 && n <= 100
	},
}
