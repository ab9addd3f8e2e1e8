package main

import (
	"fmt"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// index finds rows by code and groups them, always as index slices in
// code order, so that nothing depends on map iteration order.
type index struct {
	county           map[string]int            // county code → ds.Counties index
	township         map[string]int            // township code → ds.Townships index
	village          map[string]int            // village code → ds.Villages index
	countyTownships  map[string][]int          // county code → ds.Townships indexes
	countyVillages   map[string][]int          // county code → ds.Villages indexes
	townshipVillages map[string][]int          // township code → ds.Villages indexes
	areas            map[string]gazetteer.Area // county code → boundary
	seats            map[string][]orb.Point
	seatIndex        map[string]int // township code → its index in seats[county]
}

func newIndex(ds *dataset) *index {
	ix := &index{
		county:           map[string]int{},
		township:         map[string]int{},
		village:          map[string]int{},
		countyTownships:  map[string][]int{},
		countyVillages:   map[string][]int{},
		townshipVillages: map[string][]int{},
		areas:            map[string]gazetteer.Area{},
		seats:            map[string][]orb.Point{},
		seatIndex:        map[string]int{},
	}
	for i, c := range ds.Counties {
		ix.county[c.Code] = i
		ix.areas[c.Code] = gazetteer.NewArea(c.Shape)
	}
	for i, t := range ds.Townships {
		ix.township[t.Code] = i
		ix.seatIndex[t.Code] = len(ix.countyTownships[t.CountyCode])
		ix.countyTownships[t.CountyCode] = append(ix.countyTownships[t.CountyCode], i)
	}
	for i, v := range ds.Villages {
		ix.village[v.Code] = i
		ix.countyVillages[v.CountyCode] = append(ix.countyVillages[v.CountyCode], i)
		ix.townshipVillages[v.TownshipCode] = append(ix.townshipVillages[v.TownshipCode], i)
	}
	return ix
}

// townshipOf returns the township a village belongs to.
func (ix *index) townshipOf(ds *dataset, v *village) *township {
	return &ds.Townships[ix.township[v.TownshipCode]]
}

// generate derives the whole data set from the sources. Each step reads
// what the earlier ones made: points first, because remoteness steers
// poverty, and poverty steers relocation and projects.
func generate(src sources) (*dataset, error) {
	for _, c := range src.Counties {
		if _, err := profileOf(c.Code); err != nil {
			return nil, err
		}
	}
	ds := &dataset{Counties: src.Counties}
	for _, t := range src.Townships {
		ds.Townships = append(ds.Townships, township{Township: t, Poverty: statusNone})
	}
	for _, v := range src.Villages {
		ds.Villages = append(ds.Villages, village{Village: v, Poverty: statusNone})
	}
	ix := newIndex(ds)

	steps := []struct {
		what string
		run  func(*dataset, *index) error
	}{
		{"place township seats and villages", placeAll},
		{"poverty status", assignPoverty},
		{"population", assignPopulation},
		{"exited townships", markExitedTownships},
		{"demonstration points", assignDemonstration},
		{"pairing", assignPairing},
		{"cooperatives", assignCooperatives},
		{"relocation", planRelocation},
		{"projects", planProjects},
		{"factors", planFactors},
		{"history", planHistory},
		{"planted inconsistencies", plantInconsistencies},
	}
	for _, s := range steps {
		if err := s.run(ds, ix); err != nil {
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return ds, nil
}

// placeAll places every township seat, then every village, and measures
// each village's remoteness from its county town (the first township's
// seat).
func placeAll(ds *dataset, ix *index) error {
	for _, c := range ds.Counties {
		tis := ix.countyTownships[c.Code]
		if len(tis) == 0 {
			return fmt.Errorf("county %s %s has no townships", c.Code, c.Name)
		}
		towns := make([]gazetteer.Township, len(tis))
		for k, ti := range tis {
			towns[k] = ds.Townships[ti].Township
		}
		seats, err := gazetteer.PlaceSeats(gazetteer.NewRand(seedSeats, c.Code), c, towns, gazetteer.DefaultSpacing)
		if err != nil {
			return err
		}
		for k, ti := range tis {
			ds.Townships[ti].Seat = seats[k]
		}
		ix.seats[c.Code] = seats

		for k, ti := range tis {
			code := ds.Townships[ti].Code
			vis := ix.townshipVillages[code]
			pts, err := gazetteer.PlaceVillages(gazetteer.NewRand(seedVillagePoints, code), ix.areas[c.Code], seats, k, len(vis))
			if err != nil {
				return fmt.Errorf("township %s: %w", code, err)
			}
			for j, vi := range vis {
				ds.Villages[vi].Point = pts[j]
			}
		}

		town, far := seats[0], 0.0
		for _, vi := range ix.countyVillages[c.Code] {
			far = max(far, planar.Distance(town, ds.Villages[vi].Point))
		}
		for _, vi := range ix.countyVillages[c.Code] {
			if far > 0 {
				ds.Villages[vi].Remoteness = planar.Distance(town, ds.Villages[vi].Point) / far
			}
		}
	}
	return nil
}
