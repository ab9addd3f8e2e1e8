package main

import (
	"fmt"
	"math"

	"github.com/paulmach/orb/planar"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// Published figures for Zunyi, first half of 2016 (see SOURCES.md), and the
// few synthetic totals chosen to go with them.
const (
	notExitedTownships = 5
	exitedTownships    = 6 // "a few"
	notExitedVillages  = 645
	cityPairedVillages = 196 // the other 449 are paired at county level
	exitedVillages     = 300 // synthetic, within the 250–350 asked for
	poorPopulation     = 558300
	demoVillages       = 24
	demoTownships      = 24
	cooperativesTotal  = 4207
	villagesWithCoops  = 1630
)

// Villages that must be demonstration points: the two the city names.
var requiredDemoVillages = []string{
	"520304116203", // 花茂村, 播州区枫香镇
	"520322002200", // 杉坪村, 桐梓县
}

// canBePoor reports whether a village-level unit can be a poverty
// village: a village (村), not a community, and not under a subdistrict.
func canBePoor(ds *dataset, ix *index, v *village) bool {
	return !gazetteer.IsCommunity(v.Name) && !gazetteer.IsSubdistrict(ix.townshipOf(ds, v).Name)
}

// assignPoverty marks exactly notExitedVillages villages not_exited and
// exitedVillages exited. Counties get their share by apportionment over
// (eligible villages × the county's poverty weight); within a county the
// most remote villages, with some noise, are the poor ones, and the next
// most remote are those that have exited. Then the five poverty townships
// are the townships of remote counties with the highest share of poor
// villages (the exited ones are chosen once the population is drawn:
// markExitedTownships).
func assignPoverty(ds *dataset, ix *index) error {
	n := len(ds.Counties)
	eligible := make([][]int, n)
	scores := make([][]float64, n)
	weights := make([]float64, n)
	for ci, c := range ds.Counties {
		r := gazetteer.NewRand(seedPoverty, c.Code)
		for _, vi := range ix.countyVillages[c.Code] {
			v := &ds.Villages[vi]
			if canBePoor(ds, ix, v) {
				eligible[ci] = append(eligible[ci], vi)
				scores[ci] = append(scores[ci], v.Remoteness+0.35*r.Float64())
			}
		}
		weights[ci] = float64(len(eligible[ci])) * profiles[c.Code].PovertyWeight
	}
	poor, err := apportion(notExitedVillages, weights)
	if err != nil {
		return err
	}
	for ci := range weights {
		weights[ci] = float64(len(eligible[ci])-poor[ci]) * profiles[ds.Counties[ci].Code].PovertyWeight
	}
	exited, err := apportion(exitedVillages, weights)
	if err != nil {
		return err
	}
	for ci, c := range ds.Counties {
		if poor[ci]+exited[ci] > len(eligible[ci]) {
			return fmt.Errorf("county %s: %d poor and %d exited villages but only %d villages", c.Code, poor[ci], exited[ci], len(eligible[ci]))
		}
		r := gazetteer.NewRand(seedPoverty, "exit "+c.Code)
		for k, e := range rankDesc(scores[ci])[:poor[ci]+exited[ci]] {
			v := &ds.Villages[eligible[ci][e]]
			if k < poor[ci] {
				v.Poverty = statusNotExited
				continue
			}
			v.Poverty, v.ExitYear = statusExited, 2015
			if r.Float64() < 0.4 {
				v.ExitYear = 2014
			}
		}
	}
	return markPovertyTownships(ds, ix)
}

// markPovertyTownships picks, in each remote, non-urban county, the rural
// township with the largest share of not_exited villages, away from the
// county town, and keeps the strongest few city-wide as the poverty
// townships.
func markPovertyTownships(ds *dataset, ix *index) error {
	best, scores := bestTownshipPer(ds, ix, func(c gazetteer.County) bool {
		p := profiles[c.Code]
		return p.Remote && !p.Urban
	}, func(ti int) (float64, bool) {
		vis := ix.townshipVillages[ds.Townships[ti].Code]
		k := 0
		for _, vi := range vis {
			if ds.Villages[vi].Poverty == statusNotExited {
				k++
			}
		}
		return float64(k) / float64(len(vis)), true
	})
	if len(best) < notExitedTownships {
		return fmt.Errorf("only %d remote counties with poor villages for %d poverty townships", len(best), notExitedTownships)
	}
	for _, k := range topK(scores, notExitedTownships) {
		ds.Townships[best[k]].Poverty = statusNotExited
	}
	return nil
}

// bestTownshipPer is, for each county that counts, its rural township
// away from the county town with the highest score (those score says do
// not qualify left out), with that score. The county town and its
// suburbs are never poverty townships, however poor their villages.
func bestTownshipPer(ds *dataset, ix *index, counts func(gazetteer.County) bool, score func(ti int) (float64, bool)) (best []int, scores []float64) {
	for _, c := range ds.Counties {
		if !counts(c) {
			continue
		}
		bi, bs := -1, 0.0
		town := ix.seats[c.Code][0]
		for _, ti := range ix.countyTownships[c.Code] {
			t := &ds.Townships[ti]
			if gazetteer.IsSubdistrict(t.Name) || planar.Distance(t.Seat, town) < gazetteer.UrbanRadius {
				continue
			}
			if s, ok := score(ti); ok && s > bs {
				bi, bs = ti, s
			}
		}
		if bi >= 0 {
			best, scores = append(best, bi), append(scores, bs)
		}
	}
	return best, scores
}

// Exit standards the data set keeps to: those the database enforces on
// every exit (migrations/017_exits.sql, exit_standards): a village's
// poverty incidence below 3%; a township's, over its villages, below 3%
// with at least 90% of its poverty villages exited. An exited township
// is chosen with a margin (below 2.5%), so that it met the standard on
// 1 January too, when its villages had more poor people.
const (
	exitIncidence       = 0.03
	townshipExitMargin  = 0.025
	townshipExitedShare = 0.9
)

// markExitedTownships marks exitedTownships townships exited: in each
// non-urban county the rural township that meets the exit
// standard with the most exited villages, and the strongest few of those
// city-wide. It runs once the population is drawn, as the standard is
// one of poor people.
func markExitedTownships(ds *dataset, ix *index) error {
	best, scores := bestTownshipPer(ds, ix, func(c gazetteer.County) bool {
		return !profiles[c.Code].Urban
	}, func(ti int) (float64, bool) {
		var people, poor, poverty, exited int
		for _, vi := range ix.townshipVillages[ds.Townships[ti].Code] {
			v := &ds.Villages[vi]
			people, poor = people+v.Population, poor+v.PoorPopulation
			switch v.Poverty {
			case statusExited:
				poverty, exited = poverty+1, exited+1
			case statusNotExited:
				poverty++
			}
		}
		meets := exited > 0 && float64(poor) < townshipExitMargin*float64(people) &&
			float64(exited) >= townshipExitedShare*float64(poverty)
		// More exited villages first; the lower incidence breaks ties.
		return float64(exited) + 1 - float64(poor)/float64(people), meets
	})
	if len(best) < exitedTownships {
		return fmt.Errorf("only %d counties with a township that meets the exit standard for %d exited townships", len(best), exitedTownships)
	}
	r := gazetteer.NewRand(seedPoverty, "townships")
	for _, k := range topK(scores, exitedTownships) {
		t := &ds.Townships[best[k]]
		t.Poverty, t.ExitYear = statusExited, 2014+r.IntN(2)
	}
	return nil
}

// assignPopulation draws each village's population and then splits the
// city's poor population over the villages in proportion to population ×
// a poor share that depends on the village's status: 15–35% in poverty
// villages, 1–3% in exited ones (the exit threshold is 3%), 0.5–8%
// elsewhere, little or nothing in communities. Apportionment makes the
// total exact; the shares are set so the scaling it implies is close to
// one.
func assignPopulation(ds *dataset, ix *index) error {
	weights := make([]float64, len(ds.Villages))
	for i := range ds.Villages {
		v := &ds.Villages[i]
		r := gazetteer.NewRand(seedPopulation, v.Code)
		var share float64
		switch {
		case gazetteer.IsCommunity(v.Name):
			// Communities are towns: larger, with few registered poor.
			v.Population = 1500 + int(10500*math.Pow(r.Float64(), 1.2))
			if r.Float64() < 0.5 {
				share = gazetteer.Uniform(r, 0.002, 0.01)
			}
		default:
			v.Population = 800 + int(5200*math.Pow(r.Float64(), 1.5))
			switch v.Poverty {
			case statusNotExited:
				share = gazetteer.Uniform(r, 0.16, 0.34)
			case statusExited:
				share = gazetteer.Uniform(r, 0.01, 0.03)
			default:
				share = gazetteer.Uniform(r, 0.005, 0.075)
			}
		}
		weights[i] = float64(v.Population) * share
	}
	poor, err := apportion(poorPopulation, weights)
	if err != nil {
		return err
	}
	for i := range ds.Villages {
		ds.Villages[i].PoorPopulation = poor[i]
	}
	keepExitsBelowStandard(ds, ix)
	for i := range ds.Villages {
		v := &ds.Villages[i]
		if v.PoorPopulation > v.Population {
			return fmt.Errorf("village %s: %d poor of %d people", v.Code, v.PoorPopulation, v.Population)
		}
		if v.PoorPopulation > 0 {
			r := gazetteer.NewRand(seedPopulation, "households "+v.Code)
			hh := int(math.Round(float64(v.PoorPopulation) / gazetteer.Uniform(r, 3.1, 3.5)))
			v.PoorHouseholds = min(max(hh, 1), v.PoorPopulation)
		}
	}
	return nil
}

// keepExitsBelowStandard keeps every exited village below the exit
// standard: the apportionment's scaling can lift a share drawn just below
// 3% to just above it, and the database refuses such an exit. The people
// above the standard move to the poverty village of the same county with
// the most poor people, so the city's total stays exact.
func keepExitsBelowStandard(ds *dataset, ix *index) {
	for i := range ds.Villages {
		v := &ds.Villages[i]
		// The most poor people below the standard: 100·poor < 3·population.
		most := (int(exitIncidence*100)*v.Population - 1) / 100
		if v.Poverty != statusExited || v.PoorPopulation <= most {
			continue
		}
		to := -1
		for _, vi := range ix.countyVillages[v.CountyCode] {
			if w := &ds.Villages[vi]; w.Poverty == statusNotExited && (to < 0 || w.PoorPopulation > ds.Villages[to].PoorPopulation) {
				to = vi
			}
		}
		ds.Villages[to].PoorPopulation += v.PoorPopulation - most
		v.PoorPopulation = most
	}
}

// assignDemonstration marks demoVillages villages and demoTownships
// townships as demonstration points: the two named villages first, then
// one village and one township in every county that has none, then more
// at random. Subdistricts and communities are not demonstration points,
// but a village under a subdistrict (杉坪村) can be.
func assignDemonstration(ds *dataset, ix *index) error {
	r := gazetteer.NewRand(seedDemonstration, "")
	hasVillage := map[string]bool{}
	chosen := 0
	mark := func(vi int) {
		ds.Villages[vi].Demonstration = true
		hasVillage[ds.Villages[vi].CountyCode] = true
		chosen++
	}
	for _, code := range requiredDemoVillages {
		vi, ok := ix.village[code]
		if !ok {
			return fmt.Errorf("village %s is not in the sources", code)
		}
		mark(vi)
	}
	var pool []int
	for i := range ds.Villages {
		if !ds.Villages[i].Demonstration && canBePoor(ds, ix, &ds.Villages[i]) {
			pool = append(pool, i)
		}
	}
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	for _, c := range ds.Counties {
		for _, vi := range pool {
			if !hasVillage[c.Code] && ds.Villages[vi].CountyCode == c.Code {
				mark(vi)
			}
		}
	}
	for _, vi := range pool {
		if chosen < demoVillages && !ds.Villages[vi].Demonstration {
			mark(vi)
		}
	}
	if chosen != demoVillages {
		return fmt.Errorf("%d demonstration villages, want %d", chosen, demoVillages)
	}

	// Every county gets a demonstration township too. The township of a
	// demonstration village is the natural one; failing that, a random
	// rural township of the county.
	var towns []int
	for i, t := range ds.Townships {
		if !gazetteer.IsSubdistrict(t.Name) {
			towns = append(towns, i)
		}
	}
	r.Shuffle(len(towns), func(i, j int) { towns[i], towns[j] = towns[j], towns[i] })
	chosen = 0
	for _, c := range ds.Counties {
		ti := -1
		for _, vi := range ix.countyVillages[c.Code] {
			if ds.Villages[vi].Demonstration && !gazetteer.IsSubdistrict(ix.townshipOf(ds, &ds.Villages[vi]).Name) {
				ti = ix.township[ds.Villages[vi].TownshipCode]
				break
			}
		}
		for _, k := range towns {
			if ti < 0 && ds.Townships[k].CountyCode == c.Code {
				ti = k
			}
		}
		if ti < 0 {
			return fmt.Errorf("county %s has no rural township", c.Code)
		}
		ds.Townships[ti].Demonstration = true
		chosen++
	}
	for _, ti := range towns {
		if chosen < demoTownships && !ds.Townships[ti].Demonstration {
			ds.Townships[ti].Demonstration = true
			chosen++
		}
	}
	if chosen != demoTownships {
		return fmt.Errorf("%d demonstration townships, want %d", chosen, demoTownships)
	}
	return nil
}

// assignPairing pairs every poverty village with a unit: a random
// cityPairedVillages of them with city bureaus in turn (so each bureau
// has six or seven), the rest with a bureau of their own county.
func assignPairing(ds *dataset, ix *index) error {
	r := gazetteer.NewRand(seedPairing, "")
	var poor []int
	for i, v := range ds.Villages {
		if v.Poverty == statusNotExited {
			poor = append(poor, i)
		}
	}
	if len(poor) < cityPairedVillages {
		return fmt.Errorf("%d poverty villages, fewer than %d city pairings", len(poor), cityPairedVillages)
	}
	r.Shuffle(len(poor), func(i, j int) { poor[i], poor[j] = poor[j], poor[i] })
	for k, vi := range poor {
		v := &ds.Villages[vi]
		if k < cityPairedVillages {
			v.PairingLevel, v.PairingUnit = pairingCity, cityUnits[k%len(cityUnits)]
			continue
		}
		county := ds.Counties[ix.county[v.CountyCode]]
		v.PairingLevel, v.PairingUnit = pairingCounty, county.Name+pick(r, countyUnitSuffixes)
	}
	return nil
}

// assignCooperatives gives exactly villagesWithCoops villages at least
// one farmers' cooperative, preferring villages over communities and
// demonstration villages over all, and shares out the rest of
// cooperativesTotal among them by apportionment.
func assignCooperatives(ds *dataset, ix *index) error {
	r := gazetteer.NewRand(seedCooperatives, "")
	scores := make([]float64, len(ds.Villages))
	extra := make([]float64, len(ds.Villages))
	for i, v := range ds.Villages {
		scores[i] = r.Float64()
		extra[i] = 0.3 + 2*r.Float64()
		if !gazetteer.IsCommunity(v.Name) {
			scores[i] += 0.7
		}
		if v.Demonstration {
			scores[i] += 2
			extra[i] += 3
		}
	}
	weights := make([]float64, len(ds.Villages))
	with := topK(scores, villagesWithCoops)
	for _, i := range with {
		ds.Villages[i].Cooperatives = 1
		weights[i] = extra[i]
	}
	more, err := apportion(cooperativesTotal-len(with), weights)
	if err != nil {
		return err
	}
	for i := range ds.Villages {
		ds.Villages[i].Cooperatives += more[i]
	}
	return nil
}
