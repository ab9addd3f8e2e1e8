package tiles_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// TestLevelsByZoom: with a province above Zunyi and a second city, each
// zoom draws the level that fills the map there — the province to zoom 3,
// the cities at 4–5, the counties from 6 — with the figures of the raw
// tables summed over the region's villages, its summary points and its
// labels at the same level; nothing of the other levels.
func TestLevelsByZoom(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	svc := tiles.NewService(tiles.Config{}, pool)
	ctx := context.Background()
	tests := []struct {
		z      int
		layer  string
		level  string
		absent []string
	}{
		{3, "provinces", "province", []string{"cities", "counties", "townships"}},
		{4, "cities", "city", []string{"provinces", "counties", "townships"}},
		{5, "cities", "city", []string{"provinces", "counties", "townships"}},
		{6, "counties", "county", []string{"provinces", "cities", "townships"}},
	}
	for _, tt := range tests {
		// Zunyi's centre and the second city lie in one tile up to zoom 6.
		tile := at(106.0, 27.0, tt.z)
		if tt.z == 6 {
			tile = at(106.93, 27.72, tt.z)
		}
		_, layers := fetch(t, svc, tiles.CompositeName, tile)
		l := layers[tt.layer]
		if l == nil {
			t.Errorf("zoom %d: no %s layer", tt.z, tt.layer)
			continue
		}
		want := count(t, pool, `SELECT count(*) FROM regions WHERE level = '`+tt.level+`'
			AND ST_Intersects(ST_Transform(boundary, 3857), `+margin+`)`, tile)
		if len(l.Features) != want || want == 0 {
			t.Errorf("zoom %d: %d %s, want %d", tt.z, len(l.Features), tt.layer, want)
		}
		for _, f := range l.Features {
			code := f.Properties.MustString("code")
			var poor, notExited, projects float64
			err := pool.QueryRow(ctx, `SELECT
				(SELECT coalesce(sum(v.poor_population), 0) FROM villages v JOIN regions r USING (code) WHERE region_lineage(r.code) @> ARRAY[$1]),
				(SELECT count(*) FROM regions r WHERE r.level = 'village' AND region_lineage(r.code) @> ARRAY[$1] AND r.poverty_status = 'not_exited'),
				(SELECT count(*) FROM projects p JOIN regions c ON c.code = p.county_code WHERE region_lineage(c.code) @> ARRAY[$1])`,
				code).Scan(&poor, &notExited, &projects)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				field string
				want  float64
			}{{"poor_population", poor}, {"villages_not_exited", notExited}, {"projects", projects}} {
				if got := f.Properties.MustFloat64(c.field); got != c.want || got == 0 {
					t.Errorf("zoom %d %s %s: %s = %v, want %v (not 0)", tt.z, tt.layer, code, c.field, got, c.want)
				}
			}
		}
		for _, name := range tt.absent {
			if layers[name] != nil {
				t.Errorf("zoom %d: layer %s drawn, want only %s", tt.z, name, tt.layer)
			}
		}
		// The labels and the summary points are those of the same level.
		if labels := layers["labels"]; labels == nil {
			t.Errorf("zoom %d: no labels", tt.z)
		} else {
			for _, f := range labels.Features {
				if lv := f.Properties.MustString("level"); lv != tt.level {
					t.Errorf("zoom %d: a label of a %s, want only %s", tt.z, lv, tt.level)
				}
			}
		}
		for _, name := range []string{"sites", "projects"} {
			s := layers[name]
			if s == nil {
				t.Errorf("zoom %d: no %s summary", tt.z, name)
				continue
			}
			for _, f := range s.Features {
				code := f.Properties.MustString("region_code")
				if !slices.ContainsFunc(l.Features, func(r2 *geojson.Feature) bool { return r2.Properties.MustString("code") == code }) {
					t.Errorf("zoom %d: %s summarised for %s, not a region of the %s layer", tt.z, name, code, tt.layer)
				}
			}
		}
	}
}

// TestCrowdedVillages: a tile of zoom 9 or 10 where more villages lie
// than it draws all of keeps its poverty villages, and the tile of zoom
// 11 over the same place draws every village; where few lie, zooms 9 and
// 10 draw all.
func TestCrowdedVillages(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddSecondCity(t, pool)
	ctx := context.Background()
	c := pgtest.SecondCity
	// A second township south of the first, and 1,698 villages on grids
	// inside the two, one in eight of them poverty villages (one statement
	// per table: the rollups follow as an import's do).
	second := c.County + "002"
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO regions (code, name, level, parent_code, boundary, point)
		  VALUES ($1, '测试乡', 'township', $2, ST_Multi(ST_MakeEnvelope(105.1, 25.82, 105.4, 25.9, 4326)), ST_Point(105.25, 25.86, 4326))`,
			[]any{second, c.County}},
		{`INSERT INTO regions (code, name, level, parent_code, point, poverty_status)
		  SELECT t.code || lpad(i::text, 3, '0'), '密集村' || t.code || i, 'village', t.code,
		         ST_Point(105.11 + (i % 35) * 0.008, t.lat + (i / 35) * 0.0035, 4326),
		         CASE WHEN i % 8 = 0 THEN 'not_exited' ELSE 'none' END
		  FROM (VALUES ($1::text, 25.91, 999), ($2::text, 25.825, 700)) t (code, lat, n), generate_series(2, t.n) i`,
			[]any{c.Township, second}},
		{`INSERT INTO villages (code, population, poor_households, poor_population)
		  SELECT code, 500, CASE WHEN poverty_status = 'none' THEN 0 ELSE 10 END, CASE WHEN poverty_status = 'none' THEN 0 ELSE 30 END
		  FROM regions WHERE parent_code IN ($1, $2) AND level = 'village' AND code <> $3`,
			[]any{c.Township, second, c.Village}},
	} {
		if _, err := pool.Exec(ctx, step.sql, step.args...); err != nil {
			t.Fatalf("%v\n%s", err, step.sql)
		}
	}
	svc := tiles.NewService(tiles.Config{}, pool)
	villagesIn := func(tile maptile.Tile, where string) int {
		return count(t, pool, `SELECT count(*) FROM regions WHERE level = 'village' AND `+where+`
			AND ST_Intersects(ST_Transform(point, 3857), `+margin+`)`, tile)
	}
	for _, tt := range []struct {
		name    string
		tile    maptile.Tile
		crowded bool // more than tiles.CrowdedVillages lie in the tile
		where   string
	}{
		{"crowded zoom 9: the poverty villages", at(105.25, 26.0, 9), true, "poverty_status <> 'none'"},
		{"crowded zoom 10: the poverty villages", at(105.25, 26.0, 10), true, "poverty_status <> 'none'"},
		{"zoom 11: every village", at(105.25, 26.0, tiles.EveryVillageFrom), false, "true"},
		{"zoom 9 elsewhere: every village", at(106.93, 27.72, 9), false, "true"},
		{"zoom 10 elsewhere: every village", at(106.93, 27.72, 10), false, "true"},
	} {
		if all := villagesIn(tt.tile, "true"); (all > tiles.CrowdedVillages) != tt.crowded {
			t.Fatalf("%s: %v holds %d villages: the case tests nothing", tt.name, tt.tile, all)
		}
		_, layers := fetch(t, svc, tiles.CompositeName, tt.tile)
		got := 0
		if l := layers["villages"]; l != nil {
			got = len(l.Features)
		}
		if want := villagesIn(tt.tile, tt.where); got != want || want == 0 {
			t.Errorf("%s: %d villages in %v, want %d", tt.name, got, tt.tile, want)
		}
	}
}

// TestTileShapeZooms: each layer of regions reads the pieces of the shapes
// stored for a tile's zoom (region_tile_pieces) at exactly the zooms the
// database stores them for its level (region_tile_zooms), and every
// region of the level has a shape at each of them.
func TestTileShapeZooms(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	ctx := context.Background()
	levels := map[*geo.Collection]string{geo.Provinces: "province", geo.Cities: "city", geo.Counties: "county", geo.Townships: "township"}
	sets := tiles.Tilesets()
	seen := 0
	for _, l := range tiles.Layers {
		level, ok := levels[l.Collection]
		if !ok {
			continue
		}
		seen++
		var reads []int32
		for z := l.MinZoom; z <= l.MaxZoom; z++ {
			if strings.Contains(sets[l.Name].Query(z), "region_tile_pieces") {
				reads = append(reads, int32(z))
			}
		}
		var stored []int32
		var regions, missing int
		if err := pool.QueryRow(ctx, `SELECT region_tile_zooms($1),
			(SELECT count(*) FROM region_shapes s WHERE s.level = $1),
			(SELECT count(*) FROM region_shapes s CROSS JOIN unnest(region_tile_zooms(s.level)) z (z)
			 WHERE s.level = $1 AND NOT EXISTS (SELECT FROM region_tile_shapes t WHERE t.code = s.code AND t.z = z.z))`,
			level).Scan(&stored, &regions, &missing); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(reads, stored) {
			t.Errorf("%s read stored shapes at zooms %v; the database stores those of a %s at %v", l.Name, reads, level, stored)
		}
		if regions == 0 || missing > 0 {
			t.Errorf("%s: %d of the stored shapes of %d regions missing", level, missing, regions)
		}
	}
	if seen != len(levels) {
		t.Errorf("%d layers of regions, want %d", seen, len(levels))
	}
}

// sqlPieceDrift compares the pieces stored of every stored shape with
// ST_AsMVTGeom of the shape, computed here, in every tile of its zoom
// within one tile of its box: it counts the pieces there should be, and
// those missing, left over, of another geometry or of another level.
const sqlPieceDrift = `
WITH live AS (
    SELECT s.code, r.level, s.z, t.x, t.y, t.geom
    FROM region_tile_shapes s
    JOIN region_shapes r ON r.code = s.code
    CROSS JOIN LATERAL (SELECT 40075016.685578488 / 2 ^ s.z AS size, 20037508.342789244 AS half, (1 << s.z) - 1 AS last) k
    CROSS JOIN LATERAL generate_series(greatest(0, floor((ST_XMin(s.shape) + k.half) / k.size)::int - 1),
                                       least(k.last, floor((ST_XMax(s.shape) + k.half) / k.size)::int + 1)) tx (x)
    CROSS JOIN LATERAL generate_series(greatest(0, floor((k.half - ST_YMax(s.shape)) / k.size)::int - 1),
                                       least(k.last, floor((k.half - ST_YMin(s.shape)) / k.size)::int + 1)) ty (y)
    CROSS JOIN LATERAL (SELECT tx.x, ty.y, ST_AsMVTGeom(s.shape, ST_TileEnvelope(s.z, tx.x, ty.y), 4096, 64, true) AS geom) t
    WHERE t.geom IS NOT NULL
)
SELECT count(l.code),
       count(*) FILTER (WHERE l.code IS NULL OR p.code IS NULL OR l.level <> p.level
                        OR ST_AsEWKB(l.geom) <> ST_AsEWKB(p.geom))
FROM live l FULL JOIN region_tile_pieces p USING (code, z, x, y)`

// TestTilePieces: the pieces stored of each stored shape are its
// ST_AsMVTGeom in exactly the tiles where that is not empty, so that a
// tile reading its pieces is the tile made from the shape; and the same
// after two boundaries change, and after every shape is made again.
func TestTilePieces(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		var want, wrong int
		if err := pool.QueryRow(ctx, sqlPieceDrift).Scan(&want, &wrong); err != nil {
			t.Fatal(err)
		}
		if want == 0 || wrong > 0 {
			t.Errorf("%s: %d of %d pieces missing, left over or not the shape's", when, wrong, want)
		}
	}
	check("as migrated")
	if _, err := pool.Exec(ctx, `UPDATE regions SET boundary = ST_Multi(ST_Buffer(boundary, 0.03))
		WHERE code IN (SELECT code FROM regions WHERE level = 'county' ORDER BY code LIMIT 2)`); err != nil {
		t.Fatal(err)
	}
	check("after two counties grew")
	if _, err := pool.Exec(ctx, `SELECT refresh_shapes(NULL)`); err != nil {
		t.Fatal(err)
	}
	check("made again from every boundary")
}

// TestTileShapesFollowEdits: after boundaries are edited (a county takes
// in a township of its neighbour, the city grows), the tiles drawing the
// stored shapes of the regions edited — the city at zooms 4 and 5, the
// counties at 6, 8 and 9 — are not what they were, and are byte for byte the
// tiles made after every region's shapes are made again from the
// boundaries; a tile as of before the edit is the tile that was.
func TestTileShapesFollowEdits(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	ctx := context.Background()
	svc := tiles.NewService(tiles.Config{}, pool)
	var zs []maptile.Tile
	for _, z := range []int{4, 5, 6, 8, 9} {
		zs = append(zs, at(106.93, 27.72, z))
	}
	draw := func() [][]byte {
		var out [][]byte
		for _, tile := range zs {
			b, _ := fetch(t, svc, tiles.CompositeName, tile)
			out = append(out, b)
		}
		return out
	}
	var moment time.Time
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&moment); err != nil {
		t.Fatal(err)
	}
	before := draw()
	for _, sql := range []string{
		`UPDATE regions SET parent_code = '520303' WHERE code = '520302001'`,
		`UPDATE regions c SET boundary = ST_Multi(ST_Union(c.boundary, t.boundary)) FROM regions t WHERE c.code = '520303' AND t.code = '520302001'`,
		`UPDATE regions SET boundary = ST_Multi(ST_Buffer(boundary, 0.05)) WHERE code = '520300'`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	edited := draw()
	if _, err := pool.Exec(ctx, `SELECT refresh_shapes(NULL)`); err != nil {
		t.Fatal(err)
	}
	scratch := draw()
	for i, tile := range zs {
		if bytes.Equal(edited[i], before[i]) {
			t.Errorf("%v: the same tile after the edit", tile)
		}
		if !bytes.Equal(edited[i], scratch[i]) {
			t.Errorf("%v after the edit: %d bytes; made from every boundary again: %d bytes", tile, len(edited[i]), len(scratch[i]))
		}
		past, err := svc.Tile(ctx, tiles.CompositeName, tile, &moment)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(past, before[i]) {
			t.Errorf("%v as of before the edit: %d bytes; the tile then: %d bytes", tile, len(past), len(before[i]))
		}
	}
}
