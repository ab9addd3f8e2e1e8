package tiles_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden tiles in testdata/")

// fetch returns a tile of tileset name from svc, decoded.
func fetch(t *testing.T, svc *tiles.Service, name string, tile maptile.Tile) ([]byte, map[string]*mvt.Layer) {
	t.Helper()
	m, err := svc.Tile(context.Background(), name, tile, nil)
	if err != nil {
		t.Fatalf("Tile(%s, %v): %v", name, tile, err)
	}
	layers, err := mvt.Unmarshal(m)
	if err != nil {
		t.Fatalf("Tile(%s, %v) does not decode: %v", name, tile, err)
	}
	byName := map[string]*mvt.Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	return m, byName
}

// at is the tile at zoom z holding lon, lat.
func at(lon, lat float64, z int) maptile.Tile {
	return maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
}

// featureTile is the tile at zoom z holding the point (lon, lat) that
// query returns.
func featureTile(t *testing.T, pool *pgxpool.Pool, query string, z int) maptile.Tile {
	t.Helper()
	var lon, lat float64
	if err := pool.QueryRow(context.Background(), query).Scan(&lon, &lat); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return at(lon, lat, z)
}

// borderTile finds a zoom-10 tile on the border of two counties.
func borderTile(t *testing.T, pool *pgxpool.Pool) maptile.Tile {
	t.Helper()
	return featureTile(t, pool, `
		SELECT ST_X(p), ST_Y(p) FROM (
			SELECT ST_PointOnSurface(ST_Buffer(ST_Intersection(ST_Boundary(a.boundary), ST_Boundary(b.boundary)), 0.0001)) AS p
			FROM regions a, regions b WHERE a.code = '520302' AND b.code = '520303') s`, 10)
}

// count runs a counting query over the tile's buffered envelope, the
// same area ST_AsMVTGeom keeps: $1..$3 are z, x, y.
func count(t *testing.T, pool *pgxpool.Pool, sql string, tile maptile.Tile) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, int(tile.Z), int(tile.X), int(tile.Y)).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const margin = `ST_TileEnvelope($1, $2, $3, margin => 0.015625)`

// TestLayersMatchSQL decodes tiles at several zooms, on a county border
// and far from any data, and checks each layer's features against SQL
// over the raw tables (not the rollups the tiles are made from).
func TestLayersMatchSQL(t *testing.T) {
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	border := borderTile(t, pool)
	tests := []struct {
		name   string
		tile   maptile.Tile
		layer  string
		truth  string // count of features expected, over $1..$3
		absent []string
	}{
		{"counties from zoom 6", at(106.93, 27.72, 6), "counties",
			`SELECT count(*) FROM regions WHERE level = 'county' AND ST_Intersects(ST_Transform(boundary, 3857), ` + margin + `)`,
			[]string{"villages", "townships", "flows", "cities", "provinces"}},
		{"the city at zoom 5", at(106.93, 27.72, 5), "cities",
			`SELECT count(*) FROM regions WHERE level = 'city' AND ST_Intersects(ST_Transform(boundary, 3857), ` + margin + `)`,
			[]string{"counties", "townships", "villages"}},
		{"counties on a county border", border, "counties",
			`SELECT count(*) FROM regions WHERE level = 'county' AND ST_Intersects(ST_Transform(boundary, 3857), ` + margin + `)`, nil},
		{"townships on a county border", border, "townships",
			`SELECT count(*) FROM regions WHERE level = 'township' AND ST_Intersects(ST_Transform(boundary, 3857), ` + margin + `)`, nil},
		{"villages on a county border", border, "villages",
			`SELECT count(*) FROM regions WHERE level = 'village' AND ST_Intersects(ST_Transform(point, 3857), ` + margin + `)`, nil},
		{"villages at zoom 12", at(106.93, 27.72, 12), "villages",
			`SELECT count(*) FROM regions WHERE level = 'village' AND ST_Intersects(ST_Transform(point, 3857), ` + margin + `)`, nil},
		{"sites one by one at zoom 10", border, "sites",
			`SELECT count(*) FROM sites WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, nil},
		{"site summaries at zoom 8", at(106.93, 27.72, 8), "sites",
			`SELECT count(*) FROM regions c WHERE c.level = 'county' AND ST_Intersects(ST_Transform(c.point, 3857), ` + margin + `)
			 AND EXISTS (SELECT FROM sites s WHERE s.county_code = c.code)`, nil},
		{"projects one by one at zoom 12", featureTile(t, pool, `SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM projects WHERE GeometryType(geom) = 'LINESTRING' ORDER BY code LIMIT 1`, 12), "projects",
			`SELECT count(*) FROM projects WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, nil},
		{"flows at zoom 10", border, "flows",
			`SELECT count(*) FROM relocation_assignments a JOIN regions v ON v.code = a.village_code JOIN sites s ON s.code = a.site_code
			 WHERE ST_Intersects(ST_Transform(ST_MakeLine(v.point, s.geom), 3857), ` + margin + `)`, nil},
		{"hazard zones at zoom 10", featureTile(t, pool, `SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM hazard_zones ORDER BY code LIMIT 1`, 10), "hazard_zones",
			`SELECT count(*) FROM hazard_zones WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, nil},
		{"roads at zoom 8", at(106.93, 27.72, 8), "roads",
			`SELECT count(*) FROM roads WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, []string{"services"}},
		{"roads on a county border", border, "roads",
			`SELECT count(*) FROM roads WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, nil},
		{"services at zoom 12", at(106.93, 27.72, 12), "services",
			`SELECT count(*) FROM services WHERE ST_Intersects(ST_Transform(geom, 3857), ` + margin + `)`, nil},
		{"no factor at zoom 7", at(106.93, 27.72, 7), "counties",
			`SELECT count(*) FROM regions WHERE level = 'county' AND ST_Intersects(ST_Transform(boundary, 3857), ` + margin + `)`,
			[]string{"hazard_zones", "roads", "services"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, layers := fetch(t, svc, tiles.CompositeName, tt.tile)
			want := count(t, pool, tt.truth, tt.tile)
			got := 0
			if l := layers[tt.layer]; l != nil {
				got = len(l.Features)
			}
			if got != want {
				t.Errorf("%s in %v: got %d features, want %d", tt.layer, tt.tile, got, want)
			}
			if want == 0 {
				t.Errorf("ground truth is empty: the case tests nothing")
			}
			for _, name := range tt.absent {
				if layers[name] != nil {
					t.Errorf("layer %s present at zoom %d, want absent", name, tt.tile.Z)
				}
			}
		})
	}
	t.Run("counties on a border: at least two", func(t *testing.T) {
		_, layers := fetch(t, svc, tiles.CompositeName, border)
		if l := layers["counties"]; l == nil || len(l.Features) < 2 {
			t.Errorf("border tile %v holds fewer than two counties", border)
		}
	})
	t.Run("empty tile", func(t *testing.T) {
		m, err := svc.Tile(context.Background(), tiles.CompositeName, maptile.New(0, 0, 14), nil)
		if err != nil || len(m) != 0 {
			t.Errorf("tile far from the data: %d bytes, %v; want empty", len(m), err)
		}
	})
}

// TestAttributesMatchSQL checks the figures a feature carries against SQL
// over the raw tables: counties' rolled-up figures at city zoom and each
// village's registry values.
func TestAttributesMatchSQL(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	svc := tiles.NewService(tiles.Config{}, pool)

	_, layers := fetch(t, svc, tiles.CompositeName, at(106.93, 27.72, 6))
	counties := layers["counties"]
	if counties == nil || len(counties.Features) < 10 {
		t.Fatalf("zoom-6 tile: want most of the 14 counties, got %v", counties)
	}
	for _, f := range counties.Features {
		code := f.Properties.MustString("code")
		var poor, notExited, projects, funds float64
		err := pool.QueryRow(ctx, `SELECT
			(SELECT sum(v.poor_population) FROM villages v WHERE v.county_code = $1),
			(SELECT count(*) FROM regions r WHERE r.level = 'village' AND left(r.code, 6) = $1 AND r.poverty_status = 'not_exited'),
			(SELECT count(*) FROM projects p WHERE p.county_code = $1),
			(SELECT coalesce(sum(funds_planned), 0) FROM projects p WHERE p.county_code = $1)`, code).Scan(&poor, &notExited, &projects, &funds)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			field string
			want  float64
		}{{"poor_population", poor}, {"villages_not_exited", notExited}, {"projects", projects}, {"funds_planned", funds}} {
			if got := f.Properties.MustFloat64(c.field); got != c.want {
				t.Errorf("county %s %s = %v, want %v", code, c.field, got, c.want)
			}
		}
	}

	_, layers = fetch(t, svc, "villages", at(106.93, 27.72, 11))
	villages := layers["villages"]
	if villages == nil || len(villages.Features) == 0 {
		t.Fatal("zoom-11 villages tile is empty")
	}
	for _, f := range villages.Features {
		code := f.Properties.MustString("code")
		var name, status string
		var poor float64
		err := pool.QueryRow(ctx, `SELECT r.name, r.poverty_status, v.poor_population FROM regions r JOIN villages v USING (code) WHERE code = $1`, code).Scan(&name, &status, &poor)
		if err != nil {
			t.Fatalf("village %s: %v", code, err)
		}
		if f.Properties.MustString("name") != name || f.Properties.MustString("status") != status || f.Properties.MustFloat64("poor_population") != poor {
			t.Errorf("village %s: tile says %v, database says %s %s %v", code, f.Properties, name, status, poor)
		}
		if f.ID == nil || fmt.Sprint(f.ID) == "0" {
			t.Errorf("village %s has no feature id", code)
		}
	}
}

// TestFieldsDeclared checks every attribute in the tiles is declared in
// its layer's Fields (what TileJSON advertises), at every band.
func TestFieldsDeclared(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	svc := tiles.NewService(tiles.Config{}, pool)
	declared := map[string]map[string]bool{}
	for _, l := range tiles.Layers {
		declared[l.Name] = map[string]bool{}
		for _, f := range l.Fields {
			declared[l.Name][f.Name] = true
		}
	}
	for _, z := range []int{3, 4, 6, 8, 9, 10, 11, 12, 14} {
		_, layers := fetch(t, svc, tiles.CompositeName, at(106.93, 27.72, z))
		for name, l := range layers {
			for _, f := range l.Features {
				for k := range f.Properties {
					if !declared[name][k] {
						t.Errorf("zoom %d layer %s: attribute %q is not declared", z, name, k)
					}
				}
			}
		}
	}
}

// TestTileSizes checks no tile exceeds 500 KB, over every tile of the
// city's bbox at zooms 5–11 and the densest area at 12–14.
func TestTileSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("walks about 500 tiles")
	}
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	const limit = 500 << 10
	bound := orb.Bound{Min: orb.Point{105.6, 27.1}, Max: orb.Point{108.3, 29.3}}
	biggest := 0
	walk := func(b orb.Bound, z int) {
		lo, hi := maptile.At(orb.Point{b.Min[0], b.Max[1]}, maptile.Zoom(z)), maptile.At(orb.Point{b.Max[0], b.Min[1]}, maptile.Zoom(z))
		for x := lo.X; x <= hi.X; x++ {
			for y := lo.Y; y <= hi.Y; y++ {
				m, err := svc.Tile(context.Background(), tiles.CompositeName, maptile.New(x, y, maptile.Zoom(z)), nil)
				if err != nil {
					t.Fatal(err)
				}
				biggest = max(biggest, len(m))
				if len(m) > limit {
					t.Errorf("tile %d/%d/%d is %d bytes, over %d", z, x, y, len(m), limit)
				}
			}
		}
	}
	for z := 5; z <= 11; z++ {
		walk(bound, z)
	}
	dense := orb.Bound{Min: orb.Point{106.85, 27.65}, Max: orb.Point{107.0, 27.75}}
	for z := 12; z <= 14; z++ {
		walk(dense, z)
	}
	t.Logf("largest tile: %d bytes", biggest)
}

// goldenTiles are fixtures named for their tile: the city at zoom 8 and a
// village-level tile at zoom 12.
var goldenTiles = []maptile.Tile{maptile.New(204, 107, 8), maptile.New(3264, 1719, 12)}

// summary is a decoded tile in a stable, readable form for golden files.
type summary map[string][]map[string]any

func summarise(layers mvt.Layers) summary {
	s := summary{}
	for _, l := range layers {
		var feats []map[string]any
		for _, f := range l.Features {
			props := map[string]any{}
			for k, v := range f.Properties {
				props[k] = v
			}
			feats = append(feats, map[string]any{"id": f.ID, "type": f.Geometry.GeoJSONType(), "properties": props})
		}
		sort.Slice(feats, func(i, j int) bool { return fmt.Sprint(feats[i]) < fmt.Sprint(feats[j]) })
		s[l.Name] = feats
	}
	return s
}

// TestGoldenTiles compares tiles with testdata/{z}-{x}-{y}.mvt and its
// decoded .json, feature by feature. Run with -update to rewrite them
// after a deliberate change, and review the diff.
func TestGoldenTiles(t *testing.T) {
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	for _, tile := range goldenTiles {
		base := filepath.Join("testdata", fmt.Sprintf("%d-%d-%d", tile.Z, tile.X, tile.Y))
		t.Run(base, func(t *testing.T) {
			m, layers := fetch(t, svc, tiles.CompositeName, tile)
			got, _ := json.MarshalIndent(summarise(mvt.Layers(valuesOf(layers))), "", " ")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(base+".mvt", m, 0o644)
				os.WriteFile(base+".json", append(got, '\n'), 0o644)
			}
			wantMVT, err := os.ReadFile(base + ".mvt")
			if err != nil {
				t.Fatalf("%v (run go test ./tiles -run TestGoldenTiles -update to create it)", err)
			}
			wantJSON, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(wantJSON)) {
				t.Errorf("decoded tile differs from %s.json:\n%s", base, firstDiff(string(got), string(wantJSON)))
			}
			wantLayers, err := mvt.Unmarshal(wantMVT)
			if err != nil {
				t.Fatalf("golden %s.mvt does not decode: %v", base, err)
			}
			for _, wl := range wantLayers {
				gl := layers[wl.Name]
				if gl == nil || len(gl.Features) != len(wl.Features) {
					t.Errorf("layer %s: got %v features, golden has %d", wl.Name, gl, len(wl.Features))
				}
			}
		})
	}
}

func valuesOf(m map[string]*mvt.Layer) []*mvt.Layer {
	var out []*mvt.Layer
	for _, l := range m {
		out = append(out, l)
	}
	return out
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: got %s\n          want %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// TestDeterministic makes the same tile many times and expects the same
// bytes, so ETags are stable across requests and instances.
func TestDeterministic(t *testing.T) {
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	first, _ := fetch(t, svc, tiles.CompositeName, goldenTiles[0])
	for i := 0; i < 10; i++ {
		again, _ := fetch(t, svc, tiles.CompositeName, goldenTiles[0])
		if !bytes.Equal(again, first) {
			t.Fatalf("run %d: tile bytes differ", i)
		}
	}
}

// TestTileErrors covers the zoom limits and unknown tilesets.
func TestTileErrors(t *testing.T) {
	svc := tiles.NewService(tiles.Config{}, pgtest.New(t))
	ctx := context.Background()
	tests := []struct {
		name, set string
		tile      maptile.Tile
		code      string
	}{
		{"above max zoom", tiles.CompositeName, maptile.New(0, 0, 15), geo.ENotFound},
		{"unknown tileset", "rivers", maptile.New(0, 0, 1), geo.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Tile(ctx, tt.set, tt.tile, nil)
			if geo.ErrorCode(err) != tt.code {
				t.Errorf("got %v, want a %s error", err, tt.code)
			}
		})
	}
	m, err := svc.Tile(ctx, "villages", maptile.New(0, 0, 3), nil)
	if err != nil || len(m) != 0 {
		t.Errorf("villages below their min zoom: %v, %d bytes; want an empty tile", err, len(m))
	}
}

// TestSuitabilityTile: the suitability overlay draws each cell of a
// county with the score and exclusions the surface gives it at the
// default parameters, within the tile size limit at its first zoom.
func TestSuitabilityTile(t *testing.T) {
	pool := pgtest.New(t)
	const county = "520330"
	pgtest.FactorFixture(t, pool, county)
	svc := tiles.NewService(tiles.Config{}, pool)
	ctx := context.Background()
	surface, err := geo.SuitabilitySurface(ctx, pool, county, geo.Defaults(geo.SuitabilityParams))
	if err != nil {
		t.Fatal(err)
	}
	var features []struct {
		Properties struct {
			Cell     string
			Score    *float64
			Excluded []string
		}
	}
	if err := json.Unmarshal([]byte("["+string(surface.Features)+"]"), &features); err != nil {
		t.Fatal(err)
	}
	// A cell's score or, when it has none, why it is excluded.
	type verdict struct {
		score    float64
		excluded string
	}
	want := map[string]verdict{}
	for _, f := range features {
		v := verdict{score: -1, excluded: strings.Join(f.Properties.Excluded, ",")}
		if f.Properties.Score != nil {
			v.score = *f.Properties.Score
		}
		want[f.Properties.Cell] = v
	}
	var lon, lat float64
	if err := pool.QueryRow(ctx, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`, county).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	for _, z := range []int{9, 11, 13} {
		data, layers := fetch(t, svc, tiles.Suitability.Name, at(lon, lat, z))
		if z == tiles.Suitability.MinZoom && len(data) > 500<<10 {
			t.Errorf("zoom %d: tile of %d bytes, over 500 KB", z, len(data))
		}
		l := layers[tiles.Suitability.Name]
		if l == nil || len(l.Features) == 0 {
			t.Fatalf("zoom %d: no suitability cells", z)
		}
		compared := 0
		for _, f := range l.Features {
			if f.Properties.MustString("county_code") != county {
				continue
			}
			got := verdict{score: -1}
			got.excluded, _ = f.Properties["excluded"].(string)
			if score, ok := f.Properties["score"].(float64); ok {
				got.score = score
			}
			// The tile rounds to 0.1, the surface to 0.01.
			if w, ok := want[f.Properties.MustString("cell")]; !ok || got.excluded != w.excluded || math.Abs(got.score-w.score) > 0.051 {
				t.Errorf("zoom %d cell %s: tile says %+v, surface %+v", z, f.Properties.MustString("cell"), got, w)
			}
			compared++
		}
		t.Logf("zoom %d: %d bytes, %d cells of %s", z, len(data), compared, county)
		if compared == 0 {
			t.Errorf("zoom %d: no cell of %s compared", z, county)
		}
	}
}

// TestTilesAsOf decodes tiles as of a moment before an edit and after it,
// and checks them against SQL over the history: a deleted project is
// still drawn as of before, a village's and its county's figures are
// those that held then.
func TestTilesAsOf(t *testing.T) {
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	ctx := context.Background()
	const village, county = "520304116203", "520304"
	var project string
	var lon, lat float64
	if err := pool.QueryRow(ctx, `SELECT code, ST_X(geom), ST_Y(geom) FROM projects
		WHERE GeometryType(geom) = 'POINT' AND county_code = $1 ORDER BY code LIMIT 1`, county).Scan(&project, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time {
		var now time.Time
		if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			t.Fatal(err)
		}
		return now
	}
	before := clock()
	_, err := geo.Change(ctx, pool, geo.Actor{Name: "test", All: true}, nil, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM projects WHERE code = $1`, project); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE villages SET poor_population = poor_households WHERE code = $1`, village)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after := clock()
	projectTile := at(lon, lat, 12)
	villageTile := featureTile(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = '`+village+`'`, 12)
	countyTile := featureTile(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = '`+county+`'`, 6)
	for _, m := range []time.Time{before, after} {
		past := func(name string, tile maptile.Tile) map[string]*mvt.Layer {
			b, err := svc.Tile(ctx, name, tile, &m)
			if err != nil {
				t.Fatalf("Tile(%s, %v) as of %s: %v", name, tile, m, err)
			}
			layers, err := mvt.Unmarshal(b)
			if err != nil {
				t.Fatalf("Tile(%s, %v) as of %s does not decode: %v", name, tile, m, err)
			}
			byName := map[string]*mvt.Layer{}
			for _, l := range layers {
				byName[l.Name] = l
			}
			return byName
		}
		truth := func(sql string, args ...any) int64 {
			var n int64
			if err := pool.QueryRow(ctx, sql, append([]any{m}, args...)...).Scan(&n); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			return n
		}
		layers := past(tiles.CompositeName, projectTile)
		want := truth(`SELECT count(*) FROM projects_history WHERE valid @> $1::timestamptz
			AND ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope($2, $3, $4, margin => 0.015625))`,
			int(projectTile.Z), int(projectTile.X), int(projectTile.Y))
		got := 0
		if l := layers["projects"]; l != nil {
			got = len(l.Features)
		}
		if int64(got) != want || (want == 0 && m.Equal(before)) {
			t.Errorf("projects as of %s: %d, want %d", m, got, want)
		}
		if _, drawn := featureByProperty(layers["projects"], "code", project); drawn != m.Equal(before) {
			t.Errorf("deleted project drawn as of %s: %v", m, drawn)
		}
		f, ok := featureByProperty(past(tiles.CompositeName, villageTile)["villages"], "code", village)
		if want := truth(`SELECT poor_population FROM villages_history WHERE valid @> $1::timestamptz AND code = $2`, village); !ok || int64(f.Properties["poor_population"].(float64)) != want {
			t.Errorf("village as of %s: %v, want poor_population %d", m, f, want)
		}
		f, ok = featureByProperty(past(tiles.CompositeName, countyTile)["counties"], "code", county)
		if want := truth(`SELECT poor_population FROM region_rollups_history WHERE valid @> $1::timestamptz AND code = $2`, county); !ok || int64(f.Properties["poor_population"].(float64)) != want {
			t.Errorf("county as of %s: %v, want poor_population %d", m, f, want)
		}
	}
}

// featureByProperty is the feature of l whose property name is value.
func featureByProperty(l *mvt.Layer, name, value string) (*geojson.Feature, bool) {
	if l == nil {
		return nil, false
	}
	for _, f := range l.Features {
		if f.Properties[name] == value {
			return f, true
		}
	}
	return nil, false
}

// TestWarm: after Warm, the connections it held have run the composite
// tileset's statement of every zoom once (PostgreSQL's plans are then
// kept on them), and a tile made afterwards is the same.
func TestWarm(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	svc := tiles.NewService(tiles.Config{}, pool)
	before, _ := fetch(t, svc, tiles.CompositeName, goldenTiles[0])
	if err := svc.Warm(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ts, _ := svc.Tileset(tiles.CompositeName)
	var statements []string // zooms that draw the same layers share one
	for z := ts.MinZoom(); z <= ts.MaxZoom(); z++ {
		if q := ts.Query(z); !slices.Contains(statements, q) {
			statements = append(statements, q)
		}
	}
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range 2 {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var planned int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements
			WHERE statement = ANY ($1) AND generic_plans + custom_plans > 0`, statements).Scan(&planned); err != nil {
			t.Fatal(err)
		}
		if planned != len(statements) {
			t.Errorf("a connection has run %d of the %d tile statements", planned, len(statements))
		}
	}
	for _, c := range conns {
		c.Release()
	}
	conns = nil
	if after, _ := fetch(t, svc, tiles.CompositeName, goldenTiles[0]); !bytes.Equal(before, after) {
		t.Error("the tile made after Warm differs")
	}
}
