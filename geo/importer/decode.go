package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/encoding/wkt"

	"github.com/zunyi/battlemap/geo"
)

// Format is the format of an import file.
type Format int

// The formats an import reads.
const (
	// GeoJSON is a FeatureCollection whose features carry the fields as
	// properties. It is UTF-8, with or without a byte-order mark.
	GeoJSON Format = iota
	// CSV has a header row naming the fields, and lon and lat columns
	// (WGS 84 degrees) or a wkt column for the geometry. It is UTF-8, with
	// or without a byte-order mark.
	CSV
)

// Position locates a feature in its file: Index for GeoJSON, Line for CSV.
// Neither is set for a problem with the whole file.
type Position struct {
	// Index is the feature's 0-based index in the FeatureCollection's
	// features.
	Index *int `json:"index,omitempty"`
	// Line is the 1-based line where the feature's CSV row starts (the
	// header is line 1).
	Line int `json:"line,omitempty"`
}

// String names the position for a person: "feature 3" or "line 4".
func (p Position) String() string {
	switch {
	case p.Index != nil:
		return "feature " + strconv.Itoa(*p.Index)
	case p.Line > 0:
		return "line " + strconv.Itoa(p.Line)
	}
	return "the file"
}

// Rejection is one reason a feature, or the whole file, was refused. A
// feature with several problems has one Rejection for each.
type Rejection struct {
	Position
	// Code is the feature's code, when it has one.
	Code string `json:"code,omitempty"`
	// Field names the field at fault ("geometry" for the geometry); empty
	// when the fault is the feature's or the file's as a whole.
	Field string `json:"field,omitempty"`
	// Reason says what is wrong, for a person to read.
	Reason string `json:"reason"`
}

// feature is one GeoJSON feature or CSV row as read, before validation:
// its fields as text, its geometry, and the problems reading it found.
type feature struct {
	Position
	props    map[string]string
	geometry geom.T
	// geomField and geomReason name a geometry that could not be read;
	// validation then reports it instead of checking the geometry.
	geomField, geomReason string
	problems              []Rejection
}

// reject records a problem with field (or with the whole feature, when
// field is "").
func (f *feature) reject(field, reason string) {
	f.problems = append(f.problems, Rejection{Position: f.Position, Field: field, Reason: reason})
}

// tooMany is the error for a file with more than n features.
func tooMany(n int) error {
	return geo.Errorf(geo.ETooLarge, "the file has more than %d features, the most one import takes", n)
}

// decodeGeoJSON reads a FeatureCollection held in data (see
// streamGeoJSON) into a slice of features. More than maxFeatures
// features is an ETooLarge error.
func decodeGeoJSON(data []byte, maxFeatures int) ([]feature, []Rejection, error) {
	return collect(maxFeatures, func(each func(feature) error) ([]Rejection, error) {
		return streamGeoJSON(bytes.NewReader(data), each)
	})
}

// collect gathers the features stream hands to each into a slice, with
// the problems of the file stream returns. More than maxFeatures
// features is an ETooLarge error.
func collect(maxFeatures int, stream func(each func(feature) error) ([]Rejection, error)) ([]feature, []Rejection, error) {
	var feats []feature
	rejected, err := stream(func(f feature) error {
		if len(feats) == maxFeatures {
			return tooMany(maxFeatures)
		}
		feats = append(feats, f)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return feats, rejected, nil
}

// streamGeoJSON reads a FeatureCollection from r (UTF-8, with or without
// a byte-order mark), feature by feature, handing each to each as soon as
// it is read, so that a file of any size is read in the memory of one
// feature, and a broken feature is reported with its index while the
// others are still read. A file that is not a FeatureCollection, whose
// JSON breaks off, that gives a member of the FeatureCollection twice or
// holds an object with a key twice outside the features, or whose crs
// member names anything but WGS 84 longitude/latitude (see crsProblem),
// gives one rejection, after the features read until then. An error
// from each, or from reading r, ends the reading and is returned.
func streamGeoJSON(r io.Reader, each func(feature) error) ([]Rejection, error) {
	fileProblem := func(p Position, reason string) ([]Rejection, error) {
		return []Rejection{{Position: p, Reason: reason}}, nil
	}
	rd := &readErrors{r: r}
	dec := json.NewDecoder(skipBOM(rd))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if rd.err != nil {
			return nil, rd.err
		}
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: the file is not a JSON object")
	}
	typ, sawFeatures := "", false
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return rd.problem(Position{}, "", err)
		}
		key, _ := tok.(string) // a key, the only token an object's member starts with
		// encoding/json would keep the last of two members silently; a
		// file that says two things is refused instead.
		if seen[key] {
			return fileProblem(Position{}, key+": given twice")
		}
		seen[key] = true
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return rd.problem(Position{}, "type: ", err)
			}
		case "features":
			sawFeatures = true
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				if rd.err != nil {
					return nil, rd.err
				}
				return fileProblem(Position{}, "features: must be an array")
			}
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return rd.problem(Position{Index: &i}, "", err)
				}
				if err := each(decodeFeature(i, raw)); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return rd.problem(Position{}, "", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return rd.problem(Position{}, "", err)
			}
			if path, also, dup := duplicateKey(skip); dup {
				return fileProblem(Position{}, key+"."+path+": given twice"+also)
			}
			if key == "crs" {
				if why := crsProblem(skip); why != "" {
					return fileProblem(Position{}, "crs: "+why)
				}
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return rd.problem(Position{}, "", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if rd.err != nil {
			return nil, rd.err
		}
		return fileProblem(Position{}, "invalid JSON: more data after the FeatureCollection")
	}
	switch {
	case typ != "FeatureCollection":
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: type is "+quote(typ))
	case !sawFeatures:
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: it has no features array")
	}
	return nil, nil
}

// readErrors passes a reader's bytes on and keeps the first error other
// than io.EOF that reading it gave: a decoder reports such an error as a
// broken file, and it is the reading's (a file that cannot be read, a
// body over its limit), not the file's.
type readErrors struct {
	r   io.Reader
	err error
}

// Read implements io.Reader.
func (re *readErrors) Read(p []byte) (int, error) {
	n, err := re.r.Read(p)
	if err != nil && err != io.EOF && re.err == nil {
		re.err = err
	}
	return n, err
}

// problem is the outcome of a decoding error err at p: the reading's own
// error if there was one, else one rejection of the file saying what
// broke, after prefix.
func (re *readErrors) problem(p Position, prefix string, err error) ([]Rejection, error) {
	if re.err != nil {
		return nil, re.err
	}
	return []Rejection{{Position: p, Reason: prefix + jsonProblem(err)}}, nil
}

// skipBOM returns r without the UTF-8 byte-order mark it may begin with.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		br.Discard(len(bom)) // cannot fail: the bytes were peeked
	}
	return br
}

// jsonProblem describes a JSON error for a person: where the syntax
// broke, or that the file ends too early.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "invalid JSON: the file ends in the middle (truncated?)"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, err)
	}
	if p := jsonTypeProblem(err); p != "" {
		return p
	}
	return "invalid JSON"
}

// jsonTypeProblem says which member holds the wrong kind of JSON value,
// in JSON's words: encoding/json's own message names Go types
// ("map[string]interface {}"), which mean nothing to whoever wrote the
// file. It is "" for any other error.
func jsonTypeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return ""
	}
	want := "another kind of value"
	switch te.Type.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "a number"
	case reflect.Bool:
		want = "true or false"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		want = "an object"
	case reflect.Slice, reflect.Array:
		want = "an array"
	}
	if te.Field == "" {
		return fmt.Sprintf("a JSON %s where %s belongs", te.Value, want)
	}
	return fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, want, te.Value)
}

// geometryProblem says why a GeoJSON geometry cannot be read, in GeoJSON's
// words rather than go-geom's or encoding/json's.
func geometryProblem(err error) string {
	var unsupported geojson.ErrUnsupportedType
	var tooLow geojson.ErrDimensionalityTooLow
	var stride geom.ErrStrideMismatch
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &unsupported):
		return "cannot be read: type " + quote(string(unsupported)) + " is not a GeoJSON geometry type"
	case errors.As(err, &tooLow):
		return "cannot be read: a position has fewer than two numbers"
	case errors.As(err, &stride):
		return "cannot be read: its positions have different numbers of coordinates"
	case errors.As(err, &te):
		return "cannot be read: coordinates must be arrays of numbers nested as the geometry's type has them"
	}
	return "cannot be read as a GeoJSON geometry"
}

// decodeFeature reads one GeoJSON feature: its properties as text and its
// geometry with go-geom. Problems are kept in the feature, so that every
// one of them is reported. An object in the feature with a key twice is a
// problem (encoding/json would keep the last silently), and so is a crs
// member, of the feature or of its geometry, naming anything but WGS 84
// longitude/latitude.
func decodeFeature(i int, raw []byte) feature {
	f := feature{Position: Position{Index: &i}, props: map[string]string{}}
	if !utf8.Valid(raw) {
		f.reject("", "invalid UTF-8")
		return f
	}
	// raw is JSON: the decoder that cut it from the file checked that.
	switch path, also, dup := duplicateKey(raw); {
	case !dup:
	case strings.HasPrefix(path, "properties."):
		f.reject(strings.TrimPrefix(path, "properties."), "given twice in the properties: which is meant cannot be told")
	case strings.HasPrefix(path, "geometry."):
		f.reject("geometry", path+": given twice"+also)
	default:
		f.reject(path, "given twice"+also)
	}
	var gf struct {
		Type       string            `json:"type"`
		Geometry   *geojson.Geometry `json:"geometry"`
		Properties map[string]any    `json:"properties"`
		CRS        json.RawMessage   `json:"crs"` // "null" when given as null
	}
	if err := json.Unmarshal(raw, &gf); err != nil {
		f.reject("", "not a GeoJSON Feature: "+jsonProblem(err))
		return f
	}
	if gf.Type != "Feature" {
		f.reject("", "type is "+quote(gf.Type)+", want \"Feature\"")
	}
	if gf.CRS != nil {
		if why := crsProblem(gf.CRS); why != "" {
			f.reject("crs", why)
		}
	}
	if gf.Geometry != nil && gf.Geometry.CRS != nil {
		// go-geom reads a geometry's crs and ignores it.
		if b, err := json.Marshal(gf.Geometry.CRS); err != nil {
			f.reject("geometry", "crs: cannot be read: "+err.Error())
		} else if why := crsProblem(b); why != "" {
			f.reject("geometry", "crs: "+why)
		}
	}
	for name, v := range gf.Properties {
		s, ok := propertyText(v)
		if !ok {
			f.reject(name, "must be a string, number or boolean")
			continue
		}
		f.props[name] = s
	}
	if gf.Geometry != nil {
		g, err := gf.Geometry.Decode()
		if err != nil {
			f.geomField, f.geomReason = "geometry", geometryProblem(err)
		}
		f.geometry = g
	}
	return f
}

// duplicateKey reports whether an object in the JSON value data holds a
// key twice, and the path to the first such key (keys joined by dots,
// array elements not counted); also is ` (also as "K")` when the first
// spelling, K, differs from the second.
// encoding/json keeps the last of two silently, and matches the members
// of a struct without regard to case, so keys are compared that way,
// except those of a feature's properties, which are read by their exact
// names. data must be valid JSON (a json.Decoder that cut it from the
// file checked that): the scan only follows its brackets and strings,
// in one pass without decoding values, since a token walk with
// json.Decoder made reading a file 2.5 times as slow.
func duplicateKey(data []byte) (path, also string, dup bool) {
	type frame struct {
		keys  map[string]string // folded (or exact) key → as written; nil for an array
		key   string            // the member being read, as written
		exact bool              // compare keys as written
	}
	var stack []frame
	wantKey := false
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			// The properties of a feature: the feature is the outermost
			// object, which json.Unmarshal reads into a struct.
			exact := len(stack) == 1 && stack[0].keys != nil && strings.EqualFold(stack[0].key, "properties")
			stack = append(stack, frame{keys: map[string]string{}, exact: exact})
			wantKey = true
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) == 0 {
				return "", "", false // not JSON after all: its decoding says so
			}
			stack = stack[:len(stack)-1]
			wantKey = false
		case ',':
			wantKey = len(stack) > 0 && stack[len(stack)-1].keys != nil
		case '"':
			end := i + 1
			for ; end < len(data) && data[end] != '"'; end++ {
				if data[end] == '\\' {
					end++ // the escaped byte, a quote perhaps
				}
			}
			if end >= len(data) {
				return "", "", false // not JSON after all: its decoding says so
			}
			if wantKey && len(stack) > 0 && stack[len(stack)-1].keys != nil {
				k := string(data[i+1 : end])
				if strings.Contains(k, `\`) {
					// "na\u006de" is "name". A key that does not
					// decode stays as written: its decoding fails anyway.
					var unescaped string
					if json.Unmarshal(data[i:end+1], &unescaped) == nil {
						k = unescaped
					}
				}
				top := &stack[len(stack)-1]
				cmp := k
				if !top.exact {
					cmp = foldCase(k)
				}
				if first, dup := top.keys[cmp]; dup {
					var keys []string
					for _, fr := range stack[:len(stack)-1] {
						if fr.keys != nil {
							keys = append(keys, fr.key)
						}
					}
					if first != k {
						also = " (also as " + strconv.Quote(first) + ")"
					}
					return strings.Join(append(keys, k), "."), also, true
				}
				top.keys[cmp], top.key = k, k
				wantKey = false
			}
			i = end
		}
	}
	return "", "", false
}

// foldCase maps every letter of s to the smallest of its case variants
// (unicode.SimpleFold's orbit), so that two keys encoding/json takes for
// the same field, such as "type", "Type" and "TYPE", map alike.
func foldCase(s string) string {
	return strings.Map(func(r rune) rune {
		smallest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			smallest = min(smallest, f)
		}
		return smallest
	}, s)
}

// wgs84Names are the names a GeoJSON crs member may give, compared
// without regard to case: OGC's CRS84, which is RFC 7946's, and EPSG:4326,
// which GeoJSON files of the 2008 specification name for the same
// longitude/latitude coordinates (a file whose axes really are latitude,
// longitude lies outside the import extent, and is refused there).
var wgs84Names = []string{
	"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
	"OGC:CRS84", "CRS84",
	"urn:ogc:def:crs:EPSG::4326", "http://www.opengis.net/def/crs/EPSG/0/4326", "EPSG:4326",
}

// crsProblem says what is wrong with the crs member raw of a GeoJSON
// object, or "" when it names WGS 84 longitude/latitude (wgs84Names).
// RFC 7946 removed crs: coordinates are WGS 84 longitude/latitude, and
// a file that names another CRS (CGCS2000, a projection, a link) is
// refused rather than read as if it were, since its coordinates would
// land in the wrong place or be refused one by one for the extent.
func crsProblem(raw []byte) string {
	var c *geojson.CRS
	if err := json.Unmarshal(raw, &c); err != nil {
		return "must be a named CRS, {\"type\":\"name\",\"properties\":{\"name\":…}}, or left out"
	}
	if c == nil {
		return "null says the coordinates have no known CRS; they must be WGS 84 longitude/latitude (leave crs out)"
	}
	name, _ := c.Properties["name"].(string)
	if c.Type != "name" || !slices.ContainsFunc(wgs84Names, func(n string) bool { return strings.EqualFold(n, name) }) {
		what := "a " + quote(c.Type) + " CRS"
		if c.Type == "name" {
			what = quote(name)
		}
		return "names " + what + "; coordinates must be WGS 84 longitude/latitude (CRS84 or EPSG:4326): transform the file first"
	}
	return ""
}

// propertyText is a GeoJSON property value as the text a CSV cell would
// hold: null is absent, a whole number has no fraction or exponent.
func propertyText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
		return strconv.FormatFloat(v, 'g', -1, 64), true
	}
	return "", false
}

// bom is the UTF-8 byte-order mark some spreadsheets write first.
var bom = []byte("\xef\xbb\xbf")

// decodeCSV reads a CSV file held in data (see streamCSV) into a slice
// of features. More than maxFeatures rows is an ETooLarge error.
func decodeCSV(data []byte, l *layer, maxFeatures int) ([]feature, []Rejection, error) {
	return collect(maxFeatures, func(each func(feature) error) ([]Rejection, error) {
		return streamCSV(bytes.NewReader(data), l, each)
	})
}

// streamCSV reads a CSV file from r whose header names l's fields (other
// columns are ignored) and lon and lat, or wkt, for the geometry, handing
// each row to each as a feature as soon as it is read. A header missing
// a required column, or a row the CSV reader cannot parse (an unclosed
// quote), ends the reading with one rejection; a row with the wrong
// number of cells or invalid UTF-8 is rejected and the reading goes on.
// An error from each, or from reading r, ends the reading and is
// returned.
func streamCSV(r io.Reader, l *layer, each func(feature) error) ([]Rejection, error) {
	rd := &readErrors{r: r}
	fileProblem := func(p Position, field, reason string) ([]Rejection, error) {
		if rd.err != nil {
			return nil, rd.err
		}
		return []Rejection{{Position: p, Field: field, Reason: reason}}, nil
	}
	cr := csv.NewReader(skipBOM(rd))
	cr.FieldsPerRecord = -1 // a row of the wrong width is that row's problem, not the file's
	header, err := cr.Read()
	switch {
	case err == io.EOF:
		return fileProblem(Position{Line: 1}, "", "the file is empty: want a header row naming the fields")
	case err != nil:
		return fileProblem(Position{Line: 1}, "", csvProblem(err))
	}
	col := make(map[string]int, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if !utf8.ValidString(name) {
			return fileProblem(Position{Line: 1}, "", "header: invalid UTF-8")
		}
		if _, dup := col[name]; dup {
			return fileProblem(Position{Line: 1}, name, "header: column named twice")
		}
		col[name] = i
	}
	for _, f := range l.Fields {
		if _, ok := col[f.Name]; f.Required && !ok {
			return fileProblem(Position{Line: 1}, f.Name, "header: no such column, and the field is required")
		}
	}
	_, hasLon := col["lon"]
	_, hasLat := col["lat"]
	if _, hasWKT := col["wkt"]; !hasWKT && !(hasLon && hasLat) {
		return fileProblem(Position{Line: 1}, "geometry", "header: want lon and lat columns, or a wkt column")
	}
	for {
		cells, err := cr.Read()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			var perr *csv.ParseError
			if !errors.As(err, &perr) {
				return fileProblem(Position{}, "", csvProblem(err))
			}
			return fileProblem(Position{Line: perr.StartLine}, "", csvProblem(err))
		}
		line, _ := cr.FieldPos(0)
		if err := each(csvFeature(line, header, cells, col)); err != nil {
			return nil, err
		}
	}
}

// csvProblem describes a CSV reader's error without its position, which
// the rejection carries.
func csvProblem(err error) string {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return "invalid CSV: " + perr.Err.Error()
	}
	return "invalid CSV: " + err.Error()
}

// csvFeature turns one CSV row into a feature: the cells by column name,
// and a point from lon and lat or a geometry from wkt.
func csvFeature(line int, header, cells []string, col map[string]int) feature {
	f := feature{Position: Position{Line: line}, props: make(map[string]string, len(cells))}
	if len(cells) != len(header) {
		f.reject("", fmt.Sprintf("the row has %d cells, the header %d", len(cells), len(header)))
		return f
	}
	for _, c := range cells {
		if !utf8.ValidString(c) {
			f.reject("", "invalid UTF-8")
			return f
		}
	}
	for name, i := range col {
		f.props[name] = cells[i]
	}
	lon, lat, text := strings.TrimSpace(f.props["lon"]), strings.TrimSpace(f.props["lat"]), strings.TrimSpace(f.props["wkt"])
	switch {
	case text != "" && (lon != "" || lat != ""):
		f.geomField, f.geomReason = "wkt", "give either wkt or lon and lat, not both"
	case text != "":
		g, err := wkt.Unmarshal(text)
		if err != nil {
			f.geomField, f.geomReason = "wkt", "cannot be read: "+err.Error()
		}
		f.geometry = g
	case lon != "" || lat != "":
		x, okX := degrees(lon)
		y, okY := degrees(lat)
		switch {
		case !okX:
			f.geomField, f.geomReason = "lon", "must be a decimal number of degrees, got "+quote(lon)
		case !okY:
			f.geomField, f.geomReason = "lat", "must be a decimal number of degrees, got "+quote(lat)
		default:
			f.geometry = geom.NewPointFlat(geom.XY, []float64{x, y})
		}
	}
	return f
}

// decimalNumber is a number as people and spreadsheets write one in
// decimal: a sign, digits with a fraction (or a fraction alone), an
// exponent, each but the digits optional. strconv.ParseFloat takes more:
// hexadecimal (0x1p4, with underscores: 0x_1p4), Inf, Infinity and NaN
// in any case; none of them is a longitude or latitude someone meant.
var decimalNumber = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// degrees reads a CSV cell of degrees written in decimal, within what a
// float64 holds.
func degrees(s string) (float64, bool) {
	if !decimalNumber.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
