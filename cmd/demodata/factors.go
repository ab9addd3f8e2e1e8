package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
	"github.com/zunyi/battlemap/geo/demo"
)

// The factor layers a relocation site is weighed by, all synthetic:
// geological hazard zones on the demo terrain's steepest slopes (the
// terrain itself is geo/demo's, made at load time), a road network
// joining the township seats, and services at the seats.

// hazardZone is one row of hazard_zones.csv.
type hazardZone struct {
	Code, Name, Kind, RiskLevel, CountyCode string
	WKT                                     string
}

// road is one row of roads.csv.
type road struct {
	Code, Name, Class, CountyCode string
	WKT                           string
}

// service is one row of services.csv.
type service struct {
	Code, Name, Kind, CountyCode, TownshipCode string
	Point                                      orb.Point
}

// Hazard zones per county: about one per hazardArea square degrees of
// county, at least hazardMin, at most hazardMax; hazardSpacing apart
// (degrees) so that they spread along the valleys; only on slopes of
// hazardSlope degrees or more (debris flows and subsidence aside).
const (
	hazardArea    = 0.012
	hazardMin     = 4
	hazardMax     = 24
	hazardSpacing = 0.03
	hazardSlope   = 15.0
	hazardStep    = 0.006 // the candidate lattice, degrees
)

// planFactors adds the hazard zones, roads and services.
func planFactors(ds *dataset, ix *index) error {
	for _, c := range ds.Counties {
		zones, err := planHazards(ds, ix, c)
		if err != nil {
			return err
		}
		ds.HazardZones = append(ds.HazardZones, zones...)
	}
	ds.Roads = planRoads(ds, ix)
	ds.Services = planServices(ds, ix)
	return nil
}

// ground is the demo terrain at a point: elevation (m), slope (degrees),
// the direction of steepest descent (radians from east) and how far the
// point lies below the ground around it (m), which is large on a valley
// floor.
type ground struct {
	elevation, slope, downhill, sunk float64
}

// groundAt measures demo.Elevation around p (WGS 84).
func groundAt(p orb.Point) ground {
	x, y := demo.UTM48(p[0], p[1])
	const d = demo.DEMCell
	e := demo.Elevation(x, y)
	dzdx := (demo.Elevation(x+d, y) - demo.Elevation(x-d, y)) / (2 * d)
	dzdy := (demo.Elevation(x, y+d) - demo.Elevation(x, y-d)) / (2 * d)
	around := 0.0
	for k := range 8 {
		a := float64(k) * math.Pi / 4
		around += demo.Elevation(x+1500*math.Cos(a), y+1500*math.Sin(a)) / 8
	}
	return ground{
		elevation: e,
		slope:     math.Atan(math.Hypot(dzdx, dzdy)) * 180 / math.Pi,
		downhill:  math.Atan2(-dzdy, -dzdx),
		sunk:      around - e,
	}
}

// hazardCandidate is a spot where a hazard zone could be.
type hazardCandidate struct {
	p     orb.Point
	g     ground
	kind  string
	score float64
}

// planHazards places one county's hazard zones: landslides (滑坡) on
// steep valley sides, collapses (崩塌) on the steepest, debris flows
// (泥石流) on valley floors below steep ground, ground subsidence (地面塌陷)
// on the karst plateaus. Each is an ellipse along the contour.
func planHazards(ds *dataset, ix *index, c gazetteer.County) ([]hazardZone, error) {
	a := ix.areas[c.Code]
	var cands []hazardCandidate
	for lat := a.Bound.Min[1]; lat <= a.Bound.Max[1]; lat += hazardStep {
		for lon := a.Bound.Min[0]; lon <= a.Bound.Max[0]; lon += hazardStep {
			p := orb.Point{lon, lat}
			if !a.Interior(p, 0.012) {
				continue
			}
			g := groundAt(p)
			switch {
			case g.slope >= 30:
				cands = append(cands, hazardCandidate{p, g, "collapse", g.slope})
			case g.slope >= hazardSlope:
				cands = append(cands, hazardCandidate{p, g, "landslide", g.slope})
			case g.sunk > 120 && g.slope >= 6:
				cands = append(cands, hazardCandidate{p, g, "debris_flow", g.sunk / 8})
			case g.slope < 4 && g.elevation > 1350:
				cands = append(cands, hazardCandidate{p, g, "subsidence", (g.elevation - 1300) / 40})
			}
		}
	}
	slices.SortStableFunc(cands, func(x, y hazardCandidate) int { return cmp.Compare(y.score, x.score) })
	want := min(hazardMax, max(hazardMin, int(math.Round(planar.Area(a.Shape)/hazardArea))))
	// At most a sixth each of debris flows and subsidence: most mapped
	// hazards in Guizhou are landslides and collapses.
	rare := map[string]int{"debris_flow": 0, "subsidence": 0}
	var chosen []hazardCandidate
	for _, h := range cands {
		if len(chosen) == want {
			break
		}
		if n, ok := rare[h.kind]; ok && n >= max(1, want/6) {
			continue
		}
		if slices.ContainsFunc(chosen, func(o hazardCandidate) bool { return planar.Distance(o.p, h.p) < hazardSpacing }) {
			continue
		}
		if _, ok := rare[h.kind]; ok {
			rare[h.kind]++
		}
		chosen = append(chosen, h)
	}
	if len(chosen) < hazardMin {
		return nil, fmt.Errorf("county %s %s: only %d places for hazard zones", c.Code, c.Name, len(chosen))
	}
	r := gazetteer.NewRand(seedFactors, c.Code+"/hazards")
	labels := map[string]string{"landslide": "滑坡", "collapse": "崩塌", "debris_flow": "泥石流", "subsidence": "地面塌陷"}
	zones := make([]hazardZone, 0, len(chosen))
	for _, h := range chosen {
		// Along the contour (across the downhill direction) the zone is
		// long, down the slope short.
		along, across := gazetteer.Uniform(r, 500, 1200), gazetteer.Uniform(r, 250, 500)
		if h.kind == "debris_flow" {
			along, across = across, along // down the valley
		}
		ring := ellipse(h.p, along, across, h.g.downhill+math.Pi/2)
		if !slices.ContainsFunc(ring, func(p orb.Point) bool { return !a.Interior(p, 0) }) {
			zones = append(zones, hazardZone{
				Code:       fmt.Sprintf("%s-H%02d", c.Code, len(zones)+1),
				Name:       nearestVillageShortName(ds, ix, c.Code, h.p) + labels[h.kind] + "隐患区",
				Kind:       h.kind,
				RiskLevel:  riskLevel(r, h),
				CountyCode: c.Code,
				WKT:        polygonWKT(ring),
			})
		}
	}
	return zones, nil
}

// riskLevel grades a hazard: the steeper, the higher; debris flows and
// subsidence by chance.
func riskLevel(r *rand.Rand, h hazardCandidate) string {
	switch {
	case h.kind == "debris_flow" || h.kind == "subsidence":
		return pick(r, []string{"high", "medium", "medium", "low"})
	case h.g.slope >= 30:
		return "high"
	case h.g.slope >= 22:
		return "medium"
	}
	return "low"
}

// ellipse is a closed ring of 16 points around c with semi-axes of along
// and across metres, the first along the direction theta (radians from
// east), in degrees.
func ellipse(c orb.Point, along, across, theta float64) orb.Ring {
	const n = 16
	mPerLon := 111_320 * math.Cos(c[1]*math.Pi/180)
	const mPerLat = 110_574
	ring := make(orb.Ring, 0, n+1)
	for k := range n {
		t := 2 * math.Pi * float64(k) / n
		u, v := along*math.Cos(t), across*math.Sin(t)
		dx := u*math.Cos(theta) - v*math.Sin(theta)
		dy := u*math.Sin(theta) + v*math.Cos(theta)
		ring = append(ring, gazetteer.Round6(orb.Point{c[0] + dx/mPerLon, c[1] + dy/mPerLat}))
	}
	return append(ring, ring[0])
}

// polygonWKT writes a ring as a WKT polygon.
func polygonWKT(ring orb.Ring) string {
	parts := make([]string, len(ring))
	for i, p := range ring {
		parts[i] = coord(p)
	}
	return "POLYGON((" + strings.Join(parts, ",") + "))"
}

// nearestVillageShortName is the short name of the village of county
// nearest p.
func nearestVillageShortName(ds *dataset, ix *index, county string, p orb.Point) string {
	best, name := math.Inf(1), ""
	for _, vi := range ix.countyVillages[county] {
		if d := planar.Distance(ds.Villages[vi].Point, p); d < best {
			best, name = d, shortVillageName(ds.Villages[vi].Name)
		}
	}
	return name
}

// planRoads joins the township seats: within each county a minimum
// spanning tree of its seats (county roads from the county town,
// township roads between the others), between counties a minimum spanning
// tree of the county towns (national roads from the city's centre,
// provincial roads between the others), and a village road to each road
// project: from its township's seat to the village, then along the
// project's line.
func planRoads(ds *dataset, ix *index) []road {
	var roads []road
	next := map[string]int{}
	add := func(county, name, class string, line orb.LineString) {
		next[county]++
		roads = append(roads, road{Code: fmt.Sprintf("%s-R%02d", county, next[county]), Name: name, Class: class,
			CountyCode: county, WKT: multiLineWKT(line)})
	}
	r := gazetteer.NewRand(seedFactors, "roads")
	var towns []int // each county's first township: its county town
	for _, c := range ds.Counties {
		tis := ix.countyTownships[c.Code]
		towns = append(towns, tis[0])
		for _, e := range spanningTree(ds, tis) {
			a, b := &ds.Townships[tis[e[0]]], &ds.Townships[tis[e[1]]]
			class := "township"
			if e[0] == 0 || e[1] == 0 {
				class = "county"
			}
			add(c.Code, shortTownshipName(a.Name)+"—"+shortTownshipName(b.Name)+"公路", class, meander(r, a.Seat, b.Seat))
		}
	}
	for _, e := range spanningTree(ds, towns) {
		a, b := &ds.Townships[towns[e[0]]], &ds.Townships[towns[e[1]]]
		class := "provincial"
		if a.CountyCode == demoCentre || b.CountyCode == demoCentre {
			class = "national"
		}
		add(a.CountyCode, countyName(ds, a.CountyCode)+"—"+countyName(ds, b.CountyCode)+"公路", class, meander(r, a.Seat, b.Seat))
	}
	for _, p := range ds.Projects {
		if p.Category != "road" {
			continue
		}
		v := &ds.Villages[ix.village[p.VillageCode]]
		line := append(orb.LineString{ix.townshipOf(ds, v).Seat}, parseLine(p.WKT)...)
		add(p.CountyCode, shortVillageName(v.Name)+"通村路", "village", line)
	}
	return roads
}

// demoCentre is the county of the city's centre (红花岗区), where the
// national roads meet.
const demoCentre = "520302"

// countyName is the name of county code.
func countyName(ds *dataset, code string) string {
	for _, c := range ds.Counties {
		if c.Code == code {
			return c.Name
		}
	}
	return code
}

// spanningTree is a minimum spanning tree (Prim's) of the seats of the
// townships tis, as pairs of indexes into tis, the first always already
// in the tree; ties go to the lower index, so the tree is fixed.
func spanningTree(ds *dataset, tis []int) [][2]int {
	in := make([]bool, len(tis))
	in[0] = true
	var edges [][2]int
	for range len(tis) - 1 {
		best, edge := math.Inf(1), [2]int{}
		for i := range tis {
			if !in[i] {
				continue
			}
			for j := range tis {
				if in[j] {
					continue
				}
				if d := planar.Distance(ds.Townships[tis[i]].Seat, ds.Townships[tis[j]].Seat); d < best {
					best, edge = d, [2]int{i, j}
				}
			}
		}
		in[edge[1]] = true
		edges = append(edges, edge)
	}
	return edges
}

// meander is a road from a to b that winds: points about every 1.5 km,
// pushed off the straight line by up to a tenth of its length, never at
// its ends.
func meander(r *rand.Rand, a, b orb.Point) orb.LineString {
	d := planar.Distance(a, b)
	n := max(1, int(d/0.015))
	nx, ny := -(b[1]-a[1])/d, (b[0]-a[0])/d // unit normal, degrees
	phase, waves := gazetteer.Uniform(r, 0, 2*math.Pi), gazetteer.Uniform(r, 0.5, 2)
	line := orb.LineString{gazetteer.Round6(a)}
	for k := 1; k < n; k++ {
		t := float64(k) / float64(n)
		off := 0.1 * d * math.Sin(math.Pi*t) * math.Sin(phase+2*math.Pi*waves*t)
		line = append(line, gazetteer.Round6(orb.Point{a[0] + (b[0]-a[0])*t + nx*off, a[1] + (b[1]-a[1])*t + ny*off}))
	}
	return append(line, gazetteer.Round6(b))
}

// parseLine reads the points of a LINESTRING written by lineWKT.
func parseLine(wkt string) orb.LineString {
	body := strings.TrimSuffix(strings.TrimPrefix(wkt, "LINESTRING("), ")")
	var line orb.LineString
	for _, pt := range strings.Split(body, ",") {
		lon, lat, _ := strings.Cut(pt, " ")
		x, errX := strconv.ParseFloat(lon, 64)
		y, errY := strconv.ParseFloat(lat, 64)
		if errX == nil && errY == nil {
			line = append(line, orb.Point{x, y})
		}
	}
	return line
}

// multiLineWKT writes a line as a WKT multi-line of one, as the roads'
// column stores it.
func multiLineWKT(line orb.LineString) string {
	return "MULTI" + strings.Replace(lineWKT(line), "(", "((", 1) + ")"
}

// planServices puts a school, a clinic and (but in subdistricts, whose
// shops are in the streets) a market near every township seat, each a few
// hundred metres from the seat and inside the county.
func planServices(ds *dataset, ix *index) []service {
	var out []service
	for _, t := range ds.Townships {
		r := gazetteer.NewRand(seedFactors, t.Code+"/services")
		short := shortTownshipName(t.Name)
		kinds := []struct{ suffix, kind, name string }{
			{"SC", "school", short + "中心学校"},
			{"CL", "clinic", short + "卫生院"},
			{"MK", "market", short + "集贸市场"},
		}
		if gazetteer.IsSubdistrict(t.Name) {
			kinds[1].name = short + "社区卫生服务中心"
			kinds = kinds[:2]
		}
		a := ix.areas[t.CountyCode]
		for _, k := range kinds {
			p := t.Seat
			for range 20 {
				if q := gazetteer.Round6(gazetteer.InAnnulus(r, t.Seat, 0.0015, 0.004)); a.Interior(q, 0) {
					p = q
					break
				}
			}
			out = append(out, service{Code: t.Code + "-" + k.suffix, Name: k.name, Kind: k.kind,
				CountyCode: t.CountyCode, TownshipCode: t.Code, Point: p})
		}
	}
	return out
}
