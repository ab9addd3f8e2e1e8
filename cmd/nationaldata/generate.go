package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// The output files.
const (
	regionsFile  = "regions.geojson"
	villagesFile = "villages.csv"
	readmeFile   = "README.txt"
)

// spacings are tried in turn for a county's township seats: the demo's,
// then closer ones for the small urban districts that pack a dozen
// subdistricts into a few square kilometres. Each keeps Margin and Gap
// above 2*gazetteer.PointMargin, so the villages always find room.
var spacings = []gazetteer.Spacing{
	gazetteer.DefaultSpacing,
	{Margin: 0.005, Gap: 0.008},
	{Margin: 0.0045, Gap: 0.0045},
}

// fetchSources unpacks the files the generator reads into dir.
func fetchSources(ctx context.Context, dir string) error {
	return gazetteer.Fetch(ctx, dir, keepSource)
}

// placement is the seats and points of one county.
type placement struct {
	seats   []orb.Point   // by the county's townships in code order
	points  [][]orb.Point // by township, by village in code order
	relaxed bool          // needed a closer spacing than the demo's
	err     error         // no room for the seats at any spacing
}

// generate reads the sources under src, places the seats and villages,
// makes the boundaries on conn and writes the output into out, logging
// each step's time.
func generate(ctx context.Context, conn *pgx.Conn, src, out, province string, log *slog.Logger) (string, error) {
	start := time.Now()
	step := func(what string) {
		log.Info(what, slog.Duration("took", time.Since(start).Round(time.Millisecond)))
		start = time.Now()
	}
	files, err := readShapes(src)
	if err != nil {
		return "", fmt.Errorf("read boundaries: %w", err)
	}
	l, err := readLists(src, province)
	if err != nil {
		return "", fmt.Errorf("read lists: %w", err)
	}
	h, err := buildHierarchy(files, l, province)
	if err != nil {
		return "", err
	}
	files, l = nil, lists{} // let the parsed sources go: h holds what is written
	step("read the sources")

	ix := newIndex(h)
	places := placeAll(ctx, h, ix)
	if err := ctx.Err(); err != nil {
		return "", err
	}
	step("placed seats and villages")
	h = dropUnplaced(h, places)
	ix = newIndex(h)
	seats := map[string][2]float64{}
	points := make([]orb.Point, 0, len(h.Villages))
	for _, c := range h.Counties {
		p := places[c.Code]
		for k, ti := range ix.countyTownships[c.Code] {
			t := h.Townships[ti]
			seats[t.Code] = [2]float64{p.seats[k][0], p.seats[k][1]}
			points = append(points, p.points[k]...)
		}
		if p.relaxed {
			h.Skipped.SeatsRelaxed++
		}
	}
	if len(points) != len(h.Villages) {
		return "", fmt.Errorf("placed %d village points for %d villages", len(points), len(h.Villages))
	}
	if len(h.Counties) == 0 {
		return "", errors.New("no county has a boundary: nothing to write")
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(context.Background()) // drops the temporary tables; the work is done by then
	if err := makeBoundaries(ctx, tx, h, seats, log); err != nil {
		return "", fmt.Errorf("boundaries: %w", err)
	}
	step("made the boundaries")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	figs := make([]figures, len(h.Villages))
	countyName := map[string]string{}
	for _, c := range h.Counties {
		countyName[c.Code] = c.Name
	}
	for i, v := range h.Villages {
		figs[i] = villageFigures(v, h.Townships[ix.township[v.TownshipCode]], countyName[v.CountyCode])
	}
	props := regionProperties(h, ix, figs)
	err = writeFile(filepath.Join(out, regionsFile), func(w *bufio.Writer) error {
		return writeRegions(ctx, tx, w, props)
	})
	if err != nil {
		return "", err
	}
	step("wrote " + regionsFile)
	if err := writeFile(filepath.Join(out, villagesFile), func(w *bufio.Writer) error {
		return writeVillages(w, h.Villages, points, figs)
	}); err != nil {
		return "", err
	}
	step("wrote " + villagesFile)
	c := countsOf(h, figs)
	if err := writeFile(filepath.Join(out, readmeFile), func(w *bufio.Writer) error {
		return writeReadme(w, c, h.Skipped, province)
	}); err != nil {
		return "", err
	}
	return c.summary(h.Skipped), nil
}

// writeFile creates name and streams its contents through a buffer.
func writeFile(name string, body func(*bufio.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = body(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return nil
}

// index groups h's rows by code, as index slices in code order.
type index struct {
	township         map[string]int   // township code → h.Townships index
	countyTownships  map[string][]int // county code → h.Townships indexes
	townshipVillages map[string][]int // township code → h.Villages indexes
}

func newIndex(h *hierarchy) *index {
	ix := &index{township: map[string]int{}, countyTownships: map[string][]int{}, townshipVillages: map[string][]int{}}
	for i, t := range h.Townships {
		ix.township[t.Code] = i
		ix.countyTownships[t.CountyCode] = append(ix.countyTownships[t.CountyCode], i)
	}
	for i, v := range h.Villages {
		ix.townshipVillages[v.TownshipCode] = append(ix.townshipVillages[v.TownshipCode], i)
	}
	return ix
}

// placeAll places every county's seats and villages, counties in
// parallel: each county draws from its own generators, keyed by codes,
// so the result does not depend on the order they are done in.
func placeAll(ctx context.Context, h *hierarchy, ix *index) map[string]*placement {
	places := make(map[string]*placement, len(h.Counties))
	for _, c := range h.Counties {
		places[c.Code] = &placement{}
	}
	work := make(chan county)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				*places[c.Code] = placeCounty(c, h, ix)
			}
		}()
	}
	for _, c := range h.Counties {
		if ctx.Err() != nil {
			break
		}
		work <- c
	}
	close(work)
	wg.Wait()
	return places
}

// placeCounty places one county's township seats, at the first spacing
// that has room, and its villages in their townships' cells.
func placeCounty(c county, h *hierarchy, ix *index) placement {
	tis := ix.countyTownships[c.Code]
	towns := make([]gazetteer.Township, len(tis))
	for k, ti := range tis {
		towns[k] = h.Townships[ti]
	}
	var p placement
	if len(towns) == 0 {
		return p
	}
	for i, sp := range spacings {
		r := gazetteer.NewRand(seedSeats, fmt.Sprintf("%s/%d", c.Code, i))
		if p.seats, p.err = gazetteer.PlaceSeats(r, c.Shape, towns, sp); p.err == nil {
			p.relaxed = i > 0
			break
		}
	}
	if p.err != nil {
		return p
	}
	area := gazetteer.NewArea(c.Shape.Shape)
	p.points = make([][]orb.Point, len(towns))
	for k, t := range towns {
		vis := ix.townshipVillages[t.Code]
		pts, err := gazetteer.PlaceVillages(gazetteer.NewRand(seedVillagePoints, t.Code), area, p.seats, k, len(vis))
		if err != nil {
			p.err = fmt.Errorf("township %s: %w", t.Code, err)
			return p
		}
		p.points[k] = pts
	}
	return p
}

// dropUnplaced leaves out the counties whose seats or villages found no
// room (counted), with their townships and villages, and the cities and
// provinces left without counties.
func dropUnplaced(h *hierarchy, places map[string]*placement) *hierarchy {
	out := &hierarchy{Skipped: h.Skipped}
	kept, cities, provinces := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range h.Counties {
		if places[c.Code].err != nil {
			out.Skipped.CountiesWithoutRoom++
			continue
		}
		out.Counties = append(out.Counties, c)
		kept[c.Code], cities[c.Parent], provinces[c.Code[:2]+"0000"] = true, true, true
	}
	for _, t := range h.Townships {
		if kept[t.CountyCode] {
			out.Townships = append(out.Townships, t)
		} else {
			out.Skipped.Townships++
		}
	}
	for _, v := range h.Villages {
		if kept[v.CountyCode] {
			out.Villages = append(out.Villages, v)
		} else {
			out.Skipped.Villages++
		}
	}
	for _, c := range h.Cities {
		if cities[c.Code] {
			out.Cities = append(out.Cities, c)
		}
	}
	for _, p := range h.Provinces {
		if provinces[p.Code] {
			out.Provinces = append(out.Provinces, p)
		} else {
			out.Skipped.ProvincesWithoutShape++
		}
	}
	return out
}

// regionProperties are the properties of every feature of
// regions.geojson, keyed by level and code. Townships and counties are
// poverty townships and counties (not_exited) by regionStatus over their
// villages' figures; the levels above are none. None is exited or a
// demonstration point.
func regionProperties(h *hierarchy, ix *index, figs []figures) map[string]regionProps {
	props := map[string]regionProps{}
	add := func(level string, r region, status string) {
		p := regionProps{Code: r.Code, Name: r.Name, Level: level, PovertyStatus: status}
		if r.Parent != "" {
			parent := r.Parent
			p.Parent = &parent
		}
		props[level+" "+r.Code] = p
	}
	add("country", region{Code: countryCode, Name: countryName}, statusNone)
	for _, p := range h.Provinces {
		add("province", p, statusNone)
	}
	for _, c := range h.Cities {
		add("city", c, statusNone)
	}
	countyPoor, countyAll := map[string]int{}, map[string]int{}
	for _, t := range h.Townships {
		poor, all := 0, 0
		for _, vi := range ix.townshipVillages[t.Code] {
			all++
			if figs[vi].Poverty == statusNotExited {
				poor++
			}
		}
		countyPoor[t.CountyCode] += poor
		countyAll[t.CountyCode] += all
		add("township", region{Code: t.Code, Name: t.Name, Parent: t.CountyCode}, regionStatus(poor, all))
	}
	for _, c := range h.Counties {
		add("county", c.region, regionStatus(countyPoor[c.Code], countyAll[c.Code]))
	}
	return props
}

// counts are what the output holds, for the summary and the README.
type counts struct {
	Provinces, Cities, Counties, Townships, Villages int
	NotExited, Exited, Population, PoorPeople        int
}

// countsOf counts h's rows and sums the villages' figures.
func countsOf(h *hierarchy, figs []figures) counts {
	c := counts{Provinces: len(h.Provinces), Cities: len(h.Cities), Counties: len(h.Counties),
		Townships: len(h.Townships), Villages: len(h.Villages)}
	for _, f := range figs {
		switch f.Poverty {
		case statusNotExited:
			c.NotExited++
		case statusExited:
			c.Exited++
		}
		c.Population += f.Population
		c.PoorPeople += f.PoorPeople
	}
	return c
}

// summary is the line the command prints.
func (c counts) summary(s skipped) string {
	return fmt.Sprintf("1 country, %d provinces, %d cities, %d counties, %d townships, %d villages; "+
		"left out: %d counties without a boundary, %d coded as their city, %d without room for their seats "+
		"(with %d townships, %d villages), %d boundaries of no county; %d boundaries matched by name",
		c.Provinces, c.Cities, c.Counties, c.Townships, c.Villages,
		s.CountiesWithoutShape, s.CountiesWithCityCode, s.CountiesWithoutRoom, s.Townships, s.Villages,
		s.ShapesWithoutCounty, s.MatchedByName)
}

// joinLines joins lines with newlines and ends with one.
func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
