package main

import (
	"math"
	"slices"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// Seeds of the random streams, one per concern, each further keyed by a
// code (gazetteer.NewRand), so that a village's figures depend on its
// code alone and a run over one province writes the same rows for it as
// a national run.
const (
	seedSeats uint64 = 0x4A710 + iota
	seedVillagePoints
	seedFigures
)

// Poverty statuses and pairing levels as the importer takes them (the
// catalogue's PovertyStatuses and PairingLevels).
const (
	statusNone      = "none"
	statusNotExited = "not_exited"
	statusExited    = "exited"
	pairingCity     = "city"
	pairingCounty   = "county"
)

// exitYear is the year every exited village exited: the figures are of
// mid-2016, as the demo's are.
const exitYear = 2015

// maxExitIncidence is the poverty incidence an exited village stays
// below, under the exit standard's 3% (migrations/017_exits.sql) by a
// margin, since the standard compares a rounded ratio.
const maxExitIncidence = 0.025

// westernProvinces are the provinces of the western development region
// (西部大开发), where poverty villages were most common.
var westernProvinces = []string{"15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}

// centralProvinces are the central region's; the rest are eastern.
var centralProvinces = []string{"14", "22", "23", "34", "36", "41", "42", "43"}

// figures are a village's synthetic figures, the columns of villages.csv.
type figures struct {
	Poverty                                string
	ExitYear                               int // 0 unless Poverty is statusExited
	Population, PoorHouseholds, PoorPeople int
	Demonstration                          bool
	PairingLevel, PairingUnit              string
	Cooperatives                           int
}

// villageFigures draws a village's figures from its code. Communities
// and the villages of subdistricts are urban: larger, never poverty
// villages, with few poor people. Elsewhere a village is a poverty
// village with a chance that grows from the east (10%) to the west (50%),
// about 120,000 in all, as the registry had in 2016; two in five of those
// have exited (incidence below maxExitIncidence), the rest have not
// (incidence 8–30%) and are paired with a city- or county-level unit. Every row meets the villages' CHECK constraints: poor people at
// most the population, households at most the poor people, an exit year
// exactly when exited.
func villageFigures(v gazetteer.Village, township gazetteer.Township, countyName string) figures {
	r := gazetteer.NewRand(seedFigures, v.Code)
	f := figures{Poverty: statusNone}
	urban := gazetteer.IsCommunity(v.Name) || gazetteer.IsSubdistrict(township.Name)
	var incidence float64
	if urban {
		f.Population = 1500 + r.IntN(5000)
		incidence = gazetteer.Uniform(r, 0, 0.005)
	} else {
		f.Population = 400 + r.IntN(2000)
		chance := 0.1
		switch {
		case slices.Contains(westernProvinces, v.Code[:2]):
			chance = 0.5
		case slices.Contains(centralProvinces, v.Code[:2]):
			chance = 0.26
		}
		switch x := r.Float64(); {
		case x < chance*0.4:
			f.Poverty, f.ExitYear = statusExited, exitYear
			incidence = gazetteer.Uniform(r, 0.005, maxExitIncidence)
		case x < chance:
			f.Poverty = statusNotExited
			incidence = gazetteer.Uniform(r, 0.08, 0.3)
			f.PairingLevel, f.PairingUnit = pairingCounty, countyName+"帮扶单位"
			if r.IntN(3) == 0 {
				f.PairingLevel, f.PairingUnit = pairingCity, "市直帮扶单位"
			}
		default:
			incidence = gazetteer.Uniform(r, 0, 0.02)
		}
		f.Cooperatives = r.IntN(4)
		f.Demonstration = f.Poverty == statusExited && r.IntN(50) == 0
	}
	f.PoorPeople = int(math.Floor(incidence * float64(f.Population)))
	if f.PoorPeople > 0 {
		f.PoorHouseholds = max(1, int(math.Round(float64(f.PoorPeople)/gazetteer.Uniform(r, 2.8, 3.6))))
	}
	return f
}

// regionStatus is a township's or a county's poverty status from its
// villages: not_exited (a poverty township, a poverty county) when at
// least a quarter of its villages are poverty villages not yet exited,
// else none. No region above a village is marked exited, so none has to
// meet the exit standard of migrations/017_exits.sql.
func regionStatus(notExited, villages int) string {
	if villages > 0 && notExited*4 >= villages {
		return statusNotExited
	}
	return statusNone
}
