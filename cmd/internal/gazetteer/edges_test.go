package gazetteer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// star is a ring of n vertices around c at radii varying between r/2 and
// r, counter-clockwise, closed, on ECharts' 1/1024° grid as the real
// boundaries are.
func star(rnd *rand.Rand, c orb.Point, r float64, n int) orb.Ring {
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		d := r * (0.5 + 0.5*rnd.Float64())
		ring = append(ring, orb.Point{
			math.Round((c[0]+d*math.Cos(a))*1024) / 1024,
			math.Round((c[1]+d*math.Sin(a))*1024) / 1024,
		})
	}
	return append(ring, ring[0])
}

// TestInteriorMatchesOrb compares the indexed interior check with orb's
// walk over every edge, on jagged polygons with a hole, for points on
// the six-decimal grid the placement uses, grid vertices included.
func TestInteriorMatchesOrb(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	hole := star(rnd, orb.Point{106, 27}, 0.08, 60)
	hole.Reverse()
	mp := orb.MultiPolygon{
		{star(rnd, orb.Point{106, 27}, 0.3, 400), hole},
		{star(rnd, orb.Point{106.5, 27}, 0.1, 120)},
	}
	a := NewArea(mp)
	in := 0
	for i := range 20000 {
		p := Round6(inBound(rnd, a.Bound))
		if i%10 == 0 { // a vertex's x or y, where a ray meets vertices
			v := mp[0][0][rnd.IntN(len(mp[0][0]))]
			p[i%20/10] = v[i%20/10]
		}
		for _, margin := range []float64{0.0005, PointMargin, DefaultSpacing.Margin} {
			want := planar.MultiPolygonContains(mp, p) && planar.DistanceFrom(mp, p) >= margin
			if got := a.Interior(p, margin); got != want {
				t.Fatalf("Interior(%v, %v): got %v, want %v", p, margin, got, want)
			}
			if want {
				in++
			}
		}
	}
	if in == 0 {
		t.Fatal("no point inside: the test tests nothing")
	}
}
