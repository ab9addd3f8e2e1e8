package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// projectsTotal is the number of projects funded in the first half of
// 2016.
const projectsTotal = 544

// fundUse is one line of the "33112" split of the special funds: 30%
// industry, 30% cooperatives, 10% interest subsidies, 10% training, 20%
// public facilities of 464 million yuan. Count is the synthetic number of
// projects of that use; the counts add up to projectsTotal.
type fundUse struct {
	Name  string
	Yuan  int
	Count int
}

// fundUses are the five uses of the special funds, in the order of the
// "33112" rule.
var fundUses = []fundUse{
	{"industry", 139_200_000, 150},
	{"cooperative", 139_200_000, 110},
	{"interest_subsidy", 46_400_000, 60},
	{"training", 46_400_000, 64},
	{"public_facilities", 92_800_000, 160},
}

// fundUnit is the granularity of project budgets: whole thousands of
// yuan, as budgets are written. The fund totals are multiples of it.
const fundUnit = 1000

// facility is a kind of public-facilities project and how it is named.
type facility struct {
	Category string
	Weight   float64
	Names    []string
}

// facilities are the city's 水、电、路、讯、房、寨 (water, power, roads,
// telecom, housing, village renovation), roads the commonest.
var facilities = []facility{
	{"road", 0.35, []string{"通组公路硬化", "通村公路改扩建", "产业路建设", "串户路硬化"}},
	{"water", 0.25, []string{"人饮安全巩固提升工程", "饮水管网延伸工程", "灌溉渠道修复"}},
	{"power", 0.10, []string{"农网改造升级", "农村电网改造"}},
	{"telecom", 0.08, []string{"4G基站建设", "光纤宽带进村"}},
	{"housing", 0.12, []string{"农村危房改造", "危房改造及人畜分离"}},
	{"renovation", 0.10, []string{"四在农家·美丽乡村建设", "人居环境整治", "寨容寨貌整治"}},
}

// Names of the projects of the other fund uses.
var (
	cooperativeNames = []string{"农民专业合作社入股分红", "种养殖专业合作社扶持", "合作社产业发展"}
	subsidyNames     = []string{"扶贫小额信贷贴息", "特惠贷贴息"}
	trainingNames    = []string{"农村劳动力转移就业培训", "农业实用技术培训", "电商技能培训"}
)

// planProjects makes projectsTotal projects. Counties get projects in
// proportion to ten plus their poverty villages; the fund uses are dealt
// out in shuffled order; each fund use's total is apportioned over its
// projects in whole thousands, so every total is exact.
func planProjects(ds *dataset, ix *index) error {
	r := gazetteer.NewRand(seedProjects, "")
	weights := make([]float64, len(ds.Counties))
	for ci, c := range ds.Counties {
		weights[ci] = 10
		for _, vi := range ix.countyVillages[c.Code] {
			if ds.Villages[vi].Poverty == statusNotExited {
				weights[ci]++
			}
		}
	}
	perCounty, err := apportion(projectsTotal, weights)
	if err != nil {
		return err
	}

	var uses []int // index into fundUses, one per project
	for u, f := range fundUses {
		for range f.Count {
			uses = append(uses, u)
		}
	}
	if len(uses) != projectsTotal {
		return fmt.Errorf("fund uses count %d projects, want %d", len(uses), projectsTotal)
	}
	r.Shuffle(len(uses), func(i, j int) { uses[i], uses[j] = uses[j], uses[i] })

	next := 0
	for ci, c := range ds.Counties {
		poor, rural := countyVillagesFor(ds, ix, c.Code)
		for k := range perCounty[ci] {
			f := fundUses[uses[next]]
			next++
			vi := pick(r, rural)
			if len(poor) > 0 && r.Float64() < 0.8 {
				vi = pick(r, poor)
			}
			p, err := makeProject(r, ds, ix, f.Name, &ds.Villages[vi])
			if err != nil {
				return err
			}
			p.Code = fmt.Sprintf("%s-P%03d", c.Code, k+1)
			ds.Projects = append(ds.Projects, p)
		}
	}

	for _, f := range fundUses {
		var idx []int
		var sizes []float64
		for i, p := range ds.Projects {
			if p.FundUse == f.Name {
				idx = append(idx, i)
				// Log-normal sizes: most projects modest, a few large.
				sizes = append(sizes, math.Exp(0.6*r.NormFloat64()))
			}
		}
		units, err := apportion(f.Yuan/fundUnit, sizes)
		if err != nil {
			return err
		}
		for k, i := range idx {
			if units[k] == 0 {
				return fmt.Errorf("project %s has no funds", ds.Projects[i].Code)
			}
			setProjectFunds(r, &ds.Projects[i], units[k]*fundUnit)
		}
	}
	return nil
}

// countyVillagesFor lists a county's poverty villages and its rural
// villages (those that could be poor), the places projects go.
func countyVillagesFor(ds *dataset, ix *index, county string) (poor, rural []int) {
	for _, vi := range ix.countyVillages[county] {
		v := &ds.Villages[vi]
		if v.Poverty == statusNotExited {
			poor = append(poor, vi)
		}
		if canBePoor(ds, ix, v) {
			rural = append(rural, vi)
		}
	}
	if len(rural) == 0 {
		rural = ix.countyVillages[county]
	}
	return poor, rural
}

// makeProject draws a project of a fund use at a village: its category
// and name, its geometry (a line from the village for roads and water, a
// point near it otherwise), status and dates. Funds come later.
func makeProject(r *rand.Rand, ds *dataset, ix *index, use string, v *village) (project, error) {
	p := project{FundUse: use, CountyCode: v.CountyCode, VillageCode: v.Code}
	var what string
	switch use {
	case "public_facilities":
		weights := make([]float64, len(facilities))
		for i, f := range facilities {
			weights[i] = f.Weight
		}
		f := facilities[pickWeighted(r, weights)]
		p.Category, what = f.Category, pick(r, f.Names)
	case "industry":
		p.Category, what = "industry", pick(r, profiles[v.CountyCode].Industry)
	case "cooperative":
		p.Category, what = "industry", pick(r, cooperativeNames)
	case "interest_subsidy":
		p.Category, what = "other", pick(r, subsidyNames)
	case "training":
		p.Category, what = "training", pick(r, trainingNames)
	default:
		return p, fmt.Errorf("unknown fund use %q", use)
	}
	p.Name = shortVillageName(v.Name) + what

	a := ix.areas[v.CountyCode]
	if p.Category == "road" || p.Category == "water" {
		line, err := gazetteer.PlaceLine(r, a, v.Point, between(r, 2, 4))
		if err != nil {
			return p, fmt.Errorf("project at village %s: %w", v.Code, err)
		}
		p.WKT = lineWKT(line)
	} else {
		own := ix.seatIndex[v.TownshipCode]
		pt, err := gazetteer.PlaceNear(r, a, ix.seats[v.CountyCode], own, v.Point, 0.002, 0.02)
		if err != nil {
			return p, fmt.Errorf("project at village %s: %w", v.Code, err)
		}
		p.WKT = "POINT(" + coord(pt) + ")"
	}

	// Mid-2016: projects started in the first half year are under way
	// or done; planned ones start in the second half.
	start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	var end time.Time
	switch x := r.Float64(); {
	case x < 0.2:
		p.Status, p.Completion = statusPlanned, 0
		start = start.AddDate(0, 0, between(r, 182, 360))
		end = start.AddDate(0, 0, between(r, 90, 360))
	case x < 0.7:
		p.Status, p.Completion = statusUnderConstruction, between(r, 5, 95)
		start = start.AddDate(0, 0, between(r, 0, 170))
		end = start.AddDate(0, 0, between(r, 60, 540))
	default:
		p.Status, p.Completion = statusCompleted, 100
		start = start.AddDate(0, 0, between(r, 0, 120))
		end = start.AddDate(0, 0, between(r, 20, 180-start.YearDay()))
	}
	if last := time.Date(2017, 12, 31, 0, 0, 0, 0, time.UTC); end.After(last) {
		end = last
	}
	p.StartDate, p.EndDate = start.Format(time.DateOnly), end.Format(time.DateOnly)
	return p, nil
}

// setProjectFunds sets a project's budget and what has been paid out,
// which follows completion: nothing before work starts, about the share
// done while under way, nearly all once complete.
func setProjectFunds(r *rand.Rand, p *project, yuan int) {
	p.FundsPlanned = yuan
	var share float64
	switch p.Status {
	case statusUnderConstruction:
		share = float64(p.Completion) / 100 * gazetteer.Uniform(r, 0.8, 1.15)
	case statusCompleted:
		share = gazetteer.Uniform(r, 0.9, 1)
	}
	p.FundsDisbursed = min(yuan, int(math.Round(float64(yuan)*share)))
}

// coord writes a point as "lon lat" with six decimals, as in WKT.
func coord(p orb.Point) string {
	return strconv.FormatFloat(p[0], 'f', 6, 64) + " " + strconv.FormatFloat(p[1], 'f', 6, 64)
}

// lineWKT writes a line string as WKT.
func lineWKT(ls orb.LineString) string {
	parts := make([]string, len(ls))
	for i, p := range ls {
		parts[i] = coord(p)
	}
	return "LINESTRING(" + strings.Join(parts, ",") + ")"
}
