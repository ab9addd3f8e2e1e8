package gazetteer

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// edgeIndex files a multipolygon's edges in a grid of square cells, so
// that the interior checks of the placement, millions of them over a
// national run, look at the few edges near a point instead of all of a
// county's thousands: orb's checks walk every edge, and recompute each
// ring's bounding box, on every call.
type edgeIndex struct {
	edges    []edge
	polygons int
	min      orb.Point
	size     float64 // of a cell, in degrees
	nx, ny   int
	cells    [][]int32 // by cell (row-major): the edges whose bounding box meets it
	rowEdges [][]int32 // by row: the edges whose y range meets it, for the ray
}

// edge is one segment of a ring, with the index of its polygon.
type edge struct {
	a, b    orb.Point
	polygon int
}

// gridCells is about how many cells the longer side of the box gets.
const gridCells = 64

// newEdgeIndex indexes the edges of mp; it returns nil for an empty one.
func newEdgeIndex(mp orb.MultiPolygon) *edgeIndex {
	b := mp.Bound()
	if len(mp) == 0 || b.IsEmpty() {
		return nil
	}
	ix := &edgeIndex{polygons: len(mp), min: b.Min, size: max(b.Max[0]-b.Min[0], b.Max[1]-b.Min[1], 1e-9) / gridCells}
	ix.nx = int((b.Max[0]-b.Min[0])/ix.size) + 1
	ix.ny = int((b.Max[1]-b.Min[1])/ix.size) + 1
	ix.cells = make([][]int32, ix.nx*ix.ny)
	ix.rowEdges = make([][]int32, ix.ny)
	for pi, poly := range mp {
		for _, ring := range poly {
			for k := 0; k+1 < len(ring); k++ {
				e := edge{a: ring[k], b: ring[k+1], polygon: pi}
				id := int32(len(ix.edges))
				ix.edges = append(ix.edges, e)
				x0, y0 := ix.cell(orb.Point{min(e.a[0], e.b[0]), min(e.a[1], e.b[1])})
				x1, y1 := ix.cell(orb.Point{max(e.a[0], e.b[0]), max(e.a[1], e.b[1])})
				for y := y0; y <= y1; y++ {
					ix.rowEdges[y] = append(ix.rowEdges[y], id)
					for x := x0; x <= x1; x++ {
						ix.cells[y*ix.nx+x] = append(ix.cells[y*ix.nx+x], id)
					}
				}
			}
		}
	}
	return ix
}

// cell returns the grid cell of p, clamped to the grid.
func (ix *edgeIndex) cell(p orb.Point) (int, int) {
	x := int(math.Floor((p[0] - ix.min[0]) / ix.size))
	y := int(math.Floor((p[1] - ix.min[1]) / ix.size))
	return min(max(x, 0), ix.nx-1), min(max(y, 0), ix.ny-1)
}

// near reports whether an edge passes within margin of p: such an edge
// meets the box of half-side margin around p, so only the cells of that
// box are looked at.
func (ix *edgeIndex) near(p orb.Point, margin float64) bool {
	x0, y0 := ix.cell(orb.Point{p[0] - margin, p[1] - margin})
	x1, y1 := ix.cell(orb.Point{p[0] + margin, p[1] + margin})
	m2 := margin * margin
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			for _, id := range ix.cells[y*ix.nx+x] {
				e := ix.edges[id]
				if distanceSquared(p, e.a, e.b) < m2 {
					return true
				}
			}
		}
	}
	return false
}

// inside reports whether p, which is not on the boundary, lies in one of
// the polygons: a ray from p towards +x crosses an odd number of its
// rings' edges (outer ring and holes alike, so a point in a hole is out).
// Only the edges of p's row of cells can cross the ray. A point outside
// the grid's rows is outside every polygon.
func (ix *edgeIndex) inside(p orb.Point) bool {
	y := int(math.Floor((p[1] - ix.min[1]) / ix.size))
	if y < 0 || y >= ix.ny {
		return false
	}
	odd := make([]bool, ix.polygons)
	for _, id := range ix.rowEdges[y] {
		e := ix.edges[id]
		if (e.a[1] > p[1]) != (e.b[1] > p[1]) {
			x := e.a[0] + (p[1]-e.a[1])*(e.b[0]-e.a[0])/(e.b[1]-e.a[1])
			if p[0] < x {
				odd[e.polygon] = !odd[e.polygon]
			}
		}
	}
	return slices.Contains(odd, true)
}

// distanceSquared is the squared distance from p to the segment ab.
func distanceSquared(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = min(max(((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l, 0), 1)
	}
	ex, ey := a[0]+t*dx-p[0], a[1]+t*dy-p[1]
	return ex*ex + ey*ey
}
