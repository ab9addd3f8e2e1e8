package gazetteer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Distances in degrees of longitude and latitude, the units the township
// cells (Voronoi cells of the seats) are computed in.
const (
	// PointMargin is how far village, site and project points stay inside
	// the county boundary and inside their township's cell, so that
	// rounding and ST_MakeValid cannot move them across an edge.
	PointMargin = 0.002
	// LineMargin is the same for the vertices of project lines, smaller
	// so that a short first step from a village point is always possible.
	LineMargin = 0.001
	// UrbanRadius is how far from the county town subdistrict (街道)
	// seats are drawn: subdistricts are the town itself.
	UrbanRadius = 0.06
	// seatCandidates and villageCandidates are the sizes of the
	// best-candidate draws; more spreads points more evenly.
	seatCandidates    = 30
	villageCandidates = 8
	// maxAttempts bounds every rejection-sampling loop.
	maxAttempts = 20000
	// shrinkEvery and shrinkFactor narrow a sampling radius after that
	// many rejections, so that a small or awkward cell still yields a
	// point: near enough to the seat, every point is valid.
	shrinkEvery  = 200
	shrinkFactor = 0.8
)

// Spacing is how far township seats stay from the county boundary
// (Margin) and from each other (Gap). Both must exceed 2*PointMargin: then
// points near enough to a seat are valid village points, so village
// placement always ends.
type Spacing struct{ Margin, Gap float64 }

// DefaultSpacing leaves every seat room around it for its villages.
var DefaultSpacing = Spacing{Margin: 0.008, Gap: 0.012}

// Area is a county boundary with its bounding box, for fast rejection,
// and an index of its edges (edgeIndex) for the interior checks.
type Area struct {
	Shape orb.MultiPolygon
	Bound orb.Bound
	edges *edgeIndex
}

// NewArea wraps a county boundary for the placement checks.
func NewArea(mp orb.MultiPolygon) Area {
	return Area{Shape: mp, Bound: mp.Bound(), edges: newEdgeIndex(mp)}
}

// Interior reports whether p lies inside the county at least margin from
// its boundary. With a margin, p is off the boundary and the edge index
// answers; with none, whether a point on the boundary is in is orb's
// call (it is).
func (a Area) Interior(p orb.Point, margin float64) bool {
	if !a.Bound.Contains(p) {
		return false
	}
	if margin > 0 && a.edges != nil {
		return !a.edges.near(p, margin) && a.edges.inside(p)
	}
	return planar.MultiPolygonContains(a.Shape, p) && planar.DistanceFrom(a.Shape, p) >= margin
}

// Round6 rounds a point to the six decimals written out, so that every
// check is made on the coordinates the loader will read.
func Round6(p orb.Point) orb.Point {
	return orb.Point{math.Round(p[0]*1e6) / 1e6, math.Round(p[1]*1e6) / 1e6}
}

// inDisk returns a uniform random point within radius of c.
func inDisk(r *rand.Rand, c orb.Point, radius float64) orb.Point {
	d := radius * math.Sqrt(r.Float64())
	a := 2 * math.Pi * r.Float64()
	return orb.Point{c[0] + d*math.Cos(a), c[1] + d*math.Sin(a)}
}

// InAnnulus returns a uniform random point between inner and outer of c.
func InAnnulus(r *rand.Rand, c orb.Point, inner, outer float64) orb.Point {
	d := math.Sqrt(inner*inner + (outer*outer-inner*inner)*r.Float64())
	a := 2 * math.Pi * r.Float64()
	return orb.Point{c[0] + d*math.Cos(a), c[1] + d*math.Sin(a)}
}

// inBound returns a uniform random point of the box.
func inBound(r *rand.Rand, b orb.Bound) orb.Point {
	return orb.Point{Uniform(r, b.Min[0], b.Max[0]), Uniform(r, b.Min[1], b.Max[1])}
}

// nearest returns the distance from p to the nearest of pts, or +Inf.
func nearest(pts []orb.Point, p orb.Point) float64 {
	d := math.Inf(1)
	for _, q := range pts {
		d = min(d, planar.Distance(p, q))
	}
	return d
}

// CellMargin is how far p lies inside the nearest-seat (Voronoi) cell of
// seats[own]: its least distance to the bisector between seats[own] and
// any other seat, negative when another seat is nearer. The signed
// distance from p to the bisector of a and b is
// (|p−b|² − |p−a|²) / (2|a−b|).
func CellMargin(p orb.Point, seats []orb.Point, own int) float64 {
	m := math.Inf(1)
	da := planar.DistanceSquared(p, seats[own])
	for j, s := range seats {
		if j == own {
			continue
		}
		m = min(m, (planar.DistanceSquared(p, s)-da)/(2*planar.Distance(seats[own], s)))
	}
	return m
}

// PlaceSeats returns the seats of one county's townships (sorted by
// code) inside the county, drawn from r. The first township, which is the
// county town in the national codes, sits at ECharts' label point when
// that is well inside; subdistricts (街道) crowd around it; the rest are
// spread out by best-candidate sampling: of seatCandidates random valid
// points, the one farthest from the seats already placed. It fails when
// a county has no room for a seat at spacing sp.
func PlaceSeats(r *rand.Rand, c County, towns []Township, sp Spacing) ([]orb.Point, error) {
	a := NewArea(c.Shape)
	placed := make([]orb.Point, 0, len(towns))
	for i := range towns {
		label := Round6(c.Label)
		if i == 0 && a.Interior(label, sp.Margin) {
			placed = append(placed, label)
			continue
		}
		draw := func() orb.Point { return inBound(r, a.Bound) }
		if i > 0 && IsSubdistrict(towns[i].Name) {
			draw = func() orb.Point { return inDisk(r, placed[0], UrbanRadius) }
		}
		best, bestDist := orb.Point{}, -1.0
		for found, attempts := 0, 0; found < seatCandidates; attempts++ {
			if attempts == maxAttempts {
				if found > 0 {
					break
				}
				return nil, fmt.Errorf("county %s: no room for the seat of township %s %s", c.Code, towns[i].Code, towns[i].Name)
			}
			p := Round6(draw())
			d := nearest(placed, p)
			if d < sp.Gap || !a.Interior(p, sp.Margin) {
				continue
			}
			found++
			if d > bestDist {
				best, bestDist = p, d
			}
		}
		placed = append(placed, best)
	}
	return placed, nil
}

// PlaceVillages returns n village points, drawn from r, inside the cell
// of seats[own]: inside the county and nearer its own seat than any other
// seat of the county, both by at least PointMargin. Candidates are drawn
// in a disk around the seat that starts a little wider than the cell is
// likely to be and shrinks after repeated rejections (points near the
// seat are always valid, see Spacing); of villageCandidates valid points
// the one farthest from the seat and the villages already placed is kept.
// It fails when no valid point turns up after maxAttempts.
func PlaceVillages(r *rand.Rand, a Area, seats []orb.Point, own, n int) ([]orb.Point, error) {
	if n == 0 {
		return nil, nil
	}
	seat := seats[own]
	start := 0.15
	for j, s := range seats {
		if j != own {
			start = min(start, 1.5*planar.Distance(seat, s))
		}
	}
	placed := make([]orb.Point, 1, n+1)
	placed[0] = seat
	for k := range n {
		radius := start
		best, bestDist := orb.Point{}, -1.0
		for found, attempts := 0, 0; found < villageCandidates; attempts++ {
			if attempts == maxAttempts {
				if found > 0 {
					break
				}
				return nil, fmt.Errorf("village %d of %d: no valid point in the cell after %d attempts", k+1, n, maxAttempts)
			}
			if attempts > 0 && attempts%shrinkEvery == 0 {
				radius *= shrinkFactor
			}
			p := Round6(inDisk(r, seat, radius))
			if CellMargin(p, seats, own) < PointMargin || !a.Interior(p, PointMargin) {
				continue
			}
			found++
			if d := nearest(placed, p); d > bestDist {
				best, bestDist = p, d
			}
		}
		placed = append(placed, best)
	}
	return placed[1:], nil
}

// PlaceNear returns a point between inner and outer from centre, inside
// the county and inside the cell of seats[own] by PointMargin. The ring
// shrinks towards centre after repeated rejections, so when centre is
// itself a valid point (a seat or a village) the loop always ends.
func PlaceNear(r *rand.Rand, a Area, seats []orb.Point, own int, centre orb.Point, inner, outer float64) (orb.Point, error) {
	for attempts := 1; attempts <= maxAttempts; attempts++ {
		if attempts%shrinkEvery == 0 {
			inner, outer = inner*shrinkFactor, outer*shrinkFactor
		}
		p := Round6(InAnnulus(r, centre, inner, outer))
		if CellMargin(p, seats, own) >= PointMargin && a.Interior(p, PointMargin) {
			return p, nil
		}
	}
	return orb.Point{}, fmt.Errorf("no valid point near %v after %d attempts", centre, maxAttempts)
}

// PlaceLine returns a line of n vertices (2 to 4) starting at start, such
// as a road or a water pipe from a village, wandering in steps of 0.004°
// to 0.012°. Every vertex stays LineMargin inside the county and every
// segment inside it; a step that cannot be made is retried shorter.
func PlaceLine(r *rand.Rand, a Area, start orb.Point, n int) (orb.LineString, error) {
	line := orb.LineString{start}
	heading := 2 * math.Pi * r.Float64()
	for len(line) < n {
		last := line[len(line)-1]
		step := Uniform(r, 0.004, 0.012)
		ok := false
		for attempts := 1; attempts <= maxAttempts; attempts++ {
			if attempts%shrinkEvery == 0 {
				step *= shrinkFactor
			}
			h := heading + r.NormFloat64()*0.6
			p := Round6(orb.Point{last[0] + step*math.Cos(h), last[1] + step*math.Sin(h)})
			if p == last || !a.Interior(p, LineMargin) || !segmentInside(a, last, p) {
				continue
			}
			line, heading, ok = append(line, p), h, true
			break
		}
		if !ok {
			return nil, fmt.Errorf("no room for a line from %v", start)
		}
	}
	return line, nil
}

// segmentInside checks points every 0.0005° along a segment, enough at
// the 1/1024° resolution of the boundary to catch a segment that cuts
// across a bend of it.
func segmentInside(a Area, p, q orb.Point) bool {
	n := int(math.Ceil(planar.Distance(p, q)/0.0005)) + 1
	for i := 1; i < n; i++ {
		t := float64(i) / float64(n)
		if !planar.MultiPolygonContains(a.Shape, orb.Point{p[0] + t*(q[0]-p[0]), p[1] + t*(q[1]-p[1])}) {
			return false
		}
	}
	return true
}
