package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// relocationPeople is the city's 2016–2017 relocation target (易地扶贫搬迁).
const relocationPeople = 181000

const (
	// peoplePerSite sets the number of sites: about 120 for the city.
	peoplePerSite = 1500
	// minDonorPeople keeps tiny groups out of the relocation plan, so
	// that every assignment row is a believable number of households.
	minDonorPeople = 15
)

// Site types.
const (
	siteUrban = "urban" // in the county town
	siteTown  = "town"  // beside a township seat
	siteRural = "rural" // a centralised site in the countryside
)

// Statuses of sites and projects.
const (
	statusPlanned           = "planned"
	statusUnderConstruction = "under_construction"
	statusCompleted         = "completed"
	statusOccupied          = "occupied" // sites only
)

// urbanSiteNames name a county's urban sites in turn; %s is the county's
// short name.
var urbanSiteNames = []string{"%s城区易地扶贫搬迁安置点", "%s新城安置点", "%s城南安置点", "%s城北安置点"}

// planRelocation plans the sites and says who moves where. Each village
// may give part of its poor population (its budget); the city's target is
// apportioned to counties by their budgets, so no county is asked for
// more people than it can give; sites then fill up from their county's
// villages.
func planRelocation(ds *dataset, ix *index) error {
	budgets := relocationBudgets(ds)
	weights := make([]float64, len(ds.Counties))
	total := make([]int, len(ds.Counties))
	for ci, c := range ds.Counties {
		for _, vi := range ix.countyVillages[c.Code] {
			total[ci] += budgets[vi]
		}
		weights[ci] = float64(total[ci])
	}
	capacity, err := apportion(relocationPeople, weights)
	if err != nil {
		return err
	}
	for ci, c := range ds.Counties {
		if capacity[ci] > total[ci] {
			return fmt.Errorf("county %s: %d people to relocate but only %d can be", c.Code, capacity[ci], total[ci])
		}
		sites, err := planSites(ds, ix, c, capacity[ci])
		if err != nil {
			return fmt.Errorf("county %s: %w", c.Code, err)
		}
		as, err := fillSites(ds, ix, sites, budgets)
		if err != nil {
			return fmt.Errorf("county %s: %w", c.Code, err)
		}
		ds.Sites = append(ds.Sites, sites...)
		ds.Assignments = append(ds.Assignments, as...)
	}
	slices.SortFunc(ds.Assignments, func(a, b assignment) int {
		return cmp.Or(cmp.Compare(a.VillageCode, b.VillageCode), cmp.Compare(a.SiteCode, b.SiteCode))
	})
	return nil
}

// relocationBudgets says how many people each village may send: 45–80%
// of the poor in poverty villages, 20–50% in the remotest third of the
// other villages, where the poor live far from roads; nobody from
// communities, nor from any village that would send fewer than
// minDonorPeople.
func relocationBudgets(ds *dataset) []int {
	budgets := make([]int, len(ds.Villages))
	for i, v := range ds.Villages {
		r := gazetteer.NewRand(seedAssignments, v.Code)
		var f float64
		switch {
		case gazetteer.IsCommunity(v.Name):
		case v.Poverty == statusNotExited:
			f = gazetteer.Uniform(r, 0.45, 0.8)
		case v.Remoteness >= 0.67:
			f = gazetteer.Uniform(r, 0.2, 0.5)
		}
		if b := int(float64(v.PoorPopulation) * f); b >= minDonorPeople {
			budgets[i] = b
		}
	}
	return budgets
}

// sitePlan is a site before it has a place: its type and township.
type sitePlan struct {
	typ string
	ti  int // ds.Townships index
}

// planSites makes a county's sites for capacity people: one urban site
// in the county town (two in counties with many sites), the others in
// rural townships drawn with weight for their poverty villages. Codes
// follow the order urban first, then by township.
func planSites(ds *dataset, ix *index, c gazetteer.County, capacity int) ([]site, error) {
	r := gazetteer.NewRand(seedSites, c.Code)
	n := max(2, int(math.Round(float64(capacity)/peoplePerSite)))
	tis := ix.countyTownships[c.Code]
	plans := []sitePlan{{siteUrban, tis[0]}}
	if n >= 6 {
		plans = append(plans, sitePlan{siteUrban, tis[0]})
	}
	urban := len(plans)

	var pool []int
	var weights []float64
	refill := func() {
		for _, ti := range tis {
			if gazetteer.IsSubdistrict(ds.Townships[ti].Name) && len(tis) > 1 {
				continue
			}
			w := 1.0
			for _, vi := range ix.townshipVillages[ds.Townships[ti].Code] {
				if ds.Villages[vi].Poverty == statusNotExited {
					w++
				}
			}
			pool, weights = append(pool, ti), append(weights, w)
		}
	}
	for len(plans) < n {
		if len(pool) == 0 {
			refill()
		}
		k := pickWeighted(r, weights)
		typ := siteTown
		if r.Float64() < 0.45 {
			typ = siteRural
		}
		plans = append(plans, sitePlan{typ, pool[k]})
		pool, weights = slices.Delete(pool, k, k+1), slices.Delete(weights, k, k+1)
	}
	slices.SortStableFunc(plans[urban:], func(a, b sitePlan) int {
		return cmp.Or(cmp.Compare(a.ti, b.ti), cmp.Compare(a.typ, b.typ))
	})

	sizes := make([]float64, len(plans))
	for k, p := range plans {
		switch p.typ {
		case siteUrban:
			sizes[k] = gazetteer.Uniform(r, 3, 6)
		case siteTown:
			sizes[k] = gazetteer.Uniform(r, 1, 2.5)
		default:
			sizes[k] = gazetteer.Uniform(r, 0.3, 0.8)
		}
	}
	people, err := apportion(capacity, sizes)
	if err != nil {
		return nil, err
	}

	a, seats := ix.areas[c.Code], ix.seats[c.Code]
	names := map[string]int{}
	sites := make([]site, len(plans))
	for k, p := range plans {
		t := ds.Townships[p.ti]
		own := ix.seatIndex[t.Code]
		pt, err := gazetteer.PlaceNear(r, a, seats, own, t.Seat, 0.01, 0.03)
		if err != nil {
			return nil, fmt.Errorf("site in township %s: %w", t.Code, err)
		}
		s := site{
			Code:         fmt.Sprintf("%s-S%02d", c.Code, k+1),
			Type:         p.typ,
			CountyCode:   c.Code,
			TownshipCode: t.Code,
			Point:        pt,
		}
		switch p.typ {
		case siteUrban:
			s.Name = fmt.Sprintf(urbanSiteNames[min(k, len(urbanSiteNames)-1)], profiles[c.Code].Short)
		case siteTown:
			s.Name = shortTownshipName(t.Name) + "易地扶贫搬迁安置点"
		default:
			s.Name = nearestVillageName(ds, ix, t.Code, pt) + "集中安置点"
		}
		if names[s.Name]++; names[s.Name] > 1 {
			s.Name += fmt.Sprintf("（%s期）", chineseOrdinal(names[s.Name]))
		}
		if people[k] < minDonorPeople {
			return nil, fmt.Errorf("site %s would hold only %d people", s.Code, people[k])
		}
		s.CapacityPeople = people[k]
		s.CapacityHouseholds = max(1, int(math.Round(float64(s.CapacityPeople)/gazetteer.Uniform(r, 3.4, 3.9))))
		setSiteProgress(r, &s)
		sites[k] = s
	}
	return sites, nil
}

// nearestVillageName is the short name of the village of a township
// nearest to p, after which a rural site there is named.
func nearestVillageName(ds *dataset, ix *index, townshipCode string, p orb.Point) string {
	best, bestDist := "", math.Inf(1)
	for _, vi := range ix.townshipVillages[townshipCode] {
		v := &ds.Villages[vi]
		if d := planar.Distance(p, v.Point); d < bestDist {
			best, bestDist = shortVillageName(v.Name), d
		}
	}
	return best
}

// chineseOrdinal writes 2 to 9 as 二 to 九, for 二期, 三期 ….
func chineseOrdinal(n int) string {
	digits := []string{"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	if n >= 0 && n < len(digits) {
		return digits[n]
	}
	return fmt.Sprint(n)
}

// setSiteProgress draws a site's state in mid-2016: a fifth planned,
// under half under construction, the rest finished, of which some are
// occupied. Progress, completion date and moved-in numbers agree with
// the status: only occupied sites have anyone moved in.
func setSiteProgress(r *rand.Rand, s *site) {
	switch x := r.Float64(); {
	case x < 0.2:
		s.Status, s.Progress = statusPlanned, 0
		s.PlannedCompletion = dateIn(r, 2017, 3, 2017, 12)
	case x < 0.65:
		s.Status, s.Progress = statusUnderConstruction, between(r, 5, 95)
		s.PlannedCompletion = dateIn(r, 2016, 7, 2017, 12)
	case x < 0.8:
		s.Status, s.Progress = statusCompleted, 100
		s.PlannedCompletion = dateIn(r, 2016, 1, 2016, 6)
	default:
		s.Status, s.Progress = statusOccupied, 100
		s.PlannedCompletion = dateIn(r, 2016, 1, 2016, 6)
		s.MovedInPeople = max(1, int(float64(s.CapacityPeople)*gazetteer.Uniform(r, 0.4, 1)))
		s.MovedInHouseholds = min(s.CapacityHouseholds, s.MovedInPeople,
			max(1, int(math.Round(float64(s.CapacityHouseholds)*float64(s.MovedInPeople)/float64(s.CapacityPeople)))))
	}
}

// dateIn returns a date between the first of month m1 of y1 and the 28th
// of month m2 of y2 (the 28th, so that every month has the day).
func dateIn(r *rand.Rand, y1, m1, y2, m2 int) string {
	months := (y2-y1)*12 + m2 - m1
	k := m1 - 1 + r.IntN(months+1)
	return fmt.Sprintf("%04d-%02d-%02d", y1+k/12, k%12+1, between(r, 1, 28))
}

// fillSites takes people for a county's sites from its villages' budgets
// (which it spends): town and rural sites first, from the nearest
// villages, then urban sites from the remotest villages left. Each site
// is filled exactly, and its households are shared out over its rows.
func fillSites(ds *dataset, ix *index, sites []site, budgets []int) ([]assignment, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	var donors []int
	for _, vi := range ix.countyVillages[sites[0].CountyCode] {
		if budgets[vi] > 0 {
			donors = append(donors, vi)
		}
	}
	order := make([]int, 0, len(sites))
	for k, s := range sites {
		if s.Type != siteUrban {
			order = append(order, k)
		}
	}
	for k, s := range sites {
		if s.Type == siteUrban {
			order = append(order, k)
		}
	}

	var out []assignment
	for _, k := range order {
		s := &sites[k]
		cand := slices.Clone(donors)
		key := func(vi int) float64 {
			if s.Type == siteUrban {
				return -ds.Villages[vi].Remoteness
			}
			return planar.Distance(s.Point, ds.Villages[vi].Point)
		}
		slices.SortStableFunc(cand, func(a, b int) int { return cmp.Compare(key(a), key(b)) })

		need := s.CapacityPeople
		var rows []assignment
		for _, vi := range cand {
			if need == 0 {
				break
			}
			take := min(budgets[vi], need)
			if take == 0 {
				continue
			}
			budgets[vi] -= take
			need -= take
			rows = append(rows, assignment{VillageCode: ds.Villages[vi].Code, SiteCode: s.Code, People: take})
		}
		if need > 0 {
			return nil, fmt.Errorf("site %s: %d places left unfilled", s.Code, need)
		}
		if err := shareHouseholds(s.CapacityHouseholds, rows); err != nil {
			return nil, fmt.Errorf("site %s: %w", s.Code, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// shareHouseholds splits a site's households over its rows: one each,
// the rest in proportion to each row's people beyond the first, so that
// every row has at least one household and no more households than
// people.
func shareHouseholds(households int, rows []assignment) error {
	if households < len(rows) {
		return fmt.Errorf("%d households for %d villages", households, len(rows))
	}
	weights := make([]float64, len(rows))
	for i, a := range rows {
		weights[i] = float64(a.People - 1)
	}
	more, err := apportion(households-len(rows), weights)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Households = 1 + more[i]
		if rows[i].Households > rows[i].People {
			return fmt.Errorf("village %s: %d households for %d people", rows[i].VillageCode, rows[i].Households, rows[i].People)
		}
	}
	return nil
}
