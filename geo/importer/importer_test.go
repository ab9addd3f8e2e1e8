package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twpayne/go-geom"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/demo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sqlChecksum sums up everything an import could change: the rows of the
// map tables, the data version and the length of the audit log.
const sqlChecksum = `
SELECT md5(string_agg(h, '' ORDER BY h)) || ' v' || (SELECT version FROM data_version)
       || ' audit ' || (SELECT count(*) FROM audit_log)
FROM (SELECT md5(r::text) AS h FROM regions r UNION ALL SELECT md5(v::text) FROM villages v
      UNION ALL SELECT md5(s::text) FROM sites s UNION ALL SELECT md5(p::text) FROM projects p
      UNION ALL SELECT md5(h::text) FROM hazard_zones h UNION ALL SELECT md5(o::text) FROM roads o
      UNION ALL SELECT md5(sv::text) FROM services sv) t`

func checksum(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var sum string
	if err := pool.QueryRow(context.Background(), sqlChecksum).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

func queryInt(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// pointIn is a point inside region code's boundary.
func pointIn(t *testing.T, pool *pgxpool.Pool, code string) (lon, lat float64) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM regions WHERE code = $1) s`, code).
		Scan(&lon, &lat)
	if err != nil {
		t.Fatalf("a point in %s: %v", code, err)
	}
	return lon, lat
}

// A feature is a test feature: its properties and geometry, written as
// GeoJSON or CSV by body.
type feature struct {
	props map[string]any
	// point is [lon, lat]; line, if set, is a LineString instead, and
	// ring, if set, the outer ring of a Polygon.
	point [2]float64
	line  [][2]float64
	ring  [][2]float64
}

// with is f with some properties replaced (nil removes one).
func (f feature) with(changes map[string]any) feature {
	props := make(map[string]any, len(f.props))
	for k, v := range f.props {
		props[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(props, k)
		} else {
			props[k] = v
		}
	}
	f.props = props
	return f
}

// at is f at another point.
func (f feature) at(lon, lat float64) feature {
	f.point, f.line, f.ring = [2]float64{lon, lat}, nil, nil
	return f
}

// inside is f as a Polygon of one ring through points.
func (f feature) inside(points ...[2]float64) feature {
	f.line, f.ring = nil, points
	return f
}

// along is f as a LineString through points.
func (f feature) along(points ...[2]float64) feature {
	f.line, f.ring = points, nil
	return f
}

// Valid features of each layer, new to the demo data.
var (
	newTownship = feature{props: map[string]any{
		"code": "520302901", "name": "新设镇", "level": "township", "parent_code": "520302", "poverty_status": "none",
	}, ring: [][2]float64{{106.885, 27.625}, {106.895, 27.625}, {106.895, 27.635}, {106.885, 27.625}}}
	newVillage = feature{props: map[string]any{
		"code": "520302001901", "name": "新建村", "poverty_status": "not_exited", "population": 1200,
		"poor_households": 30, "poor_population": 100, "demonstration": false, "cooperatives": 2,
	}, point: [2]float64{106.89, 27.63}}
	newSite = feature{props: map[string]any{
		"code": "520302-S90", "name": "新建安置点", "type": "rural", "county_code": "520302",
		"township_code": "520302001", "capacity_households": 100, "capacity_people": 400,
		"moved_in_households": 10, "moved_in_people": 40, "progress": 50, "status": "under_construction",
		"planned_completion": "2017-06-30",
	}, point: [2]float64{106.9, 27.64}}
	newProject = feature{props: map[string]any{
		"code": "520302-P900", "name": "新建产业路", "category": "road", "fund_use": "public_facilities",
		"county_code": "520302", "village_code": "520302110206", "funds_planned": 500000,
		"funds_disbursed": 100000, "completion": 20, "status": "under_construction",
		"start_date": "2016-05-01", "end_date": "2017-05-01",
	}, line: [][2]float64{{107.33, 27.82}, {107.34, 27.83}}}
	newHazard = feature{props: map[string]any{
		"code": "520302-H90", "name": "新发现滑坡隐患区", "kind": "landslide", "risk_level": "high", "county_code": "520302",
	}, ring: [][2]float64{{106.90, 27.63}, {106.91, 27.63}, {106.91, 27.64}, {106.90, 27.63}}}
	newRoad = feature{props: map[string]any{
		"code": "520302-R900", "name": "新建通村路", "class": "village", "county_code": "520302",
	}, line: [][2]float64{{106.89, 27.63}, {106.9, 27.64}, {106.91, 27.64}}}
	newService = feature{props: map[string]any{
		"code": "520302001-SC2", "name": "新建小学", "kind": "school", "county_code": "520302", "township_code": "520302001",
	}, point: [2]float64{106.9, 27.64}}
)

// newFeature is the valid new feature of layer.
var newFeature = map[string]feature{"regions": newTownship, "villages": newVillage, "sites": newSite, "projects": newProject,
	"hazard_zones": newHazard, "roads": newRoad, "services": newService}

// existingCode is a code of each layer that the demo data holds.
var existingCode = map[string]string{"regions": "520302001", "villages": "520302001001", "sites": "520302-S01", "projects": "520302-P001",
	"hazard_zones": "520302-H01", "roads": "520302-R01", "services": "520302001-SC"}

// body writes features as format: a FeatureCollection, or CSV with the
// properties' columns in a fixed order, then lon and lat, then wkt.
func body(t *testing.T, format importer.Format, feats ...feature) []byte {
	t.Helper()
	if format == importer.GeoJSON {
		fc := map[string]any{"type": "FeatureCollection", "features": []any{}}
		for _, f := range feats {
			g := map[string]any{"type": "Point", "coordinates": f.point}
			if f.line != nil {
				g = map[string]any{"type": "LineString", "coordinates": f.line}
			}
			if f.ring != nil {
				g = map[string]any{"type": "Polygon", "coordinates": [][][2]float64{f.ring}}
			}
			fc["features"] = append(fc["features"].([]any), map[string]any{"type": "Feature", "geometry": g, "properties": f.props})
		}
		b, err := json.Marshal(fc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var cols []string
	for _, f := range feats {
		for k := range f.props {
			if !slices.Contains(cols, k) {
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	var b strings.Builder
	b.WriteString(strings.Join(append(slices.Clone(cols), "lon", "lat", "wkt"), ",") + "\n")
	for _, f := range feats {
		for _, c := range cols {
			if v, ok := f.props[c]; ok {
				fmt.Fprint(&b, v)
			}
			b.WriteString(",")
		}
		if f.line != nil || f.ring != nil {
			var pts []string
			for _, p := range slices.Concat(f.line, f.ring) {
				pts = append(pts, fmt.Sprintf("%g %g", p[0], p[1]))
			}
			if f.ring != nil {
				fmt.Fprintf(&b, `,,"POLYGON((%s))"`+"\n", strings.Join(pts, ","))
			} else {
				fmt.Fprintf(&b, `,,"LINESTRING(%s)"`+"\n", strings.Join(pts, ","))
			}
		} else {
			fmt.Fprintf(&b, "%g,%g,\n", f.point[0], f.point[1])
		}
	}
	return []byte(b.String())
}

func formatName(f importer.Format) string {
	if f == importer.CSV {
		return "csv"
	}
	return "geojson"
}

// poolImporter is an importer that writes to one pool, as the tests use it.
type poolImporter struct {
	im   *importer.Importer
	pool *pgxpool.Pool
}

// Import imports into the pool under the actor named actor.
func (p poolImporter) Import(ctx context.Context, layer string, format importer.Format, r io.Reader, actor string) (*importer.Report, error) {
	return p.im.Import(ctx, p.pool, geo.Actor{Name: actor}, layer, format, r)
}

func newImporter(pool *pgxpool.Pool, cfg importer.Config, w io.Writer) poolImporter {
	return poolImporter{importer.New(cfg, slog.New(slog.NewTextHandler(w, nil))), pool}
}

// TestImport imports one new and one existing feature of each layer in
// both formats, each file starting with a byte-order mark, and checks that
// both are written, the rollups (for the factor layers, which have none,
// the county's count), the data version and the county's version move,
// and the audit log records the import.
func TestImport(t *testing.T) {
	// rollup counts the layer's features in the rollups of the region the
	// new feature lies in.
	rollup := map[string]string{
		"regions":  `SELECT count(*) FROM region_rollups WHERE parent_code = '520302'`,
		"villages": `SELECT villages FROM region_rollups WHERE code = '520302001'`,
		"sites":    `SELECT sites FROM region_rollups WHERE code = '520302'`,
		"projects": `SELECT projects FROM region_rollups WHERE code = '520302'`,
	}
	// named reads the name stored for a code.
	named := map[string]string{
		"regions":  `SELECT name FROM regions WHERE code = $1`,
		"villages": `SELECT name FROM regions WHERE code = $1`,
		"sites":    `SELECT name FROM sites WHERE code = $1`,
		"projects": `SELECT name FROM projects WHERE code = $1`,
	}
	for _, l := range []string{"hazard_zones", "roads", "services"} {
		rollup[l] = `SELECT count(*) FROM ` + l + ` WHERE county_code = '520302'`
		named[l] = `SELECT name FROM ` + l + ` WHERE code = $1`
	}
	ctx := context.Background()
	for _, layer := range importer.Layers() {
		for _, format := range []importer.Format{importer.GeoJSON, importer.CSV} {
			t.Run(layer+"/"+formatName(format), func(t *testing.T) {
				pool := pgtest.New(t)
				fresh := newFeature[layer]
				old := fresh.with(map[string]any{"code": existingCode[layer], "name": "改过的名字"})
				rollupBefore := queryInt(t, pool, rollup[layer])
				versionBefore := queryInt(t, pool, `SELECT version FROM data_version`)
				countyBefore := queryInt(t, pool, `SELECT version FROM county_versions WHERE code = '520302'`)

				rep, err := newImporter(pool, importer.Config{}, io.Discard).
					Import(ctx, layer, format, bytes.NewReader(append([]byte("\ufeff"), body(t, format, fresh, old)...)), "test import")
				if err != nil {
					t.Fatalf("Import: %v (report %+v)", err, rep)
				}
				if rep.Received != 2 || rep.Inserted != 1 || rep.Updated != 1 || len(rep.Rejected) != 0 {
					t.Errorf("report %+v, want 2 received, 1 inserted, 1 updated, none rejected", rep)
				}
				if got := queryInt(t, pool, rollup[layer]); got != rollupBefore+1 {
					t.Errorf("rollup: got %d, want %d", got, rollupBefore+1)
				}
				if got := queryInt(t, pool, `SELECT version FROM data_version`); got <= versionBefore || got != rep.DataVersion {
					t.Errorf("data version %d (report %d), want it above %d and reported", got, rep.DataVersion, versionBefore)
				}
				if got := queryInt(t, pool, `SELECT version FROM county_versions WHERE code = '520302'`); got <= countyBefore {
					t.Errorf("version of county 520302: %d, want it above %d", got, countyBefore)
				}
				var name string
				if err := pool.QueryRow(ctx, named[layer], existingCode[layer]).Scan(&name); err != nil || name != "改过的名字" {
					t.Errorf("updated name: got %q (%v), want 改过的名字", name, err)
				}
				var actor, action, table string
				var after map[string]int
				var version int64
				err = pool.QueryRow(ctx, `SELECT actor, action, table_name, after, data_version FROM audit_log ORDER BY id DESC LIMIT 1`).
					Scan(&actor, &action, &table, &after, &version)
				if err != nil {
					t.Fatal(err)
				}
				if actor != "test import" || action != "import" || table != layer || after["inserted"] != 1 ||
					after["updated"] != 1 || version != rep.DataVersion {
					t.Errorf("audit row: got %s %s %s %v v%d, want test import import %s inserted 1 updated 1 v%d",
						actor, action, table, after, version, layer, rep.DataVersion)
				}
			})
		}
	}
}

// TestImportDemoFiles imports the demo data's own CSV files: their
// columns are the import's field names, so every row updates itself.
func TestImportDemoFiles(t *testing.T) {
	pool := pgtest.New(t)
	im := newImporter(pool, importer.Config{}, io.Discard)
	for _, layer := range importer.Layers() {
		t.Run(layer, func(t *testing.T) {
			b, err := fs.ReadFile(demo.Files(), layer+".csv")
			if errors.Is(err, fs.ErrNotExist) && layer == geo.RegionTable.Name {
				t.Skip("the demo's regions come from its own files (counties.geojson, townships.csv), not an import file")
			}
			if err != nil {
				t.Fatal(err)
			}
			rep, err := im.Import(context.Background(), layer, importer.CSV, bytes.NewReader(b), "test import")
			if err != nil {
				if rep != nil {
					err = fmt.Errorf("%w; first rejections %+v", err, rep.Rejected[:min(3, len(rep.Rejected))])
				}
				t.Fatalf("Import: %v", err)
			}
			rows := bytes.Count(b, []byte("\n")) - 1
			if rep.Received != rows || rep.Updated != rows || rep.Inserted != 0 {
				t.Errorf("report %+v, want %d received and updated", rep, rows)
			}
		})
	}
}

// TestImportRejects feeds bad input and checks that the error and the
// report say what and where, and that the database is unchanged.
func TestImportRejects(t *testing.T) {
	const (
		geoJSON = importer.GeoJSON
		csv     = importer.CSV
	)
	bodyOf := func(format importer.Format, feats ...feature) func(*testing.T) []byte {
		return func(t *testing.T) []byte { return body(t, format, feats...) }
	}
	raw := func(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }
	polygon := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"520302-S91","name":"x"},` +
		`"geometry":{"type":"Polygon","coordinates":[[[106.9,27.6],[107,27.6],[107,27.7],[106.9,27.6]]]}}]}`
	tests := []struct {
		name   string
		layer  string
		format importer.Format
		body   func(*testing.T) []byte
		cfg    importer.Config
		code   string // the geo error code wanted
		// Where the rejection wanted is (feature index for GeoJSON, line
		// for CSV, -1 for the whole file), its field and part of its
		// reason; unused for ETooLarge, which has no report.
		at     int
		field  string
		reason string
	}{
		{"wrong geometry type", "sites", geoJSON, raw(polygon), importer.Config{}, geo.EInvalid, 0, "geometry", "must be a Point, got Polygon"},
		{"line for a village", "villages", csv, bodyOf(csv, newVillage, newVillage.with(map[string]any{"code": "520302001902"}).along(newProject.line...)),
			importer.Config{}, geo.EInvalid, 3, "geometry", "must be a Point, got LineString"},
		{"polygon in wkt", "projects", csv, raw(strings.Replace(string(body(t, csv, newProject)), "LINESTRING(107.33 27.82,107.34 27.83)",
			"POLYGON((107.33 27.82,107.34 27.83,107.34 27.82,107.33 27.82))", 1)),
			importer.Config{}, geo.EInvalid, 2, "geometry", "must be a Point or LineString, got Polygon"},
		{"wkt that does not parse", "projects", csv, raw(strings.Replace(string(body(t, csv, newProject)), "LINESTRING(", "LINESTRING((", 1)),
			importer.Config{}, geo.EInvalid, 2, "wkt", "cannot be read"},
		{"NaN in CSV", "sites", csv, raw("code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
			"520302-S91,甲,rural,520302,10,40,0,planned,106.9,27.6\n" +
			"520302-S92,乙,rural,520302,10,40,0,planned,NaN,27.6\n"), importer.Config{}, geo.EInvalid, 3, "lon", "must be a decimal number"},
		{"Infinity in CSV", "sites", csv, raw("code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
			"520302-S91,甲,rural,520302,10,40,0,planned,106.9,Infinity\n"), importer.Config{}, geo.EInvalid, 2, "lat", "must be a decimal number"},
		// Number spellings strconv.ParseFloat takes but nobody means as
		// degrees: hexadecimal floats (0x1.abp6 is 106.75), with
		// underscores, and infinity in another case.
		{"hex float longitude in CSV", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), "106.9,", "0x1.abp6,", 1)),
			importer.Config{}, geo.EInvalid, 2, "lon", "must be a decimal number of degrees, got \"0x1.abp6\""},
		{"hex float latitude in CSV", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), ",27.64,", ",0x1.bp4,", 1)),
			importer.Config{}, geo.EInvalid, 2, "lat", "must be a decimal number"},
		{"hex float with underscores in CSV", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), "106.9,", "0x_1.abp6,", 1)),
			importer.Config{}, geo.EInvalid, 2, "lon", "must be a decimal number"},
		{"inf in CSV", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), ",27.64,", ",+inf,", 1)),
			importer.Config{}, geo.EInvalid, 2, "lat", "must be a decimal number"},
		// Whole numbers are read in base 10 only.
		{"hex in a whole number, CSV", "villages", csv, bodyOf(csv, newVillage.with(map[string]any{"population": "0x4b0"})),
			importer.Config{}, geo.EInvalid, 2, "population", "must be a whole number"},
		{"hex in a whole number, GeoJSON", "sites", geoJSON, bodyOf(geoJSON, newSite.with(map[string]any{"capacity_people": "0x190"})),
			importer.Config{}, geo.EInvalid, 0, "capacity_people", "must be a whole number"},
		{"underscores in a whole number", "villages", csv, bodyOf(csv, newVillage.with(map[string]any{"population": "1_200"})),
			importer.Config{}, geo.EInvalid, 2, "population", "must be a whole number"},
		// The layers are 2-D: a height or a measure would be lost.
		{"point with a height", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), "[106.9,27.64]", "[106.9,27.64,900]", 1)),
			importer.Config{}, geo.EInvalid, 0, "geometry", "the layers are 2-D"},
		{"line with heights in wkt", "projects", csv, raw(strings.Replace(string(body(t, csv, newProject)), "LINESTRING(107.33 27.82,107.34 27.83)",
			"LINESTRING Z(107.33 27.82 900,107.34 27.83 950)", 1)),
			importer.Config{}, geo.EInvalid, 2, "geometry", "the layers are 2-D"},
		{"point with a measure in wkt", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), "106.9,27.64,\n", `,,"POINT M(106.9 27.64 5)"`+"\n", 1)),
			importer.Config{}, geo.EInvalid, 2, "geometry", "the layers are 2-D"},
		// A crs other than WGS 84 longitude/latitude, at every level.
		{"crs of the file", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `{"features":`,
			`{"crs":{"type":"name","properties":{"name":"EPSG:3857"}},"features":`, 1)),
			importer.Config{}, geo.EInvalid, -1, "", `crs: names "EPSG:3857"`},
		{"crs null", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `{"features":`, `{"crs":null,"features":`, 1)),
			importer.Config{}, geo.EInvalid, -1, "", "crs: null"},
		{"crs of a feature", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `{"geometry":`,
			`{"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4490"}},"geometry":`, 1)),
			importer.Config{}, geo.EInvalid, 0, "crs", `names "urn:ogc:def:crs:EPSG::4490"`},
		{"crs of a geometry", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `{"coordinates":`,
			`{"crs":{"type":"link","properties":{"href":"http://example.com/crs"}},"coordinates":`, 1)),
			importer.Config{}, geo.EInvalid, 0, "geometry", `crs: names a "link" CRS`},
		// Keys given twice: encoding/json would keep the last silently.
		{"property given twice", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"name":"新建安置点"`,
			`"name":"新建安置点","name":"别的名字"`, 1)),
			importer.Config{}, geo.EInvalid, 0, "name", "given twice"},
		{"geometry member given twice", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"type":"Point"`,
			`"type":"Point","type":"LineString"`, 1)),
			importer.Config{}, geo.EInvalid, 0, "geometry", "geometry.type: given twice"},
		{"property given twice, once escaped", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"name":"新建安置点"`,
			`"name":"新建安置点","na\u006de":"别的名字"`, 1)),
			importer.Config{}, geo.EInvalid, 0, "name", "given twice"},
		// encoding/json matches a struct's fields without regard to case.
		{"geometry member given twice in two cases", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"type":"Point"`,
			`"type":"Point","Type":"LineString"`, 1)),
			importer.Config{}, geo.EInvalid, 0, "geometry", `geometry.Type: given twice (also as "type")`},
		{"feature member given twice", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"type":"Feature"`,
			`"type":"Feature","type":"Feature"`, 1)),
			importer.Config{}, geo.EInvalid, 0, "type", "given twice"},
		{"FeatureCollection member given twice", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `"type":"FeatureCollection"`,
			`"type":"FeatureCollection","type":"FeatureCollection"`, 1)),
			importer.Config{}, geo.EInvalid, -1, "", "type: given twice"},
		{"key given twice in the file's crs", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), `{"features":`,
			`{"crs":{"type":"name","properties":{"name":"CRS84","name":"EPSG:3857"}},"features":`, 1)),
			importer.Config{}, geo.EInvalid, -1, "", "crs.properties.name: given twice"},
		{"number too large for JSON", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), "106.9", "1e400", 1)),
			importer.Config{}, geo.EInvalid, 0, "geometry", "cannot be read"},
		{"out of its county", "sites", geoJSON, bodyOf(geoJSON, newSite.at(120, 30)), importer.Config{}, geo.EInvalid, 0, "geometry", "lies outside county 520302"},
		{"out of a configured extent", "sites", geoJSON, bodyOf(geoJSON, newSite.at(120, 30)),
			importer.Config{Extent: geom.NewBounds(geom.XY).Set(106, 27, 107, 28)}, geo.EInvalid, 0, "geometry", "outside the import extent"},
		{"lon and lat swapped", "villages", csv, bodyOf(csv, newVillage.at(27.63, 106.89)), importer.Config{}, geo.EInvalid, 2, "geometry", "outside"},
		{"duplicate codes", "projects", csv, bodyOf(csv, newProject, newProject.with(map[string]any{"name": "又一个"})),
			importer.Config{}, geo.EInvalid, 3, "code", "duplicate code: line 2 has it too"},
		{"duplicate codes, GeoJSON", "villages", geoJSON, bodyOf(geoJSON, newVillage, newVillage),
			importer.Config{}, geo.EInvalid, 1, "code", "duplicate code: feature 0 has it too"},
		{"unknown township of a village", "villages", geoJSON, bodyOf(geoJSON, newVillage.with(map[string]any{"code": "520302999001"})),
			importer.Config{}, geo.EInvalid, 0, "code", "no township with code 520302999"},
		{"unknown county", "sites", csv, bodyOf(csv, newSite.with(map[string]any{"county_code": "520399", "township_code": nil})),
			importer.Config{}, geo.EInvalid, 2, "county_code", "no county with code 520399"},
		{"city code as county", "projects", geoJSON, bodyOf(geoJSON, newProject.with(map[string]any{"county_code": "520300", "village_code": nil})),
			importer.Config{}, geo.EInvalid, 0, "county_code", "no county with code 520300"},
		{"unknown village", "projects", geoJSON, bodyOf(geoJSON, newProject.with(map[string]any{"village_code": "520302110299"})),
			importer.Config{}, geo.EInvalid, 0, "village_code", "no village with code 520302110299 in the registry"},
		{"village outside the county", "projects", csv, bodyOf(csv, newProject.with(map[string]any{"village_code": "520303102202"})),
			importer.Config{}, geo.EInvalid, 2, "village_code", "is not in county_code 520302"},
		{"township outside the county", "sites", csv, bodyOf(csv, newSite.with(map[string]any{"township_code": "520303001"})),
			importer.Config{}, geo.EInvalid, 2, "township_code", "520303001 is not in county_code 520302: it lies under 520300 › 520303"},
		{"unknown township given for a village", "villages", geoJSON, bodyOf(geoJSON, newVillage.with(map[string]any{"township_code": "520302998"})),
			importer.Config{}, geo.EInvalid, 0, "township_code", "no township with code 520302998"},
		{"county given as a village's township", "villages", csv, bodyOf(csv, newVillage.with(map[string]any{"township_code": "520303"})),
			importer.Config{}, geo.EInvalid, 2, "township_code", "must be a statistical code of 9 digits"},
		{"invalid UTF-8 in GeoJSON", "sites", geoJSON, raw(strings.Replace(string(body(t, geoJSON, newSite)), "新建", "\xff\xfe", 1)),
			importer.Config{}, geo.EInvalid, 0, "", "invalid UTF-8"},
		{"invalid UTF-8 in CSV", "sites", csv, raw(strings.Replace(string(body(t, csv, newSite)), "新建", "\xff\xfe", 1)),
			importer.Config{}, geo.EInvalid, 2, "", "invalid UTF-8"},
		{"truncated JSON", "sites", geoJSON, func(t *testing.T) []byte {
			b := body(t, geoJSON, newSite, newSite.with(map[string]any{"code": "520302-S91"}))
			return b[:len(b)-30]
		},
			importer.Config{}, geo.EInvalid, 1, "", "truncated"},
		{"not JSON at all", "sites", geoJSON, raw("code,name\n"), importer.Config{}, geo.EInvalid, -1, "", "not a JSON object"},
		{"not a FeatureCollection", "sites", geoJSON, raw(`{"type":"Feature","geometry":null,"properties":{}}`),
			importer.Config{}, geo.EInvalid, -1, "", "not a GeoJSON FeatureCollection"},
		{"feature of the wrong type", "sites", geoJSON, raw(`{"type":"FeatureCollection","features":[{"type":"Point","coordinates":[106.9,27.6]}]}`),
			importer.Config{}, geo.EInvalid, 0, "", `type is "Point", want "Feature"`},
		{"no features", "sites", geoJSON, raw(`{"type":"FeatureCollection","features":[]}`), importer.Config{}, geo.EInvalid, -1, "", "no features"},
		{"missing required field", "villages", geoJSON, bodyOf(geoJSON, newVillage.with(map[string]any{"population": nil})),
			importer.Config{}, geo.EInvalid, 0, "population", "required"},
		{"missing required column", "villages", csv, bodyOf(csv, newVillage.with(map[string]any{"population": nil})),
			importer.Config{}, geo.EInvalid, 1, "population", "no such column"},
		{"no geometry columns", "villages", csv, raw("code,name,poverty_status,population,poor_households,poor_population\n520302001901,x,none,10,0,0\n"),
			importer.Config{}, geo.EInvalid, 1, "geometry", "want lon and lat columns"},
		{"row of the wrong width", "villages", csv, raw("code,name,poverty_status,population,poor_households,poor_population,lon,lat\n" +
			"520302001901,x,none,10,0,0,106.89\n"), importer.Config{}, geo.EInvalid, 2, "", "the row has 7 cells, the header 8"},
		{"unclosed quote", "villages", csv, raw("code,name,poverty_status,population,poor_households,poor_population,lon,lat\n" +
			"520302001901,\"x,none,10,0,0,106.89,27.63\n"), importer.Config{}, geo.EInvalid, 2, "", "invalid CSV"},
		{"empty CSV", "villages", csv, raw(""), importer.Config{}, geo.EInvalid, 1, "", "the file is empty"},
		{"header only", "villages", csv, raw("\xef\xbb\xbfcode,name,poverty_status,population,poor_households,poor_population,lon,lat\n"),
			importer.Config{}, geo.EInvalid, -1, "", "no features"},
		{"bad enum", "sites", csv, bodyOf(csv, newSite.with(map[string]any{"status": "done"})),
			importer.Config{}, geo.EInvalid, 2, "status", "must be one of planned, under_construction, completed, occupied"},
		{"negative number", "sites", geoJSON, bodyOf(geoJSON, newSite.with(map[string]any{"capacity_people": -4})),
			importer.Config{}, geo.EInvalid, 0, "capacity_people", "must be a whole number"},
		{"progress over 100", "sites", geoJSON, bodyOf(geoJSON, newSite.with(map[string]any{"progress": 101})),
			importer.Config{}, geo.EInvalid, 0, "progress", "from 0 to 100"},
		{"moved in beyond capacity", "sites", csv, bodyOf(csv, newSite.with(map[string]any{"moved_in_people": 401})),
			importer.Config{}, geo.EInvalid, 2, "moved_in_people", "exceeds capacity_people"},
		{"poor beyond population", "villages", geoJSON, bodyOf(geoJSON, newVillage.with(map[string]any{"poor_population": 1201})),
			importer.Config{}, geo.EInvalid, 0, "poor_population", "1201 exceeds population (1200)"},
		{"exit year without exit", "villages", csv, bodyOf(csv, newVillage.with(map[string]any{"exit_year": 2016})),
			importer.Config{}, geo.EInvalid, 2, "exit_year", "given only when poverty_status is exited"},
		{"disbursed beyond planned", "projects", geoJSON, bodyOf(geoJSON, newProject.with(map[string]any{"funds_disbursed": 500001})),
			importer.Config{}, geo.EInvalid, 0, "funds_disbursed", "exceeds funds_planned"},
		{"bad date", "projects", csv, bodyOf(csv, newProject.with(map[string]any{"end_date": "2017-13-01"})),
			importer.Config{}, geo.EInvalid, 2, "end_date", "YYYY-MM-DD"},
		{"start in year 0", "projects", geoJSON, bodyOf(geoJSON, newProject.with(map[string]any{"start_date": "0000-01-01"})),
			importer.Config{}, geo.EInvalid, 0, "start_date", "years 0001 to 9999"},
		{"end in year 0", "projects", csv, bodyOf(csv, newProject.with(map[string]any{"start_date": nil, "end_date": "0000-12-31"})),
			importer.Config{}, geo.EInvalid, 2, "end_date", "years 0001 to 9999"},
		{"planned completion in year 0", "sites", csv, bodyOf(csv, newSite.with(map[string]any{"planned_completion": "0000-06-30"})),
			importer.Config{}, geo.EInvalid, 2, "planned_completion", "years 0001 to 9999"},
		{"oversized body", "sites", geoJSON, bodyOf(geoJSON, newSite), importer.Config{MaxBytes: 100}, geo.ETooLarge, 0, "", ""},
		{"too many features", "sites", csv, bodyOf(csv, newSite, newSite.with(map[string]any{"code": "520302-S91"})),
			importer.Config{MaxFeatures: 1}, geo.ETooLarge, 0, "", ""},
		{"unknown layer", "rivers", geoJSON, bodyOf(geoJSON, newSite), importer.Config{}, geo.ENotFound, 0, "", ""},
		// The factor layers.
		{"point for a road", "roads", geoJSON, bodyOf(geoJSON, newRoad.at(106.9, 27.64)),
			importer.Config{}, geo.EInvalid, 0, "geometry", "must be a LineString or MultiLineString, got Point"},
		{"line for a hazard zone", "hazard_zones", csv, bodyOf(csv, newHazard.along(newRoad.line...)),
			importer.Config{}, geo.EInvalid, 2, "geometry", "must be a Polygon or MultiPolygon, got LineString"},
		{"ring not closed", "hazard_zones", geoJSON, bodyOf(geoJSON, newHazard.inside([2]float64{106.90, 27.63}, [2]float64{106.91, 27.63},
			[2]float64{106.91, 27.64}, [2]float64{106.90, 27.64})),
			importer.Config{}, geo.EInvalid, 0, "geometry", "must end where it begins"},
		{"ring of three positions", "hazard_zones", geoJSON, bodyOf(geoJSON, newHazard.inside([2]float64{106.90, 27.63}, [2]float64{106.91, 27.63},
			[2]float64{106.90, 27.63})),
			importer.Config{}, geo.EInvalid, 0, "geometry", "four or more positions"},
		{"self-crossing polygon", "hazard_zones", geoJSON, bodyOf(geoJSON, newHazard, newHazard.with(map[string]any{"code": "520302-H91"}).inside(
			[2]float64{106.90, 27.63}, [2]float64{106.91, 27.64}, [2]float64{106.91, 27.63}, [2]float64{106.90, 27.64}, [2]float64{106.90, 27.63})),
			importer.Config{}, geo.EInvalid, 1, "geometry", "is not a valid polygon: Self-intersection"},
		{"bad hazard kind", "hazard_zones", csv, bodyOf(csv, newHazard.with(map[string]any{"kind": "flood"})),
			importer.Config{}, geo.EInvalid, 2, "kind", "must be one of landslide, collapse, debris_flow, subsidence"},
		{"bad risk level", "hazard_zones", geoJSON, bodyOf(geoJSON, newHazard.with(map[string]any{"risk_level": "extreme"})),
			importer.Config{}, geo.EInvalid, 0, "risk_level", "must be one of high, medium, low"},
		{"bad road class", "roads", csv, bodyOf(csv, newRoad.with(map[string]any{"class": "highway"})),
			importer.Config{}, geo.EInvalid, 2, "class", "must be one of expressway"},
		{"service's township outside its county", "services", csv, bodyOf(csv, newService.with(map[string]any{"township_code": "520303001"})),
			importer.Config{}, geo.EInvalid, 2, "township_code", "520303001 is not in county_code 520302"},
		{"bad service kind", "services", geoJSON, bodyOf(geoJSON, newService.with(map[string]any{"kind": "bank"})),
			importer.Config{}, geo.EInvalid, 0, "kind", "must be one of school, clinic, market"},
		{"road in an unknown county", "roads", geoJSON, bodyOf(geoJSON, newRoad.with(map[string]any{"county_code": "520399"})),
			importer.Config{}, geo.EInvalid, 0, "county_code", "no county with code 520399"},
	}
	pool := pgtest.New(t)
	before := checksum(t, pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := newImporter(pool, tt.cfg, io.Discard).
				Import(context.Background(), tt.layer, tt.format, bytes.NewReader(tt.body(t)), "test import")
			if got := geo.ErrorCode(err); got != tt.code {
				t.Fatalf("error %v (code %q), want code %q", err, got, tt.code)
			}
			if after := checksum(t, pool); after != before {
				t.Fatalf("database changed: checksum %s, want %s", after, before)
			}
			if tt.code != geo.EInvalid {
				return
			}
			for _, r := range rep.Rejected {
				if r.Reason == "" {
					t.Errorf("rejection %+v has no reason", r)
				}
				if where(tt.format, r.Position) == tt.at && r.Field == tt.field && strings.Contains(r.Reason, tt.reason) {
					return
				}
			}
			t.Errorf("rejections %+v: want one at %d, field %q, reason containing %q", rep.Rejected, tt.at, tt.field, tt.reason)
		})
	}
}

// TestImportTakesWGS84CRS: a crs member naming WGS 84 longitude/latitude
// (CRS84, or EPSG:4326 as GeoJSON files of 2008 name it), on the file, a
// feature or a geometry, is taken; the coordinates are read as they are.
func TestImportTakesWGS84CRS(t *testing.T) {
	pool := pgtest.New(t)
	im := newImporter(pool, importer.Config{}, io.Discard)
	tests := []struct {
		name, from, to string
	}{
		{"CRS84 of the file", `{"features":`, `{"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":`},
		{"EPSG:4326 of a feature", `{"geometry":`, `{"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4326"}},"geometry":`},
		{"EPSG:4326 of a geometry", `{"coordinates":`, `{"crs":{"type":"name","properties":{"name":"EPSG:4326"}},"coordinates":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(body(t, importer.GeoJSON, newSite)), tt.from, tt.to, 1)
			rep, err := im.Import(context.Background(), "sites", importer.GeoJSON, strings.NewReader(b), "test import")
			if err != nil {
				t.Fatalf("Import: %v (report %+v)", err, rep)
			}
			if got := queryInt(t, pool, `SELECT count(*) FROM sites WHERE code = $1 AND ST_Equals(geom, ST_SetSRID(ST_MakePoint(106.9, 27.64), 4326))`,
				newSite.props["code"]); got != 1 {
				t.Errorf("%d sites at (106.9, 27.64), want 1", got)
			}
		})
	}
}

// TestImportFollowsHierarchy moves a township to another county and
// imports around it: where a site, a project or a village lies is the
// hierarchy's (regions.parent_code) to say, not its code's digits. A
// village's township is the one given, or by default the one its code
// begins with, and its county follows.
func TestImportFollowsHierarchy(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// 520302001 (in 红花岗区 by its code) now lies in 汇川区, whose
	// boundary takes the township's in.
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_code = '520303' WHERE code = '520302001'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE regions c SET boundary = ST_Multi(ST_Union(c.boundary, t.boundary))
		FROM regions t WHERE c.code = '520303' AND t.code = '520302001'`); err != nil {
		t.Fatal(err)
	}
	lon, lat := pointIn(t, pool, "520304001")
	im := newImporter(pool, importer.Config{}, io.Discard)
	imp := func(layer string, f feature) (*importer.Report, error) {
		t.Helper()
		return im.Import(ctx, layer, importer.GeoJSON, bytes.NewReader(body(t, importer.GeoJSON, f)), "test import")
	}
	// registry reads where a village lies: its region's parent, and its
	// registry row's township and county.
	registry := func(code string) string {
		t.Helper()
		var parent, township, county string
		err := pool.QueryRow(ctx, `SELECT r.parent_code, v.township_code, v.county_code
			FROM regions r JOIN villages v USING (code) WHERE code = $1`, code).Scan(&parent, &township, &county)
		if err != nil {
			t.Fatalf("village %s: %v", code, err)
		}
		return parent + " " + township + " " + county
	}

	refused := []struct {
		name, layer string
		f           feature
		field       string
		reason      string
	}{
		{"site in the county its township's code begins with", "sites", newSite, "township_code",
			"520302001 is not in county_code 520302: it lies under 520300 › 520303"},
		{"project in the county its village's code begins with", "projects",
			newProject.with(map[string]any{"village_code": "520302001001"}), "village_code",
			"520302001001 is not in county_code 520302: it lies under 520300 › 520303 › 520302001"},
	}
	before := checksum(t, pool)
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := imp(tt.layer, tt.f)
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("error %v, want EInvalid", err)
			}
			if len(rep.Rejected) != 1 || rep.Rejected[0].Field != tt.field || rep.Rejected[0].Reason != tt.reason {
				t.Errorf("rejections %+v, want one of %s: %s", rep.Rejected, tt.field, tt.reason)
			}
			if after := checksum(t, pool); after != before {
				t.Errorf("database changed: checksum %s, want %s", after, before)
			}
		})
	}

	taken := []struct {
		name, layer string
		f           feature
		sql, want   string // what the database then holds
	}{
		{"site in its township's county", "sites", newSite.with(map[string]any{"county_code": "520303"}),
			`SELECT county_code || ' ' || township_code FROM sites WHERE code = '520302-S90'`, "520303 520302001"},
		{"project in its village's county", "projects",
			newProject.with(map[string]any{"village_code": "520302001001", "county_code": "520303"}).along([2]float64{106.89, 27.63}, [2]float64{106.891, 27.631}),
			`SELECT county_code || ' ' || village_code FROM projects WHERE code = '520302-P900'`, "520303 520302001001"},
		{"village by its code, in the county its township lies in", "villages", newVillage,
			`SELECT '520302001901'`, "520302001 520302001 520303"},
		{"village in a township its code does not begin with", "villages",
			newVillage.with(map[string]any{"code": "520302001902", "township_code": "520304001"}).at(lon, lat),
			`SELECT '520302001902'`, "520304001 520304001 520304"},
		{"village moved by an import", "villages", newVillage.with(map[string]any{"township_code": "520303108"}),
			`SELECT '520302001901'`, "520303108 520303108 520303"},
		{"village back by default, its township not given", "villages", newVillage,
			`SELECT '520302001901'`, "520302001 520302001 520303"},
	}
	for _, tt := range taken {
		t.Run(tt.name, func(t *testing.T) {
			if rep, err := imp(tt.layer, tt.f); err != nil {
				t.Fatalf("Import: %v (report %+v)", err, rep)
			}
			var got string
			if err := pool.QueryRow(ctx, tt.sql).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if tt.layer == "villages" {
				got = registry(got)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	var inRollup int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM region_rollups WHERE code = '520302001901' AND parent_code = '520302001'`).
		Scan(&inRollup); err != nil || inRollup != 1 {
		t.Errorf("the village's rollup under 520302001: %d rows (%v), want 1", inRollup, err)
	}
}

// where is a position as the test table gives it.
func where(format importer.Format, p importer.Position) int {
	switch {
	case p.Index != nil:
		return *p.Index
	case p.Line > 0:
		return p.Line
	}
	return -1
}

// TestImportReportsEveryProblem checks that the report lists every
// problem of every feature, not just the first.
func TestImportReportsEveryProblem(t *testing.T) {
	pool := pgtest.New(t)
	b := body(t, importer.GeoJSON,
		newSite,
		newSite.with(map[string]any{"code": "520302-S91", "type": "castle", "progress": 101}).at(120, 30),
		newSite.with(map[string]any{"code": "520302-S92", "county_code": "520399", "township_code": nil}),
		newSite.with(map[string]any{"code": "520302-S93"}).at(120, 30),
	)
	rep, err := newImporter(pool, importer.Config{}, io.Discard).Import(context.Background(), "sites", importer.GeoJSON, bytes.NewReader(b), "test import")
	if geo.ErrorCode(err) != geo.EInvalid {
		t.Fatalf("error %v, want EInvalid", err)
	}
	var got []string
	for _, r := range rep.Rejected {
		got = append(got, fmt.Sprintf("%d %s %s", *r.Index, r.Code, r.Field))
	}
	// Where a feature lies is asked of the database once its fields pass.
	want := []string{"1 520302-S91 type", "1 520302-S91 progress", "2 520302-S92 county_code", "3 520302-S93 geometry"}
	if !slices.Equal(got, want) {
		t.Errorf("rejections %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), "3 of 4 features rejected") {
		t.Errorf("error %q, want it to say 3 of 4 features rejected", err)
	}
}

// TestImportProgress checks that a large file logs progress lines while
// it is validated.
func TestImportProgress(t *testing.T) {
	pool := pgtest.New(t)
	feats := make([]feature, 5001)
	for i := range feats {
		feats[i] = newSite.with(map[string]any{"code": fmt.Sprintf("520302-T%04d", i)})
	}
	feats[5000] = feats[5000].with(map[string]any{"status": "lost"}) // keep the test from writing 5,000 sites
	var log bytes.Buffer
	_, err := newImporter(pool, importer.Config{}, &log).
		Import(context.Background(), "sites", importer.CSV, bytes.NewReader(body(t, importer.CSV, feats...)), "test import")
	if geo.ErrorCode(err) != geo.EInvalid {
		t.Fatalf("error %v, want EInvalid for the last row", err)
	}
	if !strings.Contains(log.String(), "import: validated") || !strings.Contains(log.String(), "features=5000 of=5001") {
		t.Errorf("log %q, want a progress line at 5000 of 5001 features", log.String())
	}
}

// TestImportExtent checks that a configured extent replaces the default.
func TestImportExtent(t *testing.T) {
	pool := pgtest.New(t)
	cfg := importer.Config{Extent: geom.NewBounds(geom.XY).Set(106, 27, 107, 28)}
	tests := []struct {
		name string
		f    feature
		want string // error code
	}{
		{"inside", newSite, ""},
		{"inside the city, outside the extent", newSite.with(map[string]any{"code": "520302-S91"}).at(107.5, 27.5), geo.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newImporter(pool, cfg, io.Discard).
				Import(context.Background(), "sites", importer.GeoJSON, bytes.NewReader(body(t, importer.GeoJSON, tt.f)), "test import")
			if got := geo.ErrorCode(err); got != tt.want {
				t.Errorf("error %v, want code %q", err, tt.want)
			}
		})
	}
}

// TestChangeConstraintError checks that geo.Change, which the importer
// commits through, turns a constraint the data breaks into EInvalid
// naming it, and writes nothing, not even the audit row.
func TestChangeConstraintError(t *testing.T) {
	pool := pgtest.New(t)
	before := checksum(t, pool)
	ctx := context.Background()
	_, err := geo.Change(ctx, pool, geo.Actor{Name: "test"}, &geo.Audit{Action: "update", Table: "sites", RowKey: "520302-S01"},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE sites SET progress = 101 WHERE code = '520302-S01'`)
			return err
		})
	var gerr *geo.Error
	if !errors.As(err, &gerr) || gerr.Code != geo.EInvalid || !strings.Contains(gerr.Message, "sites_progress_range") {
		t.Errorf("error %v, want EInvalid naming sites_progress_range", err)
	}
	if after := checksum(t, pool); after != before {
		t.Errorf("database changed: checksum %s, want %s", after, before)
	}
}

// TestConcurrentImportsOfTheSameRows: two imports of the same villages,
// one in the file's order and one reversed, lock the rows in opposite
// orders and deadlock; geo.Change runs the loser again, so both succeed,
// or at worst one is told EConflict (409) — never an internal error. The
// deadlock is a race, so the pair runs several times.
func TestConcurrentImportsOfTheSameRows(t *testing.T) {
	pool := pgtest.New(t)
	b, err := fs.ReadFile(demo.Files(), "villages.csv")
	if err != nil {
		t.Fatal(err)
	}
	// 500 villages: enough for the two to meet in the middle every time.
	lines := strings.SplitAfter(string(b), "\n")
	header, rows := lines[0], lines[1:501]
	reversed := slices.Clone(rows)
	slices.Reverse(reversed)
	files := [][]byte{[]byte(header + strings.Join(rows, "")), []byte(header + strings.Join(reversed, ""))}
	im := newImporter(pool, importer.Config{}, io.Discard)
	conflicts := 0
	for round := range 8 {
		errs := make([]error, len(files))
		var wg sync.WaitGroup
		for i, file := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = im.Import(context.Background(), "villages", importer.CSV, bytes.NewReader(file), "test import")
			}()
		}
		wg.Wait()
		for i, err := range errs {
			switch geo.ErrorCode(err) {
			case geo.EConflict:
				conflicts++
			case "":
				if err != nil {
					t.Errorf("round %d, import %d: %v, want success or EConflict", round, i, err)
				}
			default:
				t.Errorf("round %d, import %d: %v, want success or EConflict", round, i, err)
			}
		}
		if conflicts > round+1 {
			t.Errorf("round %d: %d conflicts so far, want at most one a round", round, conflicts)
		}
	}
	t.Logf("%d of 16 imports told EConflict", conflicts)
}

// TestFactorScope imports factor features as a county user, through the
// server's role: a road of another county is refused by row-level
// security (nothing written), one of the user's own county is written,
// audited row by row under the user with its county's lineage.
func TestFactorScope(t *testing.T) {
	pool := pgtest.New(t)
	app := pgtest.AsApp(t, pool)
	ctx := context.Background()
	im := importer.New(importer.Config{}, slog.New(slog.DiscardHandler))
	zhang := geo.Actor{Name: "zhang", Counties: []string{"520302"}}
	before := checksum(t, pool)
	lon, lat := pointIn(t, pool, "520303")
	other := newRoad.with(map[string]any{"code": "520303-R900", "county_code": "520303"}).along([2]float64{lon, lat}, [2]float64{lon + 0.001, lat})
	if _, err := im.Import(ctx, app, zhang, "roads", importer.GeoJSON, bytes.NewReader(body(t, importer.GeoJSON, other))); geo.ErrorCode(err) != geo.EForbidden {
		t.Errorf("a road of another county: %v, want EForbidden", err)
	}
	if after := checksum(t, pool); after != before {
		t.Errorf("database changed: checksum %s, want %s", after, before)
	}
	for _, layer := range []string{"hazard_zones", "roads", "services"} {
		f := newFeature[layer]
		if _, err := im.Import(ctx, app, zhang, layer, importer.GeoJSON, bytes.NewReader(body(t, importer.GeoJSON, f))); err != nil {
			t.Fatalf("%s of the user's county: %v", layer, err)
		}
		var actor string
		var lineage []string
		err := pool.QueryRow(ctx, `SELECT actor, lineage FROM audit_log WHERE table_name = $1 AND row_key = $2 AND action = 'insert'`,
			layer, f.props["code"]).Scan(&actor, &lineage)
		if err != nil || actor != "zhang" || !slices.Contains(lineage, "520302") {
			t.Errorf("%s: audit row by %q with lineage %v (%v), want zhang's within 520302", layer, actor, lineage, err)
		}
	}
}
