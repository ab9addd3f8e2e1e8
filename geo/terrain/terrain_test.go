package terrain_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/geo/terrain"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var admin = geo.Actor{Name: "terrain test", All: true}

// Test grids near Zunyi's city centre (about 690 km E, 3,067 km N in UTM
// zone 48N): 300 × 260 cells of 200 m, more than two tiles each way, so
// that tile edges run through them.
const (
	originX = 660_000
	originY = 3_090_000
	cols    = 300
	rows    = 260
)

// grid is a test grid on the terrain grid whose cell (c, r) holds f(c, r).
func grid(f func(c, r int) float64) *terrain.Grid {
	g := &terrain.Grid{Width: cols, Height: rows, OriginX: originX, OriginY: originY, Cell: 200, EPSG: 32648, NoData: -9999,
		Values: make([]float32, cols*rows)}
	for r := range rows {
		for c := range cols {
			g.Values[r*cols+c] = float32(f(c, r))
		}
	}
	return g
}

// tiff is g as a GeoTIFF.
func tiff(t *testing.T, g *terrain.Grid) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := g.WriteGeoTIFF(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hills is a relief of ridges and valleys, which no plane can stand for.
func hills(c, r int) float64 {
	return 1200 + 180*math.Sin(float64(c)/9)*math.Cos(float64(r)/6) + 2*float64(c)
}

// hornSlope is the slope in degrees of cell (c, r) of g by Horn's
// method, as ST_Slope computes it from the cell's eight neighbours.
func hornSlope(g *terrain.Grid, c, r int) float64 {
	z := func(dc, dr int) float64 { return float64(g.At(c+dc, r+dr)) }
	dzdx := ((z(1, -1) + 2*z(1, 0) + z(1, 1)) - (z(-1, -1) + 2*z(-1, 0) + z(-1, 1))) / (8 * g.Cell)
	dzdy := ((z(-1, 1) + 2*z(0, 1) + z(1, 1)) - (z(-1, -1) + 2*z(0, -1) + z(1, -1))) / (8 * g.Cell)
	return math.Atan(math.Hypot(dzdx, dzdy)) * 180 / math.Pi
}

// at reads terrain_at at the centre of cell (c, r) of the test grid.
func at(t *testing.T, pool *pgxpool.Pool, c, r int) (elevation, slope *float64) {
	t.Helper()
	x, y := originX+200*float64(c)+100, originY-200*float64(r)-100
	err := pool.QueryRow(context.Background(),
		`SELECT elevation, slope FROM terrain_at(ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 32648), 4326))`, x, y).
		Scan(&elevation, &slope)
	if err != nil {
		t.Fatal(err)
	}
	return elevation, slope
}

// TestImportRoundTrip imports a DEM on the terrain grid as the server's
// own role (battlemap_app) and reads it back: every elevation sampled through terrain_at is the generated
// value, and the slope is Horn's slope of the generated values, on the
// cells either side of tile edges as anywhere else.
func TestImportRoundTrip(t *testing.T) {
	pool := pgtest.AsApp(t, pgtest.New(t))
	ctx := context.Background()
	g := grid(hills)
	rep, err := terrain.Import(ctx, pool, admin, bytes.NewReader(tiff(t, g)), 64<<20)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if rep.Resampled || rep.SourceSRID != 32648 || rep.Width != cols || rep.Height != rows || rep.Tiles != 9 {
		t.Errorf("report %+v, want on the grid, EPSG:32648, %d × %d cells in 9 tiles", rep, cols, rows)
	}
	var tiles, sameGrid int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE ST_SameAlignment(t.rast, s.rast)
		AND ST_Width(t.rast) = ST_Width(s.rast) AND ST_Height(t.rast) = ST_Height(s.rast))
		FROM terrain t JOIN terrain_slope s USING (rid)`).Scan(&tiles, &sameGrid); err != nil || tiles != 9 || sameGrid != 9 {
		t.Errorf("slope tiles matching terrain tiles: %d of %d (%v), want 9 of 9", sameGrid, tiles, err)
	}
	// Cells either side of the tile edges at column 128 and row 128, and
	// some inside.
	for _, cell := range [][2]int{{127, 50}, {128, 50}, {127, 127}, {128, 128}, {60, 127}, {60, 128}, {255, 200}, {256, 200}, {10, 10}, {290, 250}} {
		c, r := cell[0], cell[1]
		elevation, slope := at(t, pool, c, r)
		if elevation == nil || float32(*elevation) != g.At(c, r) {
			t.Errorf("elevation of cell (%d, %d): got %v, want %v", c, r, deref(elevation), g.At(c, r))
		}
		if want := hornSlope(g, c, r); slope == nil || math.Abs(*slope-want) > 1e-3 {
			t.Errorf("slope of cell (%d, %d): got %v°, want %.4f°", c, r, deref(slope), want)
		}
	}
	// The slope is ST_Slope's: of the middle tile, over it and its
	// neighbours, cell by cell.
	var diff float64
	if err := pool.QueryRow(ctx, `
WITH mid AS (SELECT rast FROM terrain WHERE rid = 5),
     n AS (SELECT ST_Union(rast) AS rast FROM terrain),
     st AS MATERIALIZED (SELECT ST_Slope(n.rast, 1, mid.rast, '32BF', 'DEGREES') AS rast FROM n, mid)
SELECT max(abs(ST_Value(st.rast, 1, x, y) - ST_Value(s.rast, 1, x, y)))
FROM st, terrain_slope s, generate_series(1, 128) x, generate_series(1, 128, 7) y
WHERE s.rid = 5`).Scan(&diff); err != nil || diff > 1e-4 {
		t.Errorf("slope of tile 5 differs from ST_Slope's by up to %g° (%v), want equal", diff, err)
	}
	// A plausible slope: hills of ±180 m over about 2 km.
	if rep.MaxSlope < 5 || rep.MaxSlope > 60 || rep.MinElevation < 900 || rep.MaxElevation > 2100 {
		t.Errorf("report %+v: slope or elevations implausible", rep)
	}
	var version int64
	if err := pool.QueryRow(ctx, `SELECT data_version FROM audit_log WHERE table_name = 'terrain' AND action = 'import' ORDER BY id DESC LIMIT 1`).
		Scan(&version); err != nil {
		t.Errorf("audit row of the import: %v", err)
	}
	// Outside the DEM there is no terrain.
	if e, s := at(t, pool, -50, -50); e != nil || s != nil {
		t.Errorf("outside the DEM: got %v, %v, want nulls", deref(e), deref(s))
	}
}

// TestImportResamples imports a DEM in WGS 84 degrees, which PostGIS
// resamples onto the terrain grid.
func TestImportResamples(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	// 0.002° cells (about 200 m) over 106.8–107.0 E, 27.6–27.8 N, rising
	// 1 m per cell eastwards.
	g := &terrain.Grid{Width: 100, Height: 100, OriginX: 106.8, OriginY: 27.8, Cell: 0.002, EPSG: 4326, NoData: -9999,
		Values: make([]float32, 100*100)}
	for i := range g.Values {
		g.Values[i] = float32(800 + i%100)
	}
	rep, err := terrain.Import(ctx, pool, admin, bytes.NewReader(tiff(t, g)), 64<<20)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if !rep.Resampled || rep.SourceSRID != 4326 || rep.Tiles == 0 {
		t.Errorf("report %+v, want resampled from EPSG:4326", rep)
	}
	var elevation, slope float64
	err = pool.QueryRow(ctx, `SELECT elevation, slope FROM terrain_at(ST_SetSRID(ST_MakePoint(106.9001, 27.7), 4326))`).Scan(&elevation, &slope)
	if err != nil {
		t.Fatal(err)
	}
	// 106.9001 E is 50 cells east of the DEM's edge: about 850 m.
	if math.Abs(elevation-850) > 1.5 || slope < 0.1 || slope > 0.5 {
		t.Errorf("at 106.9001 E 27.7 N: elevation %.2f m, slope %.3f°; want about 850 m and 0.29° (1 m per 200 m)", elevation, slope)
	}
}

// TestImportRejects: a bad DEM is refused with an error that says what is
// wrong, and changes nothing.
func TestImportRejects(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	good := tiff(t, grid(hills))
	if _, err := terrain.Import(ctx, pool, admin, bytes.NewReader(good), 64<<20); err != nil {
		t.Fatalf("Import: %v", err)
	}
	const sqlChecksum = `SELECT md5(string_agg(rid::text || md5(rast::text), ',' ORDER BY rid)) ||
		(SELECT md5(string_agg(rid::text || md5(rast::text), ',' ORDER BY rid)) FROM terrain_slope) FROM terrain`
	var before string
	if err := pool.QueryRow(ctx, sqlChecksum).Scan(&before); err != nil {
		t.Fatal(err)
	}
	app := pgtest.AsApp(t, pool)
	outside := grid(hills)
	outside.OriginX, outside.OriginY = 200_000, 5_000_000
	empty := grid(func(int, int) float64 { return -9999 })
	undeclared := grid(func(c, r int) float64 {
		if c < 10 {
			return -32768 // SRTM's no-data value, not declared as such
		}
		return hills(c, r)
	})
	noCRS := grid(hills)
	noCRS.EPSG = 65000 // no such EPSG code
	tests := []struct {
		name   string
		body   []byte
		actor  geo.Actor
		max    int64
		code   string
		reason string
	}{
		{"not a TIFF", []byte("elevation\n1000\n"), admin, 64 << 20, geo.EInvalid, "does not begin as a TIFF does"},
		{"a PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), admin, 64 << 20, geo.EInvalid, "must be a GeoTIFF"},
		{"truncated", good[:600], admin, 64 << 20, geo.EInvalid, "GDAL cannot read the DEM"},
		{"no known CRS", tiff(t, noCRS), admin, 64 << 20, geo.EInvalid, "no coordinate reference system"},
		{"outside the city", tiff(t, outside), admin, 64 << 20, geo.EInvalid, "outside the city"},
		{"no value", tiff(t, empty), admin, 64 << 20, geo.EInvalid, "holds no value"},
		{"no-data not declared", tiff(t, undeclared), admin, 64 << 20, geo.EInvalid, "not elevations in metres"},
		{"too large", good, admin, 1000, geo.ETooLarge, "larger than 1000 bytes"},
		{"a county user", good, geo.Actor{Name: "county user", Counties: []string{"520302"}}, 64 << 20, geo.EForbidden, "outside what you may change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := terrain.Import(ctx, app, tt.actor, bytes.NewReader(tt.body), tt.max)
			if got := geo.ErrorCode(err); got != tt.code || rep != nil {
				t.Fatalf("error %v (code %q), report %+v; want code %q and no report", err, got, rep, tt.code)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.reason)) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			var after string
			if err := pool.QueryRow(ctx, sqlChecksum).Scan(&after); err != nil || after != before {
				t.Errorf("the terrain changed (%v)", err)
			}
		})
	}
}

// TestWriteGeoTIFFRefusesBadGrids: a grid whose values do not fill it is
// not written.
func TestWriteGeoTIFFRefusesBadGrids(t *testing.T) {
	for _, g := range []*terrain.Grid{
		{Width: 2, Height: 2, Cell: 200, EPSG: 32648, Values: make([]float32, 3)},
		{Width: 0, Height: 0, Cell: 200, EPSG: 32648},
		{Width: 1, Height: 1, Cell: 0, EPSG: 32648, Values: make([]float32, 1)},
	} {
		if err := g.WriteGeoTIFF(&bytes.Buffer{}); err != terrain.ErrBadGrid {
			t.Errorf("%+v: got %v, want ErrBadGrid", g, err)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
