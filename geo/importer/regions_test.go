package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// regionFeature is a GeoJSON feature of the regions layer, its geometry
// given as GeoJSON text (a boundary read from the database, or a box).
func regionFeature(props map[string]any, geometry string) json.RawMessage {
	b, err := json.Marshal(map[string]any{"type": "Feature", "properties": props, "geometry": json.RawMessage(geometry)})
	if err != nil {
		panic(err)
	}
	return b
}

// box is a rectangle as a GeoJSON MultiPolygon, as a national file gives
// boundaries.
func box(minLon, minLat, maxLon, maxLat float64) string {
	b, _ := json.Marshal(map[string]any{"type": "MultiPolygon", "coordinates": [][][][2]float64{{{
		{minLon, minLat}, {maxLon, minLat}, {maxLon, maxLat}, {minLon, maxLat}, {minLon, minLat}}}}})
	return string(b)
}

// collection is a FeatureCollection of feats.
func collection(feats ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"type": "FeatureCollection", "features": feats})
	return b
}

// boundaryOf is region code's boundary as GeoJSON.
func boundaryOf(t *testing.T, pool *pgxpool.Pool, code string) string {
	t.Helper()
	var g string
	if err := pool.QueryRow(context.Background(), `SELECT ST_AsGeoJSON(boundary) FROM regions WHERE code = $1`, code).Scan(&g); err != nil {
		t.Fatalf("boundary of %s: %v", code, err)
	}
	return g
}

// The country and a province, as the national data's regions.geojson
// has them (its parent_code null at the top).
var (
	country  = map[string]any{"code": "100000", "name": "中华人民共和国", "level": "country", "parent_code": nil, "poverty_status": "none", "exit_year": nil, "demonstration": false}
	province = map[string]any{"code": "520000", "name": "贵州省", "level": "province", "parent_code": "100000", "poverty_status": "none", "exit_year": nil, "demonstration": false}
)

// TestImportRegions imports the country and a province in one file with
// Zunyi filed under the province: a parent may come in the same file as
// its children. The drill-down then runs from the country down, and the
// country's figures are Zunyi's.
func TestImportRegions(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	zunyi := map[string]any{"code": "520300", "name": "遵义市", "level": "city", "parent_code": "520000", "poverty_status": "none", "demonstration": false}
	file := collection(
		regionFeature(zunyi, boundaryOf(t, pool, "520300")),
		regionFeature(province, box(103.5, 24.5, 109.6, 29.3)),
		regionFeature(country, box(73, 18, 135, 54)),
	)
	rep, err := newImporter(pool, importer.Config{}, io.Discard).Import(ctx, "regions", importer.GeoJSON, bytes.NewReader(file), "test import")
	if err != nil {
		t.Fatalf("Import: %v (report %+v)", err, rep)
	}
	if rep.Inserted != 2 || rep.Updated != 1 {
		t.Errorf("report %+v, want 2 inserted (the country, the province) and 1 updated (Zunyi)", rep)
	}
	var countryPoor, zunyiPoor int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT poor_population FROM region_figures WHERE code = '100000'),
		(SELECT poor_population FROM region_figures WHERE code = '520300')`).Scan(&countryPoor, &zunyiPoor); err != nil {
		t.Fatal(err)
	}
	if countryPoor != zunyiPoor || zunyiPoor == 0 {
		t.Errorf("the country's poor people %d, want Zunyi's %d", countryPoor, zunyiPoor)
	}
	// Down from the country, one level a step, to a village.
	path := []string{"100000", "520000", "520300", "520304", "520304116", "520304116203"}
	for i, code := range path {
		r, err := geo.DrillDown(ctx, pool, code)
		if err != nil {
			t.Fatalf("drill-down %s: %v", code, err)
		}
		if got := len(r.Breadcrumb); got != i+1 || r.Breadcrumb[0].Code != "100000" {
			t.Errorf("%s: breadcrumb %+v, want %d steps from the country", code, r.Breadcrumb, i+1)
		}
		if i+1 < len(path) && !slices.ContainsFunc(r.Children, func(c geo.RegionSummary) bool { return c.Code == path[i+1] }) {
			t.Errorf("%s: children lack %s", code, path[i+1])
		}
	}
	root, err := geo.RootRegion(ctx, pool, "")
	if err != nil || root.Code != "100000" {
		t.Errorf("root region: %+v (%v), want the country", root, err)
	}
}

// TestImportRegionsRejects: a region file with a problem is refused as a
// whole, each problem named by feature, field and reason.
func TestImportRegionsRejects(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	township := func(changes map[string]any) map[string]any {
		p := map[string]any{"code": "520302901", "name": "新设镇", "level": "township", "parent_code": "520302", "poverty_status": "none"}
		for k, v := range changes {
			p[k] = v
		}
		return p
	}
	inRedFlower := box(106.885, 27.625, 106.895, 27.635) // in 红花岗区 (520302)
	tests := []struct {
		name          string
		feature       json.RawMessage
		field, reason string
	}{
		{"a village", regionFeature(township(map[string]any{"code": "520302901901", "level": "village"}), inRedFlower),
			"level", "must be one of country, province, city, county, township"},
		{"a province with a city's code", regionFeature(map[string]any{"code": "520300", "name": "x", "level": "province", "poverty_status": "none"}, box(103.5, 24.5, 109.6, 29.3)),
			"code", "is not the code of a province"},
		{"a county without its city", regionFeature(map[string]any{"code": "520399", "name": "x", "level": "county", "poverty_status": "none"}, inRedFlower),
			"parent_code", "required: a county lies in a city"},
		{"a parent that is nowhere", regionFeature(township(map[string]any{"parent_code": "520399"}), inRedFlower),
			"parent_code", "no region with code 520399"},
		{"a parent of another level", regionFeature(township(map[string]any{"parent_code": "520300"}), inRedFlower),
			"parent_code", "520300 is a city, and a township lies in a county"},
		{"a country with a parent", regionFeature(map[string]any{"code": "100000", "name": "x", "level": "country", "parent_code": "520300", "poverty_status": "none"}, box(73, 18, 135, 54)),
			"parent_code", "a country has no parent"},
		{"a township outside its county", regionFeature(township(nil), box(120, 30, 120.1, 30.1)),
			"geometry", "lies outside county 520302"},
		{"a township mostly in the next county", regionFeature(township(nil), box(106.8, 27.6, 107.2, 27.9)),
			"geometry", "lies outside county 520302"},
		{"an exit year without an exit", regionFeature(township(map[string]any{"exit_year": 2016}), inRedFlower),
			"exit_year", "given only when poverty_status is exited"},
		{"a point", regionFeature(township(nil), `{"type":"Point","coordinates":[106.89,27.63]}`),
			"geometry", "must be a Polygon or MultiPolygon"},
	}
	before := checksum(t, pool)
	im := newImporter(pool, importer.Config{}, io.Discard)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A good township rides along: nothing of the file is written.
			good := regionFeature(township(map[string]any{"code": "520302902"}), inRedFlower)
			rep, err := im.Import(ctx, "regions", importer.GeoJSON, bytes.NewReader(collection(good, tt.feature)), "test import")
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("error %v, want EInvalid", err)
			}
			if !slices.ContainsFunc(rep.Rejected, func(r importer.Rejection) bool {
				return r.Index != nil && *r.Index == 1 && r.Field == tt.field && strings.Contains(r.Reason, tt.reason)
			}) {
				t.Errorf("rejections %+v, want one of feature 1, %s: %s", rep.Rejected, tt.field, tt.reason)
			}
			if after := checksum(t, pool); after != before {
				t.Errorf("database changed: checksum %s, want %s", after, before)
			}
		})
	}
}

// TestImportRegionsCSV: the regions layer takes CSV, a boundary as WKT
// in the wkt column.
func TestImportRegionsCSV(t *testing.T) {
	pool := pgtest.New(t)
	csv := "code,name,level,parent_code,poverty_status,exit_year,demonstration,wkt\n" +
		`520302901,新设镇,township,520302,exited,2016,true,"MULTIPOLYGON(((106.885 27.625,106.895 27.625,106.895 27.635,106.885 27.625)))"` + "\n"
	rep, err := newImporter(pool, importer.Config{}, io.Discard).Import(context.Background(), "regions", importer.CSV, strings.NewReader(csv), "test import")
	if err != nil {
		t.Fatalf("Import: %v (report %+v)", err, rep)
	}
	var parent, status string
	var inside bool
	if err := pool.QueryRow(context.Background(), `SELECT parent_code, poverty_status, ST_Covers(boundary, point) FROM regions WHERE code = '520302901'`).
		Scan(&parent, &status, &inside); err != nil || parent != "520302" || status != "exited" || !inside {
		t.Errorf("the township: parent %s, status %s, point on its boundary %v (%v); want 520302, exited, true", parent, status, inside, err)
	}
}

// TestRegionScope imports regions as county users, through the server's
// role: a township of the user's county is written; a township of
// another county, crafted to pass every check of the importer (its
// boundary inside that county), and a county, are refused by
// PostgreSQL's row-level security, and nothing is written.
func TestRegionScope(t *testing.T) {
	pool := pgtest.New(t)
	app := pgtest.AsApp(t, pool)
	ctx := context.Background()
	im := importer.New(importer.Config{}, slog.New(slog.DiscardHandler))
	zhang := geo.Actor{Name: "zhang", Counties: []string{"520302"}}
	lon, lat := pointIn(t, pool, "520303001")
	refused := []struct {
		name    string
		feature json.RawMessage
	}{
		{"a township of another county", regionFeature(map[string]any{"code": "520303901", "name": "越界镇", "level": "township", "parent_code": "520303", "poverty_status": "none"},
			box(lon-0.001, lat-0.001, lon+0.001, lat+0.001))},
		{"a county", regionFeature(map[string]any{"code": "520399", "name": "新设县", "level": "county", "parent_code": "520300", "poverty_status": "none"},
			box(106.885, 27.625, 106.895, 27.635))},
		{"the user's own county", regionFeature(map[string]any{"code": "520302", "name": "改名区", "level": "county", "parent_code": "520300", "poverty_status": "none"},
			boundaryOf(t, pool, "520302"))},
	}
	before := checksum(t, pool)
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := im.Import(ctx, app, zhang, "regions", importer.GeoJSON, bytes.NewReader(collection(tt.feature)))
			if geo.ErrorCode(err) != geo.EForbidden {
				t.Errorf("got %v, want EForbidden from PostgreSQL's row-level security", err)
			}
			if after := checksum(t, pool); after != before {
				t.Errorf("database changed: checksum %s, want %s", after, before)
			}
		})
	}
	own := regionFeature(map[string]any{"code": "520302901", "name": "新设镇", "level": "township", "parent_code": "520302", "poverty_status": "none"},
		box(106.885, 27.625, 106.895, 27.635))
	if _, err := im.Import(ctx, app, zhang, "regions", importer.GeoJSON, bytes.NewReader(collection(own))); err != nil {
		t.Errorf("a township of the user's county: %v", err)
	}
}
