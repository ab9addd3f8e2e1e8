package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// committedData is the data set as committed, relative to this package.
const committedData = "../../geo/demo/data"

// table is a CSV file read by header name.
type table []map[string]string

// readTable reads a data file, checking the format every file shares: no
// BOM, no carriage returns, the exact header, rows sorted by the first
// column.
func readTable(t *testing.T, dir, name string, header []string) table {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		t.Errorf("%s: starts with a BOM", name)
	}
	if bytes.Contains(b, []byte("\r")) {
		t.Errorf("%s: has carriage returns", name)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !slices.Equal(recs[0], header) {
		t.Fatalf("%s: header got %v, want %v", name, recs[0], header)
	}
	var out table
	for i, rec := range recs[1:] {
		if i > 0 && recs[i][0] > rec[0] {
			t.Errorf("%s: row %d (%s) is not sorted after %s", name, i+2, rec[0], recs[i][0])
		}
		row := map[string]string{}
		for k, h := range header {
			row[h] = rec[k]
		}
		out = append(out, row)
	}
	return out
}

// num parses an integer field, failing the test on anything else.
func num(t *testing.T, row map[string]string, field string) int {
	t.Helper()
	v, err := strconv.Atoi(row[field])
	if err != nil {
		t.Fatalf("%v: %s: %v", row, field, err)
	}
	return v
}

var sixDecimals = regexp.MustCompile(`^-?\d+\.\d{6}$`)

// point parses lon and lat fields written with six decimals.
func point(t *testing.T, row map[string]string) orb.Point {
	t.Helper()
	var p orb.Point
	for k, f := range []string{"lon", "lat"} {
		if !sixDecimals.MatchString(row[f]) {
			t.Fatalf("%v: %s %q is not written with six decimals", row, f, row[f])
		}
		p[k], _ = strconv.ParseFloat(row[f], 64)
	}
	return p
}

// parseWKT reads the POINT and LINESTRING texts the generator writes.
func parseWKT(s string) (orb.Geometry, error) {
	body, isLine := strings.CutPrefix(s, "LINESTRING(")
	if !isLine {
		var ok bool
		if body, ok = strings.CutPrefix(s, "POINT("); !ok {
			return nil, fmt.Errorf("not a POINT or LINESTRING: %q", s)
		}
	}
	body, ok := strings.CutSuffix(body, ")")
	if !ok {
		return nil, fmt.Errorf("unclosed: %q", s)
	}
	var ls orb.LineString
	for _, pair := range strings.Split(body, ",") {
		f := strings.Fields(pair)
		if len(f) != 2 || !sixDecimals.MatchString(f[0]) || !sixDecimals.MatchString(f[1]) {
			return nil, fmt.Errorf("bad coordinates %q in %q", pair, s)
		}
		x, _ := strconv.ParseFloat(f[0], 64)
		y, _ := strconv.ParseFloat(f[1], 64)
		ls = append(ls, orb.Point{x, y})
	}
	if !isLine {
		if len(ls) != 1 {
			return nil, fmt.Errorf("point with %d positions: %q", len(ls), s)
		}
		return ls[0], nil
	}
	return ls, nil
}

// Published figures (see geo/demo/data/SOURCES.md) the data set must reproduce exactly.
const (
	wantCounties  = 14
	wantTownships = 254
	wantVillages  = 2093
)

var fundUseTotals = map[string]int{
	"industry": 139_200_000, "cooperative": 139_200_000, "interest_subsidy": 46_400_000,
	"training": 46_400_000, "public_facilities": 92_800_000,
}

// categoriesOf says which project categories each fund use pays for.
var categoriesOf = map[string][]string{
	"public_facilities": {"water", "power", "road", "telecom", "housing", "renovation"},
	"industry":          {"industry"},
	"cooperative":       {"industry"},
	"interest_subsidy":  {"other"},
	"training":          {"training"},
}

// TestCommittedData checks the committed data files: every published
// figure exactly, and the invariants the loader relies on.
func TestCommittedData(t *testing.T) {
	checkDataset(t, committedData)
}

func checkDataset(t *testing.T, dir string) {
	// The rows a planted inconsistency changed (plants) are let off the
	// checks of a status its figures allow and of assignments filling a
	// site: breaking them is what was planted, and the consistency rules
	// find it (geo/demo TestFlagsOfTheDemo). Every other check holds.
	planted := plantedCodes()
	// Counties. Read with encoding/json rather than orb/geojson, whose
	// BSON support would pull a database driver into the module graph.
	b, err := os.ReadFile(filepath.Join(dir, "counties.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	var fc countyFile
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != wantCounties {
		t.Fatalf("counties: got a %s of %d, want %d features", fc.Type, len(fc.Features), wantCounties)
	}
	counties, countyNames := map[string]orb.MultiPolygon{}, map[string]string{}
	for _, f := range fc.Features {
		code, name := f.Properties["code"], f.Properties["name"]
		if f.Type != "Feature" || f.Geometry.Type != "MultiPolygon" || len(code) != 6 || name == "" || len(f.Properties) != 2 {
			t.Fatalf("county %q %q: %s with geometry %s, properties %v", code, name, f.Type, f.Geometry.Type, f.Properties)
		}
		var mp orb.MultiPolygon
		for _, poly := range f.Geometry.Coordinates {
			var p orb.Polygon
			for _, ring := range poly {
				r := make(orb.Ring, len(ring))
				for k, q := range ring {
					r[k] = orb.Point{q[0], q[1]}
				}
				if len(r) < 4 || !r.Closed() {
					t.Errorf("county %s: ring of %d points, closed %v", code, len(r), r.Closed())
				}
				p = append(p, r)
			}
			mp = append(mp, p)
		}
		counties[code], countyNames[code] = mp, name
	}
	inCounty := func(code string, p orb.Point, margin float64) bool {
		mp, ok := counties[code]
		return ok && planar.MultiPolygonContains(mp, p) && planar.DistanceFrom(mp, p) >= margin-1e-9
	}

	// Townships.
	townships := readTable(t, dir, "townships.csv", townshipsHeader)
	if len(townships) != wantTownships {
		t.Errorf("townships: got %d, want %d", len(townships), wantTownships)
	}
	townshipByCode := map[string]map[string]string{}
	seatsOf := map[string][]string{} // county → township codes in file order
	seat := map[string]orb.Point{}
	poorTownships, demoTownshipCount := 0, 0
	demoCounty := map[string]bool{}
	for _, tw := range townships {
		code := tw["code"]
		if len(code) != 9 || !strings.HasPrefix(code, tw["county_code"]) {
			t.Errorf("township %s: bad code for county %s", code, tw["county_code"])
		}
		townshipByCode[code] = tw
		seatsOf[tw["county_code"]] = append(seatsOf[tw["county_code"]], code)
		seat[code] = point(t, tw)
		if !inCounty(tw["county_code"], seat[code], 0) {
			t.Errorf("township %s: seat %v outside county %s", code, seat[code], tw["county_code"])
		}
		checkStatus(t, "township "+code, tw)
		if tw["poverty_status"] == statusNotExited {
			poorTownships++
			if c := tw["county_code"]; c == "520302" || c == "520303" {
				t.Errorf("township %s: poverty township in city district %s", code, c)
			}
		}
		if tw["demonstration"] == "1" {
			demoTownshipCount++
			demoCounty[tw["county_code"]] = true
		} else if tw["demonstration"] != "0" {
			t.Errorf("township %s: demonstration %q", code, tw["demonstration"])
		}
	}
	if poorTownships != notExitedTownships {
		t.Errorf("poverty townships not exited: got %d, want %d", poorTownships, notExitedTownships)
	}
	if demoTownshipCount != demoTownships {
		t.Errorf("demonstration townships: got %d, want %d", demoTownshipCount, demoTownships)
	}
	seatPoints := func(county string) []orb.Point {
		var pts []orb.Point
		for _, c := range seatsOf[county] {
			pts = append(pts, seat[c])
		}
		return pts
	}

	// Villages.
	villages := readTable(t, dir, "villages.csv", villagesHeader)
	if len(villages) != wantVillages {
		t.Errorf("villages: got %d, want %d", len(villages), wantVillages)
	}
	villageByCode := map[string]map[string]string{}
	villagePoint := map[string]orb.Point{}
	var poor, city, county, exited, poorPeople, demo, coops, withCoops int
	poorByCounty, villagesByCounty := map[string]int{}, map[string]int{}
	for _, v := range villages {
		code := v["code"]
		villageByCode[code] = v
		tw, ok := townshipByCode[v["township_code"]]
		if !ok || tw["county_code"] != v["county_code"] || len(code) != 12 || !strings.HasPrefix(code, v["township_code"]) {
			t.Errorf("village %s: township %s, county %s do not match", code, v["township_code"], v["county_code"])
			continue
		}
		p := point(t, v)
		villagePoint[code] = p
		if !inCounty(v["county_code"], p, gazetteer.PointMargin) {
			t.Errorf("village %s: %v not %v inside county %s", code, p, gazetteer.PointMargin, v["county_code"])
		}
		seats := seatPoints(v["county_code"])
		own := slices.Index(seatsOf[v["county_code"]], v["township_code"])
		if m := gazetteer.CellMargin(p, seats, own); m < gazetteer.PointMargin-1e-9 {
			t.Errorf("village %s: %v is %.6f inside the cell of its seat, want ≥ %v", code, p, m, gazetteer.PointMargin)
		}

		checkStatus(t, "village "+code, v)
		pp, pop, hh := num(t, v, "poor_population"), num(t, v, "population"), num(t, v, "poor_households")
		poorPeople += pp
		villagesByCounty[v["county_code"]]++
		if pp > pop {
			t.Errorf("village %s: %d poor of %d people", code, pp, pop)
		}
		if (pp > 0) != (hh > 0) || hh > pp || math.Abs(float64(hh)-float64(pp)/3.3) > 0.15*float64(pp)/3.3+1 {
			t.Errorf("village %s: %d poor households for %d poor people", code, hh, pp)
		}
		// Communities, and villages under subdistricts, are town: never
		// poverty villages.
		community := gazetteer.IsCommunity(v["name"])
		town := community || gazetteer.IsSubdistrict(tw["name"])
		if !community && (pop < 800 || pop > 6000) {
			t.Errorf("village %s: population %d outside 800–6000", code, pop)
		}
		share := float64(pp) / float64(pop)
		switch v["poverty_status"] {
		case statusNotExited:
			poor++
			poorByCounty[v["county_code"]]++
			if town {
				t.Errorf("village %s %s: a community cannot be a poverty village", code, v["name"])
			}
			if share < 0.12 || share > 0.4 {
				t.Errorf("village %s: poverty village with poor share %.3f", code, share)
			}
			switch v["pairing_level"] {
			case pairingCity:
				city++
				if !strings.HasPrefix(v["pairing_unit"], "遵义市") {
					t.Errorf("village %s: city pairing with %q", code, v["pairing_unit"])
				}
			case pairingCounty:
				county++
				if name := countyNames[v["county_code"]]; !strings.HasPrefix(v["pairing_unit"], name) || v["pairing_unit"] == name {
					t.Errorf("village %s: county pairing with %q", code, v["pairing_unit"])
				}
			default:
				t.Errorf("village %s: pairing level %q", code, v["pairing_level"])
			}
		default:
			if v["poverty_status"] == statusExited {
				exited++
				if town {
					t.Errorf("village %s %s: a community cannot have exited poverty", code, v["name"])
				}
			}
			if share > 0.1 {
				t.Errorf("village %s: %s village with poor share %.3f", code, v["poverty_status"], share)
			}
			if v["pairing_level"] != "" || v["pairing_unit"] != "" {
				t.Errorf("village %s: %s village paired with %q %q", code, v["poverty_status"], v["pairing_level"], v["pairing_unit"])
			}
		}
		if community && share > 0.02 {
			t.Errorf("community %s: poor share %.3f", code, share)
		}
		switch v["demonstration"] {
		case "1":
			demo++
			demoCounty[v["county_code"]] = true
		case "0":
		default:
			t.Errorf("village %s: demonstration %q", code, v["demonstration"])
		}
		if c := num(t, v, "cooperatives"); c > 0 {
			coops += c
			withCoops++
		} else if c < 0 {
			t.Errorf("village %s: %d cooperatives", code, c)
		}
	}
	for _, f := range []struct {
		what      string
		got, want int
	}{
		{"poverty villages not exited", poor, notExitedVillages},
		{"villages paired with city units", city, cityPairedVillages},
		{"villages paired with county units", county, notExitedVillages - cityPairedVillages},
		{"poor population", poorPeople, poorPopulation},
		{"demonstration villages", demo, demoVillages},
		{"demonstration points", demo + demoTownshipCount, 48},
		{"cooperatives", coops, cooperativesTotal},
		{"villages with cooperatives", withCoops, villagesWithCoops},
	} {
		if f.got != f.want {
			t.Errorf("%s: got %d, want %d", f.what, f.got, f.want)
		}
	}
	if exited < 250 || exited > 350 {
		t.Errorf("exited villages: got %d, want 250–350", exited)
	}
	if city != 196 || county != 449 {
		t.Errorf("pairing: got %d city and %d county, want 196 and 449", city, county)
	}
	for code := range counties {
		if !demoCounty[code] {
			t.Errorf("county %s has no demonstration point", code)
		}
	}
	for _, code := range requiredDemoVillages {
		if villageByCode[code]["demonstration"] != "1" {
			t.Errorf("village %s is not a demonstration village", code)
		}
	}
	rate := func(c string) float64 { return float64(poorByCounty[c]) / float64(villagesByCounty[c]) }
	for _, remote := range []string{"520322", "520324", "520325", "520326", "520330"} {
		for _, urban := range []string{"520302", "520303"} {
			if rate(remote) < 2*rate(urban) {
				t.Errorf("poverty villages: %.2f of county %s, %.2f of district %s", rate(remote), remote, rate(urban), urban)
			}
		}
	}

	// Sites.
	sites := readTable(t, dir, "sites.csv", sitesHeader)
	if len(sites) < 100 || len(sites) > 140 {
		t.Errorf("sites: got %d, want 100–140", len(sites))
	}
	siteByCode := map[string]map[string]string{}
	capacity, sitesIn := 0, map[string]int{}
	datePattern := regexp.MustCompile(`^201[67]-\d\d-\d\d$`)
	for _, s := range sites {
		code := s["code"]
		siteByCode[code] = s
		sitesIn[s["county_code"]]++
		if !regexp.MustCompile(`^` + s["county_code"] + `-S\d\d$`).MatchString(code) {
			t.Errorf("site %s: bad code for county %s", code, s["county_code"])
		}
		tw, ok := townshipByCode[s["township_code"]]
		if !ok || tw["county_code"] != s["county_code"] {
			t.Errorf("site %s: township %s not in county %s", code, s["township_code"], s["county_code"])
			continue
		}
		if !slices.Contains([]string{siteUrban, siteTown, siteRural}, s["type"]) || !strings.HasSuffix(s["name"], "安置点") && !strings.Contains(s["name"], "安置点（") {
			t.Errorf("site %s: type %q, name %q", code, s["type"], s["name"])
		}
		p := point(t, s)
		if d := planar.Distance(p, seat[s["township_code"]]); d > 0.031 || !inCounty(s["county_code"], p, gazetteer.PointMargin) {
			t.Errorf("site %s: %v is %.4f from its township seat or outside county %s", code, p, d, s["county_code"])
		}
		own := slices.Index(seatsOf[s["county_code"]], s["township_code"])
		if gazetteer.CellMargin(p, seatPoints(s["county_code"]), own) < gazetteer.PointMargin-1e-9 {
			t.Errorf("site %s: not in the cell of township %s", code, s["township_code"])
		}
		ch, cp := num(t, s, "capacity_households"), num(t, s, "capacity_people")
		mh, mp := num(t, s, "moved_in_households"), num(t, s, "moved_in_people")
		progress := num(t, s, "progress")
		capacity += cp
		if ch < 1 || ch > cp || mh < 0 || mp < 0 || mh > ch || mp > cp || mh > mp {
			t.Errorf("site %s: capacity %d/%d, moved in %d/%d", code, ch, cp, mh, mp)
		}
		ok = false
		switch s["status"] {
		case statusPlanned:
			ok = progress == 0 && mp == 0
		case statusUnderConstruction:
			ok = progress >= 1 && progress <= 99 && mp == 0
		case statusCompleted:
			ok = progress == 100 && mp == 0
		case statusOccupied:
			ok = progress == 100 && mp > 0 && mh > 0
		}
		if !ok && !planted[code] {
			t.Errorf("site %s: status %q with progress %d and %d moved in", code, s["status"], progress, mp)
		}
		if _, err := time.Parse(time.DateOnly, s["planned_completion"]); err != nil || !datePattern.MatchString(s["planned_completion"]) {
			t.Errorf("site %s: planned completion %q", code, s["planned_completion"])
		}
	}
	if capacity != relocationPeople {
		t.Errorf("site capacity: got %d, want %d", capacity, relocationPeople)
	}
	for code := range counties {
		if sitesIn[code] == 0 {
			t.Errorf("county %s has no relocation site", code)
		}
	}

	// Assignments.
	assignments := readTable(t, dir, "assignments.csv", assignmentsHeader)
	people, siteHH, sitePeople, moved := 0, map[string]int{}, map[string]int{}, map[string]int{}
	seen := map[[2]string]bool{}
	for _, a := range assignments {
		v, vok := villageByCode[a["village_code"]]
		s, sok := siteByCode[a["site_code"]]
		if !vok || !sok || v["county_code"] != s["county_code"] {
			t.Errorf("assignment %v: village and site not in one county", a)
			continue
		}
		key := [2]string{a["village_code"], a["site_code"]}
		if seen[key] {
			t.Errorf("assignment %v: repeated", a)
		}
		seen[key] = true
		h, p := num(t, a, "households"), num(t, a, "people")
		if h < 1 || h > p {
			t.Errorf("assignment %v: %d households, %d people", a, h, p)
		}
		people += p
		siteHH[a["site_code"]] += h
		sitePeople[a["site_code"]] += p
		moved[a["village_code"]] += p
	}
	if people != relocationPeople {
		t.Errorf("people assigned: got %d, want %d", people, relocationPeople)
	}
	for code, s := range siteByCode {
		if !planted[code] && (siteHH[code] != num(t, s, "capacity_households") || sitePeople[code] != num(t, s, "capacity_people")) {
			t.Errorf("site %s: assigned %d households, %d people; capacity %s, %s",
				code, siteHH[code], sitePeople[code], s["capacity_households"], s["capacity_people"])
		}
	}
	fromPoor := 0
	for code, p := range moved {
		v := villageByCode[code]
		if p > num(t, v, "poor_population") {
			t.Errorf("village %s: %d to move, %s poor", code, p, v["poor_population"])
		}
		if v["poverty_status"] == statusNotExited {
			fromPoor += p
		}
	}
	if fromPoor < people/2 {
		t.Errorf("only %d of %d people to move come from poverty villages", fromPoor, people)
	}

	// Projects.
	projects := readTable(t, dir, "projects.csv", projectsHeader)
	if len(projects) != projectsTotal {
		t.Errorf("projects: got %d, want %d", len(projects), projectsTotal)
	}
	funds, byUse, inPoor := 0, map[string]int{}, 0
	for _, pr := range projects {
		code := pr["code"]
		if !regexp.MustCompile(`^` + pr["county_code"] + `-P\d{3}$`).MatchString(code) {
			t.Errorf("project %s: bad code for county %s", code, pr["county_code"])
		}
		cats, ok := categoriesOf[pr["fund_use"]]
		if !ok || !slices.Contains(cats, pr["category"]) {
			t.Errorf("project %s: category %q for fund use %q", code, pr["category"], pr["fund_use"])
		}
		v, ok := villageByCode[pr["village_code"]]
		if !ok || v["county_code"] != pr["county_code"] {
			t.Errorf("project %s: village %s not in county %s", code, pr["village_code"], pr["county_code"])
			continue
		}
		if v["poverty_status"] == statusNotExited {
			inPoor++
		}
		if pr["name"] == "" || !strings.HasPrefix(pr["name"], shortVillageName(v["name"])) {
			t.Errorf("project %s: name %q for village %s", code, pr["name"], v["name"])
		}
		g, err := parseWKT(pr["wkt"])
		if err != nil {
			t.Errorf("project %s: %v", code, err)
			continue
		}
		switch g := g.(type) {
		case orb.Point:
			if d := planar.Distance(g, villagePoint[v["code"]]); d > 0.02+1e-9 || !inCounty(pr["county_code"], g, gazetteer.PointMargin) {
				t.Errorf("project %s: point %v is %.4f from its village or outside the county", code, g, d)
			}
		case orb.LineString:
			if pr["category"] != "road" && pr["category"] != "water" {
				t.Errorf("project %s: a line for category %s", code, pr["category"])
			}
			if len(g) < 2 || len(g) > 4 || g[0] != villagePoint[v["code"]] {
				t.Errorf("project %s: line %v does not start at village %v", code, g, villagePoint[v["code"]])
			}
			for _, q := range g {
				if !inCounty(pr["county_code"], q, gazetteer.LineMargin) {
					t.Errorf("project %s: vertex %v outside the county", code, q)
				}
			}
		}
		planned, paid, completion := num(t, pr, "funds_planned"), num(t, pr, "funds_disbursed"), num(t, pr, "completion")
		funds += planned
		byUse[pr["fund_use"]] += planned
		if planned <= 0 || paid < 0 || paid > planned {
			t.Errorf("project %s: %d disbursed of %d", code, paid, planned)
		}
		ok = false
		switch pr["status"] {
		case statusPlanned:
			ok = completion == 0 && paid == 0
		case statusUnderConstruction:
			ok = completion >= 1 && completion <= 99 && math.Abs(float64(paid)/float64(planned)-float64(completion)/100) <= 0.2
		case statusCompleted:
			ok = completion == 100 && paid >= planned*8/10
		}
		if !ok && !planted[code] {
			t.Errorf("project %s: status %q, completion %d, %d of %d disbursed", code, pr["status"], completion, paid, planned)
		}
		start, err1 := time.Parse(time.DateOnly, pr["start_date"])
		end, err2 := time.Parse(time.DateOnly, pr["end_date"])
		if err1 != nil || err2 != nil || end.Before(start) || start.Year() < 2016 || end.Year() > 2017 {
			t.Errorf("project %s: dates %s to %s", code, pr["start_date"], pr["end_date"])
		}
	}
	if funds != 464_000_000 {
		t.Errorf("project funds: got %d, want 464000000", funds)
	}
	for use, want := range fundUseTotals {
		if byUse[use] != want {
			t.Errorf("funds for %s: got %d, want %d", use, byUse[use], want)
		}
	}
	if inPoor < len(projects)/2 {
		t.Errorf("only %d of %d projects are in poverty villages", inPoor, len(projects))
	}

	checkHistory(t, dir)
}

// checkStatus checks a poverty status and its exit year.
func checkStatus(t *testing.T, what string, row map[string]string) {
	t.Helper()
	switch row["poverty_status"] {
	case statusExited:
		if row["exit_year"] != "2014" && row["exit_year"] != "2015" {
			t.Errorf("%s: exited in %q", what, row["exit_year"])
		}
	case statusNone, statusNotExited:
		if row["exit_year"] != "" {
			t.Errorf("%s: %s with exit year %q", what, row["poverty_status"], row["exit_year"])
		}
	default:
		t.Errorf("%s: poverty status %q", what, row["poverty_status"])
	}
}

// countyFile is the shape of counties.geojson.
type countyFile struct {
	Type     string `json:"type"`
	Features []struct {
		Type       string            `json:"type"`
		Properties map[string]string `json:"properties"`
		Geometry   struct {
			Type        string          `json:"type"`
			Coordinates [][][][]float64 `json:"coordinates"`
		} `json:"geometry"`
	} `json:"features"`
}
