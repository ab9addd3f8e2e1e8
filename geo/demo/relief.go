package demo

import (
	"fmt"
	"math"

	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/zunyi/battlemap/geo/terrain"
)

// The demo terrain is synthetic: no elevation data of Zunyi is among the
// demo's sources. It is a deterministic function of the position, made to
// look like the Guizhou karst: rolling uplands of about 800–1,400 m, karst
// plateaus cut into flat treads and steep risers, and steep river valleys
// carved several hundred metres deep, within about 300–2,200 m. The
// generator (cmd/demodata) puts the hazard zones on its steepest valley
// sides; the loader writes it as a GeoTIFF and imports it through the
// DEM import (geo/terrain), as real data would come.

// Relief seeds: changing one changes the whole terrain (and the hazard
// zones the generator places on it).
const (
	seedUpland  = 0x5a17
	seedPlateau = 0x7e11
	seedRiver   = 0xc0de
	seedDetail  = 0x0bad
)

// Elevation is the demo terrain's elevation, in metres, at (x, y) in WGS
// 84 / UTM zone 48N metres (EPSG:32648).
func Elevation(x, y float64) float64 {
	// Uplands: broad swells, lower towards the north-west, where the
	// Chishui river leaves the plateau.
	e := 1050 + 480*fbm(x/60e3, y/60e3, 3, seedUpland)
	e -= 450 * smoothstep(0, 1, (620e3-x)/60e3) * smoothstep(0, 1, (y-3_130e3)/60e3)
	// Karst plateaus: where the plateau field is high, the ground rises in
	// treads of 120 m joined by steep risers.
	if p := fbm(x/30e3, y/30e3, 3, seedPlateau); p > 0.05 {
		lift := 1300 * (p - 0.05)
		steps := math.Floor(lift / 120)
		e += 120 * (steps + smoothstep(0.85, 1, lift/120-steps))
	}
	// Rivers: along the zero line of a noise field, valleys up to 600 m
	// deep with steep sides.
	r := math.Abs(fbm(x/40e3, y/40e3, 4, seedRiver))
	e -= (250 + 350*smoothstep(800, 1600, e)) * (1 - smoothstep(0, 0.06, r))
	e += 45 * fbm(x/2.5e3, y/2.5e3, 3, seedDetail)
	return math.Max(300, math.Min(2200, e))
}

// DEMCell is the demo DEM's cell size in metres: the terrain grid's.
const DEMCell = 200

// demMargin is how far the demo DEM reaches beyond the city, in metres,
// so that the slope at the city's edge has neighbours.
const demMargin = 2_000

// DEM is the demo terrain over the city's counties (their extent in UTM
// zone 48N, grown by 2 km) on the terrain grid: cells of 200 m aligned
// on multiples of 200 m, each holding Elevation at its centre.
func DEM() (*terrain.Grid, error) {
	minX, minY, maxX, maxY, err := cityExtentUTM()
	if err != nil {
		return nil, err
	}
	snap := func(v float64, up bool) float64 {
		if up {
			return math.Ceil(v/DEMCell) * DEMCell
		}
		return math.Floor(v/DEMCell) * DEMCell
	}
	x0, y0 := snap(minX-demMargin, false), snap(maxY+demMargin, true)
	x1, y1 := snap(maxX+demMargin, true), snap(minY-demMargin, false)
	g := &terrain.Grid{
		Width: int((x1 - x0) / DEMCell), Height: int((y0 - y1) / DEMCell),
		OriginX: x0, OriginY: y0, Cell: DEMCell, EPSG: 32648, NoData: -9999,
	}
	g.Values = make([]float32, g.Width*g.Height)
	for r := range g.Height {
		y := y0 - (float64(r)+0.5)*DEMCell
		for c := range g.Width {
			g.Values[r*g.Width+c] = float32(Elevation(x0+(float64(c)+0.5)*DEMCell, y))
		}
	}
	return g, nil
}

// cityExtentUTM is the extent of the counties' boundaries in UTM zone
// 48N metres.
func cityExtentUTM() (minX, minY, maxX, maxY float64, err error) {
	b, err := files.ReadFile("data/counties.geojson")
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("demo: %w", err)
	}
	var fc geojson.FeatureCollection
	if err := fc.UnmarshalJSON(b); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("demo: counties.geojson: %w", err)
	}
	minX, minY, maxX, maxY = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, f := range fc.Features {
		flat := f.Geometry.FlatCoords()
		stride := f.Geometry.Layout().Stride()
		for i := 0; i+1 < len(flat); i += stride {
			x, y := UTM48(flat[i], flat[i+1])
			minX, minY, maxX, maxY = math.Min(minX, x), math.Min(minY, y), math.Max(maxX, x), math.Max(maxY, y)
		}
	}
	if len(fc.Features) == 0 || math.IsInf(minX, 0) {
		return 0, 0, 0, 0, fmt.Errorf("demo: counties.geojson holds no boundary")
	}
	return minX, minY, maxX, maxY, nil
}

// UTM48 projects WGS 84 longitude and latitude (degrees) to UTM zone 48N
// (EPSG:32648) easting and northing in metres, by the transverse
// Mercator series of Snyder's "Map Projections: A Working Manual"
// (USGS 1987, eq. 8-9 to 8-10), which agree with PROJ to well under a
// millimetre within the zone's reach of Zunyi.
func UTM48(lon, lat float64) (x, y float64) {
	const (
		a    = 6378137.0
		f    = 1 / 298.257223563
		k0   = 0.9996
		lon0 = 105 * math.Pi / 180
	)
	e2 := f * (2 - f)
	ep2 := e2 / (1 - e2)
	phi, lam := lat*math.Pi/180, lon*math.Pi/180
	sin, cos, tan := math.Sin(phi), math.Cos(phi), math.Tan(phi)
	n := a / math.Sqrt(1-e2*sin*sin)
	t := tan * tan
	c := ep2 * cos * cos
	aa := (lam - lon0) * cos
	e4, e6 := e2*e2, e2*e2*e2
	m := a * ((1-e2/4-3*e4/64-5*e6/256)*phi - (3*e2/8+3*e4/32+45*e6/1024)*math.Sin(2*phi) +
		(15*e4/256+45*e6/1024)*math.Sin(4*phi) - (35*e6/3072)*math.Sin(6*phi))
	x = 500000 + k0*n*(aa+(1-t+c)*math.Pow(aa, 3)/6+(5-18*t+t*t+72*c-58*ep2)*math.Pow(aa, 5)/120)
	y = k0 * (m + n*tan*(aa*aa/2+(5-t+9*c+4*c*c)*math.Pow(aa, 4)/24+(61-58*t+t*t+600*c-330*ep2)*math.Pow(aa, 6)/720))
	return x, y
}

// fbm is fractal noise: octaves of value noise at doubling frequencies and
// halving amplitudes, in about [-1, 1].
func fbm(x, y float64, octaves int, seed uint64) float64 {
	sum, amp, norm := 0.0, 1.0, 0.0
	for o := range octaves {
		sum += amp * valueNoise(x, y, seed+uint64(o)*0x9e37)
		norm += amp
		x, y, amp = x*2.03, y*2.03, amp/2
	}
	return sum / norm
}

// valueNoise interpolates random values at the integer lattice, smoothly
// (quintic fade), in [-1, 1].
func valueNoise(x, y float64, seed uint64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := fade(x-x0), fade(y-y0)
	ix, iy := int64(x0), int64(y0)
	v00, v10 := lattice(ix, iy, seed), lattice(ix+1, iy, seed)
	v01, v11 := lattice(ix, iy+1, seed), lattice(ix+1, iy+1, seed)
	return lerp(lerp(v00, v10, fx), lerp(v01, v11, fx), fy)
}

// lattice is the random value at lattice point (ix, iy), in [-1, 1]: a
// hash (SplitMix64's finaliser), so that it depends on nothing but its
// arguments.
func lattice(ix, iy int64, seed uint64) float64 {
	h := uint64(ix)*0x9e3779b97f4a7c15 ^ uint64(iy)*0xc2b2ae3d27d4eb4f ^ seed*0x165667b19e3779f9
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11)/float64(1<<52) - 1
}

func fade(t float64) float64       { return t * t * t * (t*(t*6-15) + 10) }
func lerp(a, b, t float64) float64 { return a + (b-a)*t }

// smoothstep rises smoothly from 0 at v ≤ lo to 1 at v ≥ hi.
func smoothstep(lo, hi, v float64) float64 {
	t := math.Max(0, math.Min(1, (v-lo)/(hi-lo)))
	return t * t * (3 - 2*t)
}
