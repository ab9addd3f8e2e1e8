package geo

import (
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// Formats of a collection's items: GeoJSON, or CSV for spreadsheets.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// Limits on the features of one page of items.
const (
	DefaultLimit = 100
	MaxLimit     = 10_000
)

// maxIDBytes bounds a feature id given back as a cursor or in a path; the
// longest id stored is far shorter.
const maxIDBytes = 64

// Query is a validated request for a collection's features: where, which,
// how many, from which feature on, in which format. Its zero filters match
// everything. ParseQuery makes one; Encode gives it back in normal form.
type Query struct {
	Collection *Collection
	// BBox keeps the features whose geometry intersects it, in WGS 84
	// longitude/latitude; nil keeps them all.
	BBox *orb.Bound
	// Limit is the most features one page holds.
	Limit int
	// Cursor is the id of the last feature of the previous page: the page
	// holds the features whose ids sort after it. "" starts at the first.
	Cursor string
	// Format is FormatJSON or FormatCSV.
	Format string
	// Datetime is the datetime parameter as given, "" for none; from and
	// to are the first and last days it covers ("2006-01-02", nil when
	// open), which the collection's Dates are compared with.
	Datetime string
	from, to any
	// filters holds a value per Collection.Filters entry, nil where the
	// request gave none.
	filters []any
}

// ParseQuery parses the query string raw of a request for c's items. It
// returns an EInvalid error naming the parameter and what it allows when
// raw is malformed, repeats or does not know a parameter, or a value is
// out of range.
func ParseQuery(c *Collection, raw string) (Query, error) {
	v, err := parseParams(raw, c.params)
	if err != nil {
		return Query{}, err
	}
	q := newQuery(c)
	if s, ok := v["bbox"]; ok {
		if q.BBox, err = parseBBox(s); err != nil {
			return Query{}, err
		}
	}
	if s, ok := v["datetime"]; ok {
		if q.from, q.to, err = parseDatetime(s); err != nil {
			return Query{}, err
		}
		q.Datetime = s
	}
	if s, ok := v["limit"]; ok {
		if q.Limit, err = parseLimit(s, MaxLimit); err != nil {
			return Query{}, err
		}
	}
	if s, ok := v["cursor"]; ok {
		if !validID(s) {
			return Query{}, Errorf(EInvalid, "cursor must be the id of a feature, as the next link gives it (got %s)", clip(s))
		}
		q.Cursor = s
	}
	if s, ok := v["f"]; ok {
		if q.Format, err = parseFormat(s, FormatJSON, FormatCSV); err != nil {
			return Query{}, err
		}
	}
	for i, f := range c.Filters {
		s, ok := v[f.Param]
		if !ok {
			continue
		}
		val, ok := f.kind.parse(s)
		if !ok {
			return Query{}, Errorf(EInvalid, "%s must be %s (got %s)", f.Param, f.kind.allowed, clip(s))
		}
		q.filters[i] = val
	}
	return q, nil
}

// newQuery is the query of c's first page with no filter, as JSON.
func newQuery(c *Collection) Query {
	return Query{Collection: c, Limit: DefaultLimit, Format: FormatJSON, filters: make([]any, len(c.Filters))}
}

// Encode is q as a query string in normal form: parameters sorted, the
// limit always given, defaults otherwise left out, values spelled the one
// way ParseQuery reads them back to an equal Query.
func (q Query) Encode() string {
	v := url.Values{"limit": {strconv.Itoa(q.Limit)}}
	if q.BBox != nil {
		v.Set("bbox", strings.Join([]string{
			formatFloat(q.BBox.Min[0]), formatFloat(q.BBox.Min[1]),
			formatFloat(q.BBox.Max[0]), formatFloat(q.BBox.Max[1]),
		}, ","))
	}
	if q.Datetime != "" {
		v.Set("datetime", q.Datetime)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Format != FormatJSON {
		v.Set("f", q.Format)
	}
	for i, f := range q.Collection.Filters {
		if q.filters[i] != nil {
			v.Set(f.Param, formatValue(q.filters[i]))
		}
	}
	return v.Encode()
}

// After is q for the page that follows the feature with id.
func (q Query) After(id string) Query {
	q.Cursor = id
	return q
}

// As is q in another format.
func (q Query) As(format string) Query {
	q.Format = format
	return q
}

// with is q with the filter param set to value, for queries made in code.
func (q Query) with(param string, value any) Query {
	i := slices.IndexFunc(q.Collection.Filters, func(f Filter) bool { return f.Param == param })
	q.filters = slices.Clone(q.filters)
	q.filters[i] = value
	return q
}

// where is q's bounding box (the whole world when it has none), filter
// values and days in the order the collection's SQL numbers its
// parameters: $1 the box, then one per filter, then, for a collection
// with dates, the first and last day of datetime.
func (q Query) where() []any {
	box := []float64{-180, -90, 180, 90}
	if q.BBox != nil {
		box = []float64{q.BBox.Min[0], q.BBox.Min[1], q.BBox.Max[0], q.BBox.Max[1]}
	}
	args := append([]any{box}, q.filters...)
	if q.Collection.start != "" {
		args = append(args, q.from, q.to)
	}
	return args
}

// pageArgs are the parameters of the collection's page SQL: those of
// where, the cursor, and one more than the limit, the extra row telling
// whether another page follows.
func (q Query) pageArgs() []any {
	var cursor any
	if q.Cursor != "" {
		cursor = q.Cursor
	}
	return append(q.where(), cursor, q.Limit+1)
}

// ParseFormat checks the query string raw of a request that takes no
// parameter but f, and returns f: one of formats, the first when raw has
// none. Any other parameter, or another f, is an EInvalid error.
func ParseFormat(raw string, formats ...string) (string, error) {
	v, err := parseParams(raw, []string{"f"})
	if err != nil {
		return "", err
	}
	if s, ok := v["f"]; ok {
		return parseFormat(s, formats...)
	}
	return formats[0], nil
}

// parseParams splits the query string raw into its parameters, each given
// once and each one of allowed. The errors say which parameter is wrong.
func parseParams(raw string, allowed []string) (map[string]string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, Errorf(EInvalid, "malformed query string: %v", err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	// Sorted, so that a request with several faults always hears of the same one.
	slices.Sort(keys)
	v := make(map[string]string, len(values))
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return nil, Errorf(EInvalid, "unknown query parameter %s: this resource takes %s", clip(k), strings.Join(allowed, ", "))
		}
		if len(values[k]) > 1 {
			return nil, Errorf(EInvalid, "%s is given %d times: give it once", k, len(values[k]))
		}
		v[k] = values[k][0]
	}
	return v, nil
}

// parseBBox reads minLon,minLat,maxLon,maxLat in WGS 84 degrees, or the
// six numbers of a box with heights (minLon,minLat,minHeight,maxLon,
// maxLat,maxHeight), whose heights are checked and then set aside: the
// features are flat.
func parseBBox(s string) (*orb.Bound, error) {
	const want = "bbox must be minLon,minLat,maxLon,maxLat in WGS 84 degrees (or six numbers, with minimum and maximum heights after the latitudes)"
	parts := strings.Split(s, ",")
	if len(parts) != 4 && len(parts) != 6 {
		return nil, Errorf(EInvalid, "%s (got %d values)", want, len(parts))
	}
	all := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, Errorf(EInvalid, "%s (value %d, %s, is not a finite number)", want, i+1, clip(p))
		}
		all[i] = f
	}
	n := all
	if len(all) == 6 {
		if all[2] > all[5] {
			return nil, Errorf(EInvalid, "%s: the minimum must not exceed the maximum", want)
		}
		n = []float64{all[0], all[1], all[3], all[4]}
	}
	switch {
	case n[0] < -180 || n[0] > 180 || n[2] < -180 || n[2] > 180:
		return nil, Errorf(EInvalid, "%s: longitudes lie within -180…180", want)
	case n[1] < -90 || n[1] > 90 || n[3] < -90 || n[3] > 90:
		return nil, Errorf(EInvalid, "%s: latitudes lie within -90…90", want)
	case n[0] > n[2] || n[1] > n[3]:
		return nil, Errorf(EInvalid, "%s: the minimum must not exceed the maximum", want)
	}
	return &orb.Bound{Min: orb.Point{n[0], n[1]}, Max: orb.Point{n[2], n[3]}}, nil
}

// chinaTime is China Standard Time, the zone of the days that features'
// dates name (no daylight saving since 1991).
var chinaTime = time.FixedZone("CST", 8*60*60)

// parseDatetime reads OGC API's datetime: an instant, or an interval
// start/end whose open ends are ".." or empty, each a date-time of RFC
// 3339 or a date. It returns the first and last days covered, in China
// Standard Time, nil for an open end: the features' times are dates.
func parseDatetime(s string) (from, to any, err error) {
	const want = "datetime must be an RFC 3339 date-time or date, or an interval start/end of them with .. for an open end"
	day := func(p string) (any, error) {
		if p == ".." || p == "" {
			return nil, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, p); err == nil {
			return t.In(chinaTime).Format(time.DateOnly), nil
		}
		if t, err := time.Parse(time.DateOnly, p); err == nil {
			return t.Format(time.DateOnly), nil
		}
		return nil, Errorf(EInvalid, "%s (got %s)", want, clip(s))
	}
	start, end, interval := strings.Cut(s, "/")
	if !interval {
		if start == ".." || start == "" {
			return nil, nil, Errorf(EInvalid, "%s: an instant cannot be open (got %s)", want, clip(s))
		}
		from, err = day(start)
		return from, from, err
	}
	if from, err = day(start); err != nil {
		return nil, nil, err
	}
	if to, err = day(end); err != nil {
		return nil, nil, err
	}
	// Dates in one spelling compare as strings.
	if from != nil && to != nil && from.(string) > to.(string) {
		return nil, nil, Errorf(EInvalid, "%s: the start must not come after the end (got %s)", want, clip(s))
	}
	return from, to, nil
}

// parseLimit reads a page size from 1 to most; an out-of-range size is an
// error rather than quietly clamped, so a client learns of its mistake.
func parseLimit(s string, most int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, Errorf(EInvalid, "limit must be an integer from 1 to %d (got %s)", most, clip(s))
	}
	return n, nil
}

func parseFormat(s string, formats ...string) (string, error) {
	if !slices.Contains(formats, s) {
		return "", Errorf(EInvalid, "f must be one of %s (got %s)", strings.Join(formats, ", "), clip(s))
	}
	return s, nil
}

// validID reports whether s can be a feature id: short, UTF-8, no control
// characters (PostgreSQL text cannot hold NUL).
func validID(s string) bool {
	if s == "" || len(s) > maxIDBytes || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// clip quotes s for an error message, cut short if long, so a huge or
// binary parameter cannot flood the response or the log.
func clip(s string) string {
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

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatValue spells a parsed filter value as ParseQuery reads it.
func formatValue(v any) string {
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
	values  []string // an enumeration's values, in order; nil otherwise
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

// enumKind is one of values.
func enumKind(values ...string) kind {
	return kind{
		sqlType: "text",
		allowed: "one of " + strings.Join(values, ", "),
		values:  values,
		parse:   func(s string) (any, bool) { return s, slices.Contains(values, s) },
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
