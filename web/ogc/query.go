// Package ogc speaks OGC API – Features for the web server: it reads the
// query string of an items request (bbox, datetime, limit, cursor, f and
// the collection's filters) into a geo.Selection, writes a query back in
// its one normal form for links, and splits the plain query strings of
// the server's other JSON endpoints under the same rules (each parameter
// known and given once), so that every endpoint answers a malformed query
// alike: a geo.EInvalid error naming the parameter.
package ogc

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/geo"
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

// general are the parameters every collection's items take, before its
// filters.
var general = []string{"bbox", "datetime", "limit", "cursor", "f", "at"}

// Query is a validated request for a collection's items: the features it
// selects, and the format to write them in. ParseItems makes one; Encode
// gives it back in normal form.
type Query struct {
	geo.Selection
	// Format is FormatJSON or FormatCSV.
	Format string
	// Datetime is the datetime parameter as given, "" for none; the
	// selection holds the days it covers.
	Datetime string
	// At is the moment the features are read as of (the at parameter);
	// nil for now.
	At *time.Time
}

// ItemsParams are the query parameters c's items take, in a fixed order:
// the general ones, then c's filters.
func ItemsParams(c *geo.Collection) []string {
	params := slices.Clone(general)
	for _, f := range c.Filters {
		params = append(params, f.Param)
	}
	return params
}

// ParseItems parses the query string raw of a request for c's items. It
// returns an EInvalid error naming the parameter and what it allows when
// raw is malformed, repeats or does not know a parameter, or a value is
// out of range.
func ParseItems(c *geo.Collection, raw string) (Query, error) {
	v, err := Params(raw, ItemsParams(c)...)
	if err != nil {
		return Query{}, err
	}
	q := Query{Selection: c.Select(DefaultLimit), Format: FormatJSON}
	if s, ok := v["bbox"]; ok {
		if q.BBox, err = parseBBox(s); err != nil {
			return Query{}, err
		}
	}
	if s, ok := v["datetime"]; ok {
		if q.From, q.To, err = parseDatetime(s); err != nil {
			return Query{}, err
		}
		q.Datetime = s
	}
	if s, ok := v["limit"]; ok {
		if q.Limit, err = ParseLimit(s, MaxLimit); err != nil {
			return Query{}, err
		}
	}
	if s, ok := v["cursor"]; ok {
		if !geo.ValidID(s) {
			return Query{}, geo.Errorf(geo.EInvalid, "cursor must be the id of a feature, as the next link gives it (got %s)", geo.Quote(s))
		}
		q.Cursor = s
	}
	if s, ok := v["f"]; ok {
		if q.Format, err = parseFormat(s, FormatJSON, FormatCSV); err != nil {
			return Query{}, err
		}
	}
	if q.At, err = ParseAt(v); err != nil {
		return Query{}, err
	}
	for i, f := range c.Filters {
		if s, ok := v[f.Param]; ok {
			if q.Values[i], err = f.Parse(s); err != nil {
				return Query{}, err
			}
		}
	}
	return q, nil
}

// Encode is q as a query string in normal form: parameters sorted, the
// limit always given, defaults otherwise left out, values spelled the one
// way ParseItems reads them back to an equal Query.
func (q Query) Encode() string { return string(appendQuery(nil, q.params())) }

// param is a query parameter as Encode writes it.
type param struct{ key, value string }

// params are Encode's parameters, sorted by name.
func (q Query) params() []param {
	params := make([]param, 0, 8)
	params = append(params, param{"limit", strconv.Itoa(q.Limit)})
	if q.BBox != nil {
		params = append(params, param{"bbox", formatFloat(q.BBox.Min[0]) + "," + formatFloat(q.BBox.Min[1]) + "," +
			formatFloat(q.BBox.Max[0]) + "," + formatFloat(q.BBox.Max[1])})
	}
	if q.Datetime != "" {
		params = append(params, param{"datetime", q.Datetime})
	}
	if q.Cursor != "" {
		params = append(params, param{"cursor", q.Cursor})
	}
	if q.Format != FormatJSON {
		params = append(params, param{"f", q.Format})
	}
	if q.At != nil {
		params = append(params, param{"at", geo.FormatMoment(*q.At)})
	}
	for i, f := range q.Collection.Filters {
		if q.Values[i] != nil {
			params = append(params, param{f.Param, f.Format(q.Values[i])})
		}
	}
	slices.SortFunc(params, func(a, b param) int { return strings.Compare(a.key, b.key) })
	return params
}

// withParam is params, sorted, with key set to value: the parameters of
// another page or format, without encoding the rest again.
func withParam(params []param, key, value string) []param {
	i, found := slices.BinarySearchFunc(params, key, func(p param, key string) int { return strings.Compare(p.key, key) })
	if found {
		params = slices.Clone(params)
		params[i].value = value
		return params
	}
	return slices.Insert(slices.Clip(params), i, param{key, value})
}

// appendQuery appends params as a query string, as url.Values.Encode
// writes sorted parameters. What it appends is escaped for a URL: it
// needs no escaping in a JSON string.
func appendQuery(b []byte, params []param) []byte {
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(append(append(b, url.QueryEscape(p.key)...), '='), url.QueryEscape(p.value)...)
	}
	return b
}

// After is q for the page that follows the feature with id.
func (q Query) After(id string) Query {
	q.Cursor = id
	return q
}

// ParseFormat checks the query string raw of a request that takes no
// parameter but f, and returns f: one of formats, the first when raw has
// none. Any other parameter, or another f, is an EInvalid error.
func ParseFormat(raw string, formats ...string) (string, error) {
	v, err := Params(raw, "f")
	if err != nil {
		return "", err
	}
	return FormatOf(v, formats...)
}

// FormatOf reads the f parameter of v, split by Params: one of formats,
// the first when v has none; another is an EInvalid error.
func FormatOf(v map[string]string, formats ...string) (string, error) {
	if s, ok := v["f"]; ok {
		return parseFormat(s, formats...)
	}
	return formats[0], nil
}

// ParseFormatAt checks the query string raw of a request that takes no
// parameter but f and at, and returns f (one of formats, the first when
// raw has none) and the moment at names (nil for none: now).
func ParseFormatAt(raw string, formats ...string) (string, *time.Time, error) {
	v, err := Params(raw, "f", "at")
	if err != nil {
		return "", nil, err
	}
	at, err := ParseAt(v)
	if err != nil {
		return "", nil, err
	}
	f, err := FormatOf(v, formats...)
	return f, at, err
}

// ParseAt reads the at parameter of v (see geo.ParseMoment): nil when
// there is none. Whether the map's history holds at the moment is the
// database's to say (geo.CheckMoment).
func ParseAt(v map[string]string) (*time.Time, error) {
	s, ok := v["at"]
	if !ok {
		return nil, nil
	}
	t, err := geo.ParseMoment(s, time.Now())
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Params splits the query string raw into its parameters, each given once
// and each one of allowed. The errors say which parameter is wrong.
func Params(raw string, allowed ...string) (map[string]string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, geo.Errorf(geo.EInvalid, "malformed query string: %v", err)
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
			return nil, geo.Errorf(geo.EInvalid, "unknown query parameter %s: this resource takes %s", geo.Quote(k), strings.Join(allowed, ", "))
		}
		if len(values[k]) > 1 {
			return nil, geo.Errorf(geo.EInvalid, "%s is given %d times: give it once", k, len(values[k]))
		}
		v[k] = values[k][0]
	}
	return v, nil
}

// ParseLimit reads a page size from 1 to most; an out-of-range size is an
// error rather than quietly clamped, so a client learns of its mistake.
func ParseLimit(s string, most int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, geo.Errorf(geo.EInvalid, "limit must be an integer from 1 to %d (got %s)", most, geo.Quote(s))
	}
	return n, nil
}

// parseBBox reads minLon,minLat,maxLon,maxLat in WGS 84 degrees, or the
// six numbers of a box with heights (minLon,minLat,minHeight,maxLon,
// maxLat,maxHeight), whose heights are checked and then set aside: the
// features are flat.
func parseBBox(s string) (*orb.Bound, error) {
	const want = "bbox must be minLon,minLat,maxLon,maxLat in WGS 84 degrees (or six numbers, with minimum and maximum heights after the latitudes)"
	parts := strings.Split(s, ",")
	if len(parts) != 4 && len(parts) != 6 {
		return nil, geo.Errorf(geo.EInvalid, "%s (got %d values)", want, len(parts))
	}
	all := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, geo.Errorf(geo.EInvalid, "%s (value %d, %s, is not a finite number)", want, i+1, geo.Quote(p))
		}
		all[i] = f
	}
	n := all
	if len(all) == 6 {
		if all[2] > all[5] {
			return nil, geo.Errorf(geo.EInvalid, "%s: the minimum must not exceed the maximum", want)
		}
		n = []float64{all[0], all[1], all[3], all[4]}
	}
	switch {
	case n[0] < -180 || n[0] > 180 || n[2] < -180 || n[2] > 180:
		return nil, geo.Errorf(geo.EInvalid, "%s: longitudes lie within -180…180", want)
	case n[1] < -90 || n[1] > 90 || n[3] < -90 || n[3] > 90:
		return nil, geo.Errorf(geo.EInvalid, "%s: latitudes lie within -90…90", want)
	case n[0] > n[2] || n[1] > n[3]:
		return nil, geo.Errorf(geo.EInvalid, "%s: the minimum must not exceed the maximum", want)
	}
	return &orb.Bound{Min: orb.Point{n[0], n[1]}, Max: orb.Point{n[2], n[3]}}, nil
}

// China is China Standard Time, the zone of the days that features'
// dates name (no daylight saving since 1991), and of any day a query gives.
var China = time.FixedZone("CST", 8*60*60)

// parseDatetime reads OGC API's datetime: an instant, or an interval
// start/end whose open ends are ".." or empty, each a date-time of RFC
// 3339 or a date. It returns the first and last days covered, in China
// Standard Time, "" for an open end: the features' times are dates. A
// time whose year, as given or as China's day, lies outside 1 to 9999 is
// refused: RFC 3339 has no year 0 (Go reads 0000 all the same, and
// PostgreSQL, which has no year 0 either, takes it for 1 BC or refuses
// it), and a day after 9999 cannot be written back.
func parseDatetime(s string) (from, to string, err error) {
	const want = "datetime must be an RFC 3339 date-time or date, or an interval start/end of them with .. for an open end"
	day := func(p string) (string, error) {
		if p == ".." || p == "" {
			return "", nil
		}
		outOfRange := geo.Errorf(geo.EInvalid, "%s: years lie within 1…9999 (got %s)", want, geo.Quote(s))
		t, err := time.Parse(time.RFC3339Nano, p)
		if err == nil {
			// The year as given, then China's day's, which the zone may move.
			if !yearInRange(t) {
				return "", outOfRange
			}
			t = t.In(China)
		} else if t, err = time.Parse(time.DateOnly, p); err != nil {
			return "", geo.Errorf(geo.EInvalid, "%s (got %s)", want, geo.Quote(s))
		}
		if !yearInRange(t) {
			return "", outOfRange
		}
		return t.Format(time.DateOnly), nil
	}
	start, end, interval := strings.Cut(s, "/")
	if !interval {
		if start == ".." || start == "" {
			return "", "", geo.Errorf(geo.EInvalid, "%s: an instant cannot be open (got %s)", want, geo.Quote(s))
		}
		from, err = day(start)
		return from, from, err
	}
	if from, err = day(start); err != nil {
		return "", "", err
	}
	if to, err = day(end); err != nil {
		return "", "", err
	}
	// Dates in one spelling compare as strings.
	if from != "" && to != "" && from > to {
		return "", "", geo.Errorf(geo.EInvalid, "%s: the start must not come after the end (got %s)", want, geo.Quote(s))
	}
	return from, to, nil
}

// yearInRange reports whether t's year is one RFC 3339 writes, 1 to 9999.
func yearInRange(t time.Time) bool { return t.Year() >= 1 && t.Year() <= 9999 }

func parseFormat(s string, formats ...string) (string, error) {
	if !slices.Contains(formats, s) {
		return "", geo.Errorf(geo.EInvalid, "f must be one of %s (got %s)", strings.Join(formats, ", "), geo.Quote(s))
	}
	return s, nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
