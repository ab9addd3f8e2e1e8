package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/zunyi/battlemap/geo"
)

// fuzzExtent is Zunyi's neighbourhood, fixed so the fuzzers need no
// database.
var fuzzExtent = geom.NewBounds(geom.XY).Set(105, 27, 109, 30)

// fuzzMaxFeatures is small so that the fuzzers reach the limit too.
const fuzzMaxFeatures = 20

// geoJSONSeeds are the GeoJSON fuzzers' seed corpus.
var geoJSONSeeds = []string{
	// A valid site, then a project line with heights, refused: the
	// layers are 2-D.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[106.9,27.6]},` +
		`"properties":{"code":"520302-S90","name":"新建安置点","type":"rural","county_code":"520302","township_code":"520302001",` +
		`"capacity_households":100,"capacity_people":400,"progress":50,"status":"planned"}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[107.3,27.8,900],[107.4,27.9,950]]},` +
		`"properties":{"code":"520302-P900","name":"路","category":"road","fund_use":"public_facilities","county_code":"520302",` +
		`"village_code":"520302110206","funds_planned":5,"funds_disbursed":6,"completion":20,"status":"planned","start_date":"2017-01-01","end_date":"2016-01-01"}}]}`,
	// A project starting in year 0, which RFC 3339 and PostgreSQL
	// lack (stored, it was 1 BC), and a site due in the year 0.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[107.3,27.8],[107.4,27.9]]},` +
		`"properties":{"code":"520302-P900","name":"路","category":"road","fund_use":"public_facilities","county_code":"520302",` +
		`"village_code":"520302110206","funds_planned":5,"completion":20,"status":"planned","start_date":"0000-01-01","end_date":"0001-01-01"}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[106.9,27.6]},` +
		`"properties":{"code":"520302-S90","name":"点","type":"rural","county_code":"520302","capacity_households":1,"capacity_people":4,` +
		`"progress":5,"status":"planned","planned_completion":"0000-12-31"}}]}`,
	// A village with a numeric code, a boolean and an exit year.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[106.89,27.63]},` +
		`"properties":{"code":520302001901,"name":"村","poverty_status":"exited","exit_year":2016,"population":10,` +
		`"poor_households":2,"poor_population":1,"demonstration":true,"pairing_level":"city"}}]}`,
	// A hazard zone, a ring that does not close and one of three
	// positions, and a road of two lines, one of a single position.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.9,27.6],[107,27.6],[107,27.7],[106.9,27.6]]]},` +
		`"properties":{"code":"520302-H90","name":"滑坡","kind":"landslide","risk_level":"high","county_code":"520302"}},` +
		`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[106.9,27.6],[107,27.6],[107,27.7],[106.9,27.7]]],[[[1,2],[3,4],[1,2]]]]},"properties":{}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[[[106.9,27.6],[107,27.7]],[[107,27.7]]]},` +
		`"properties":{"code":"520302-R900","name":"路","class":"village","county_code":"520302"}}]}`,
	// Geometries that must be refused: a polygon, empty ones, too few
	// and too many numbers per position, a collection.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,2],[3,4],[5,6],[1,2]]]},"properties":{}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[]},"properties":null},` +
		`{"type":"Feature","geometry":{"type":"LineString"},"properties":{}},{"type":"Feature","geometry":{"type":"Point","coordinates":[1]}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2,3,4,5],[1]]}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[106.9,27.6]}]}}]}`,
	// Numbers JSON cannot hold, nested properties, a NaN token.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,27]},"properties":{"population":1e400,"name":{"zh":"村"}}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,27]}}]}`,
	// Not a FeatureCollection, truncated, trailing data, members twice,
	// features that are not an array, extra members.
	`{"type":"Feature","geometry":null,"properties":{}}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Po`,
	`{"type":"FeatureCollection","features":[]} {}`,
	`{"type":"FeatureCollection","features":[],"features":[]}`,
	`{"type":"FeatureCollection","features":null}`,
	`{"bbox":[105,27,109,30],"crs":{"type":"name"},"name":"x","type":"FeatureCollection","features":[]}`,
	// A crs: CRS84 (taken) on the file, another on a feature and a
	// geometry, null; keys given twice at each level.
	`{"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"type":"FeatureCollection","features":[{"type":"Feature",` +
		`"crs":{"type":"name","properties":{"name":"EPSG:3857"}},"geometry":{"type":"Point","crs":{"type":"link"},"coordinates":[106.9,27.6]},"properties":{}}]}`,
	`{"crs":null,"type":"FeatureCollection","features":[]}`,
	`{"type":"FeatureCollection","type":"FeatureCollection","features":[{"type":"Feature","type":"Feature",` +
		`"geometry":{"type":"Point","coordinates":[106.9,27.6],"coordinates":[1,2]},"properties":{"name":"a","name":"b","x":{"y":1,"y":2}}}]}`,
	`{"bbox":{"a":1,"a":[{"b":2,"b":3}]},"type":"FeatureCollection","features":[]}`,
	// Not JSON, invalid UTF-8, nothing.
	"code,name\n1,2\n",
	"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"name\":\"\xff\"}}]}",
	"",
	// Regions as the national data writes them: the country with a
	// null parent, a province under it; then a village, which is the
	// villages layer's, and a city with a province's code.
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[73,18],[135,18],[135,54],[73,18]]]]},` +
		`"properties":{"code":"100000","name":"中华人民共和国","level":"country","parent_code":null,"poverty_status":"none","exit_year":null,"demonstration":false}},` +
		`{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[103.5,24.5],[109.6,24.5],[109.6,29.3],[103.5,24.5]]]]},` +
		`"properties":{"code":"520000","name":"贵州省","level":"province","parent_code":"100000","poverty_status":"none","exit_year":null,"demonstration":false}}]}`,
	`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.9,27.6],[107,27.6],[107,27.7],[106.9,27.6]]]},` +
		`"properties":{"code":"520302001901","name":"村","level":"village","parent_code":"520302001","poverty_status":"none"}},` +
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.9,27.6],[107,27.6],[107,27.7],[106.9,27.6]]]},` +
		`"properties":{"code":"520000","name":"市","level":"city","poverty_status":"exited","exit_year":2016}}]}`,
}

// FuzzParseGeoJSON reads arbitrary bytes as GeoJSON for every layer.
func FuzzParseGeoJSON(f *testing.F) {
	for _, s := range geoJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkInvariants(t, GeoJSON, data) })
}

// csvSeeds are the CSV fuzzers' seed corpus.
var csvSeeds = []string{
	// A valid site, with a byte-order mark, and a valid project by wkt.
	"\xef\xbb\xbfcode,name,type,county_code,township_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
		"520302-S90,新建安置点,rural,520302,520302001,100,400,50,planned,106.9,27.6\n",
	"code,name,category,fund_use,county_code,village_code,funds_planned,completion,status,wkt\n" +
		"520302-P900,路,road,public_facilities,520302,520302110206,5,20,planned,\"LINESTRING(107.3 27.8,107.4 27.9)\"\n",
	// A village; then one with NaN, one with Infinity, one with both
	// wkt and lon/lat, and one with a polygon.
	"code,name,poverty_status,population,poor_households,poor_population,lon,lat,wkt\n" +
		"520302001901,村,none,10,1,2,106.89,27.63,\n" +
		"520302001902,村,none,10,1,2,NaN,27.63,\n" +
		"520302001903,村,none,10,1,2,106.89,-Inf,\n" +
		"520302001904,村,none,10,1,2,106.89,27.63,POINT(106.89 27.63)\n" +
		"520302001905,村,none,10,1,2,,,\"POLYGON((1 2,3 4,5 6,1 2))\"\n",
	// Dates in year 0: a project's start and end, a site's completion.
	"code,name,category,fund_use,county_code,village_code,funds_planned,completion,status,start_date,end_date,wkt\n" +
		"520302-P900,路,road,public_facilities,520302,520302110206,5,20,planned,0000-01-01,0000-12-31,\"LINESTRING(107.3 27.8,107.4 27.9)\"\n",
	"code,name,type,county_code,capacity_households,capacity_people,progress,status,planned_completion,lon,lat\n" +
		"520302-S90,点,rural,520302,1,4,5,planned,0000-06-30,106.9,27.6\n",
	// Spellings of numbers strconv.ParseFloat takes: hexadecimal, with
	// underscores, infinity; heights and measures in wkt.
	"code,name,poverty_status,population,poor_households,poor_population,lon,lat,wkt\n" +
		"520302001901,村,none,0x10,1,2,0x1.abp6,0x1.bp4,\n" +
		"520302001902,村,none,1_000,1,2,0x_1.abp6,+inf,\n" +
		"520302001903,村,none,10,1,2,,,POINT Z(106.89 27.63 900)\n" +
		"520302001904,村,none,10,1,2,,,POINT M(106.89 27.63 1)\n" +
		"520302001905,村,none,10,1,2,.5e1,1.,\n",
	// Quoting gone wrong, rows of the wrong width, a duplicate column,
	// invalid UTF-8, a header and nothing else.
	"code,name,lon,lat\n\"520302,x,1,2\n",
	"code,name,lon,lat\n1,2\n1,2,3,4,5\n",
	"code,code,lon,lat\n1,2,3,4\n",
	"code,name,lon,lat\n\xff,x,106.9,27.6\n",
	"code,name,lon,lat\n",
	"",
	// Regions by wkt: a township, a county without its city, a
	// province whose code is a city's.
	"code,name,level,parent_code,poverty_status,exit_year,demonstration,wkt\n" +
		"520302901,镇,township,520302,none,,false,\"MULTIPOLYGON(((106.88 27.62,106.9 27.62,106.9 27.64,106.88 27.62)))\"\n" +
		"520399,县,county,,none,,,\"POLYGON((106.88 27.62,106.9 27.62,106.9 27.64,106.88 27.62))\"\n" +
		"520300,省,province,100000,exited,2016,1,\"POLYGON((106.88 27.62,106.9 27.62,106.9 27.64,106.88 27.62))\"\n",
}

// FuzzParseCSV reads arbitrary bytes as CSV for every layer.
func FuzzParseCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkInvariants(t, CSV, data) })
}

// checkInvariants reads data as format for every layer and checks what
// must hold whatever the input: no panic; an error only for too many
// features; something read or something rejected; every rejection with a
// reason; every record without a rejection complete, its dates in the
// years 1 to 9999, with a geometry of finite coordinates inside the
// extent.
func checkInvariants(t *testing.T, format Format, data []byte) {
	for _, l := range layers {
		recs, rejected, err := validate(l, format, data, fuzzExtent, fuzzMaxFeatures, nil)
		if err != nil {
			if geo.ErrorCode(err) != geo.ETooLarge {
				t.Fatalf("%s: error %v, want only ETooLarge", l.Name, err)
			}
			continue
		}
		if len(recs) == 0 && len(rejected) == 0 {
			t.Fatalf("%s: nothing read and nothing rejected", l.Name)
		}
		rejectedAt := map[string]bool{}
		for _, r := range rejected {
			if r.Reason == "" {
				t.Fatalf("%s: rejection %+v has no reason", l.Name, r)
			}
			rejectedAt[r.Position.String()] = true
		}
		for _, rec := range recs {
			if rejectedAt[rec.Position.String()] {
				continue
			}
			if rec.code == "" || len(rec.row) != len(l.columns()) {
				t.Fatalf("%s: %s passed with code %q and %d of %d columns", l.Name, rec.Position, rec.code, len(rec.row), len(l.columns()))
			}
			for i, v := range rec.row {
				if d, ok := v.(time.Time); ok && (d.Year() < 1 || d.Year() > 9999) {
					t.Fatalf("%s: %s passed with %s %s, outside the years 1 to 9999", l.Name, rec.Position, l.columns()[i], d)
				}
			}
			for _, r := range l.Rules {
				a, b := slices.Index(l.columns(), r.A), slices.Index(l.columns(), r.B)
				if r.Kind == geo.CodeOfLevel && rec.row[a] != nil && rec.row[b] != nil &&
					geo.LevelCodeProblem(rec.row[b].(string), rec.row[a].(string)) != "" {
					t.Fatalf("%s: %s passed with code %v, no code of a %v", l.Name, rec.Position, rec.row[a], rec.row[b])
				}
			}
			g, err := wkb.Unmarshal(rec.row[len(rec.row)-1].([]byte))
			if err != nil {
				t.Fatalf("%s: %s passed with WKB that does not read back: %v", l.Name, rec.Position, err)
			}
			flat := g.FlatCoords()
			for i := 0; i+1 < len(flat); i += g.Stride() {
				if !finite(flat[i]) || !finite(flat[i+1]) || !fuzzExtent.OverlapsPoint(geom.XY, geom.Coord{flat[i], flat[i+1]}) {
					t.Fatalf("%s: %s passed with position (%g, %g)", l.Name, rec.Position, flat[i], flat[i+1])
				}
			}
		}
	}
}

// FuzzDuplicateKey checks duplicateKey, the one-pass scan, against a
// json.Decoder token walk that finds keys given twice exactly as written:
// whatever JSON the scan reads it never panics, and it never misses such
// a key (it may find more: keys that differ only in case, outside a
// feature's properties).
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"a":2}}`,
		`{"a":1,"a":2}`,
		`{"type":"Feature","properties":{"name":"x","Name":"y"}}`,
		`{"type":"Feature","Type":"Feature"}`,
		`{"properties":{"n\u0061me":1,"name":2}}`,
		`[{"a":[{}],"b":"\"a\":"},{"a":1,"a":{}}]`,
		`{"a\\":1,"a\\":2}`,
		`"just a string"`,
		`{"k":{},"x":[],"k":1}`,
		`{"":"","":{}}`, // the empty key, twice: its path is ""
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			duplicateKey(data) // must not panic
			return
		}
		if _, _, dup := duplicateKey(data); exactDuplicate(t, data) && !dup {
			t.Fatalf("duplicateKey(%s) found nothing; a key is given twice", data)
		}
	})
}

// exactDuplicate reports whether an object in the JSON value data holds
// a key twice, exactly as written once decoded, walking its tokens.
func exactDuplicate(t *testing.T, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			t.Fatalf("token walk of valid JSON %s: %v", data, err)
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				if stack[n-1].keys[k] {
					return true
				}
				stack[n-1].keys[k], stack[n-1].wantKey = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true // a value has ended: a key comes next
		}
	}
}

// FuzzDecodePatch feeds the merge-patch reader arbitrary bodies: it must
// never panic, and what it takes names only fields of the table.
func FuzzDecodePatch(f *testing.F) {
	for _, seed := range []string{
		`{"properties":{"cooperatives":3}}`, `{"type":"Feature","id":"x","properties":{"name":null}}`,
		`{"geometry":{"type":"Point","coordinates":[106.9,27.6]}}`, `{"geometry":null}`, `{"properties":[]}`,
		`{"properties":{"a":1,"a":2}}`, `{"links":[],"bbox":[1,2,3,4]}`, `[]`, `null`, `{"properties":{"code":{}}}`,
		"{\"properties\":{\"name\":\"\xff\"}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePatch(geo.VillageTable, "x", body)
		if err != nil {
			return
		}
		for name := range p.props {
			if !slices.ContainsFunc(geo.VillageTable.Fields, func(f geo.Field) bool { return f.Name == name }) {
				t.Errorf("a patch took %s, which is no field of villages", name)
			}
		}
	})
}

// FuzzStream checks the streaming decoders, which the command line's
// bulk loads read files of any size with, against the decoding of the
// same bytes held whole (the HTTP import's): read one byte at a time they
// find the same features and problems, and a file whose reading fails
// part-way gives that error, never a rejection for a file cut short.
func FuzzStream(f *testing.F) {
	for _, s := range geoJSONSeeds {
		f.Add([]byte(s), true, uint16(len(s)/2))
	}
	for _, s := range csvSeeds {
		f.Add([]byte(s), false, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool, cut uint16) {
		format := CSV
		if isJSON {
			format = GeoJSON
		}
		for _, l := range layers {
			stream := func(r io.Reader) ([]feature, []Rejection, error) {
				var feats []feature
				each := func(f feature) error { feats = append(feats, f); return nil }
				var rejected []Rejection
				var err error
				if format == GeoJSON {
					rejected, err = streamGeoJSON(r, each)
				} else {
					rejected, err = streamCSV(r, l, each)
				}
				return feats, rejected, err
			}
			var whole []feature
			var wholeRejected []Rejection
			var err error
			if format == GeoJSON {
				whole, wholeRejected, err = decodeGeoJSON(data, math.MaxInt)
			} else {
				whole, wholeRejected, err = decodeCSV(data, l, math.MaxInt)
			}
			if err != nil {
				t.Fatalf("%s: decoding the whole file: %v", l.Name, err)
			}
			feats, rejected, err := stream(iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil {
				t.Fatalf("%s: streaming: %v", l.Name, err)
			}
			if !reflect.DeepEqual(feats, whole) || !reflect.DeepEqual(rejected, wholeRejected) {
				t.Fatalf("%s: streamed %d features, rejections %+v; held whole %d, %+v", l.Name, len(feats), rejected, len(whole), wholeRejected)
			}
			broken := errors.New("the disk went away")
			n := int(cut) % (len(data) + 1)
			_, rejected, err = stream(io.MultiReader(bytes.NewReader(data[:n]), iotest.ErrReader(broken)))
			switch {
			case err != nil && !errors.Is(err, broken):
				t.Fatalf("%s: reading failed after %d bytes: error %v, want %v", l.Name, n, err, broken)
			case err == nil && !reflect.DeepEqual(rejected, wholeRejected):
				t.Fatalf("%s: reading failed after %d bytes, not reported: rejections %+v, want %+v", l.Name, n, rejected, wholeRejected)
			}
		}
	})
}
