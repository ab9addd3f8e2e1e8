package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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

// decodeGeoJSON reads a FeatureCollection (UTF-8, with or without a
// byte-order mark), feature by feature, so that a broken feature is
// reported with its index and the others are still read.
// A file that is not a FeatureCollection, or whose JSON breaks off, gives
// one rejection and the features read until then. More than maxFeatures
// features is an ETooLarge error.
func decodeGeoJSON(data []byte, maxFeatures int) ([]feature, []Rejection, error) {
	var feats []feature
	fileProblem := func(p Position, reason string) ([]feature, []Rejection, error) {
		return feats, []Rejection{{Position: p, Reason: reason}}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, bom)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: the file is not a JSON object")
	}
	typ, sawFeatures := "", false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fileProblem(Position{}, jsonProblem(err))
		}
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return fileProblem(Position{}, "type: "+jsonProblem(err))
			}
		case "features":
			if sawFeatures {
				return fileProblem(Position{}, "features: given twice")
			}
			sawFeatures = true
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return fileProblem(Position{}, "features: must be an array")
			}
			for i := 0; dec.More(); i++ {
				if i == maxFeatures {
					return nil, nil, tooMany(maxFeatures)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fileProblem(Position{Index: &i}, jsonProblem(err))
				}
				feats = append(feats, decodeFeature(i, raw))
			}
			if _, err := dec.Token(); err != nil {
				return fileProblem(Position{}, jsonProblem(err))
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fileProblem(Position{}, jsonProblem(err))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fileProblem(Position{}, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fileProblem(Position{}, "invalid JSON: more data after the FeatureCollection")
	}
	switch {
	case typ != "FeatureCollection":
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: type is "+quote(typ))
	case !sawFeatures:
		return fileProblem(Position{}, "not a GeoJSON FeatureCollection: it has no features array")
	}
	return feats, nil, nil
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
	return "invalid JSON: " + err.Error()
}

// decodeFeature reads one GeoJSON feature: its properties as text and its
// geometry with go-geom. Problems are kept in the feature, so that every
// one of them is reported.
func decodeFeature(i int, raw []byte) feature {
	f := feature{Position: Position{Index: &i}, props: map[string]string{}}
	if !utf8.Valid(raw) {
		f.reject("", "invalid UTF-8")
		return f
	}
	var gf struct {
		Type       string            `json:"type"`
		Geometry   *geojson.Geometry `json:"geometry"`
		Properties map[string]any    `json:"properties"`
	}
	if err := json.Unmarshal(raw, &gf); err != nil {
		f.reject("", "not a GeoJSON Feature: "+err.Error())
		return f
	}
	if gf.Type != "Feature" {
		f.reject("", "type is "+quote(gf.Type)+", want \"Feature\"")
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
			f.geomField, f.geomReason = "geometry", "cannot be read: "+err.Error()
		}
		f.geometry = g
	}
	return f
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

// decodeCSV reads a CSV file whose header names l's fields (other columns
// are ignored) and lon and lat, or wkt, for the geometry. A header missing
// a required column, or a row the CSV reader cannot parse (an unclosed
// quote), ends the reading with one rejection; a row with the wrong
// number of cells or invalid UTF-8 is rejected and the reading goes on.
// More than maxFeatures rows is an ETooLarge error.
func decodeCSV(data []byte, l *layer, maxFeatures int) ([]feature, []Rejection, error) {
	var feats []feature
	fileProblem := func(p Position, field, reason string) ([]feature, []Rejection, error) {
		return feats, []Rejection{{Position: p, Field: field, Reason: reason}}, nil
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, bom)))
	r.FieldsPerRecord = -1 // a row of the wrong width is that row's problem, not the file's
	header, err := r.Read()
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
		cells, err := r.Read()
		if err == io.EOF {
			return feats, nil, nil
		}
		if err != nil {
			var perr *csv.ParseError
			if !errors.As(err, &perr) {
				return fileProblem(Position{}, "", csvProblem(err))
			}
			return fileProblem(Position{Line: perr.StartLine}, "", csvProblem(err))
		}
		line, _ := r.FieldPos(0)
		if len(feats) == maxFeatures {
			return nil, nil, tooMany(maxFeatures)
		}
		feats = append(feats, csvFeature(line, header, cells, col))
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
		x, errX := strconv.ParseFloat(lon, 64)
		y, errY := strconv.ParseFloat(lat, 64)
		switch {
		case errX != nil:
			f.geomField, f.geomReason = "lon", "must be a number of degrees, got "+quote(lon)
		case errY != nil:
			f.geomField, f.geomReason = "lat", "must be a number of degrees, got "+quote(lat)
		default:
			f.geometry = geom.NewPointFlat(geom.XY, []float64{x, y})
		}
	}
	return f
}
