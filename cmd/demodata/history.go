package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// The demo's first half of 2016, day by day. The data set's rows are
// Zunyi at the end of June 2016; the history leads up to them from
// 2016-01-01, so that the timeline can replay the half-year and measure it
// against the published figures: 103,000 people lifted out of poverty in
// January–June, 85,000 of them by the end of May, 51% of the year's
// target of 202,000.
//
// Each history file lists, per row, the versions it went through: a row
// dated 2016-01-01 is its state at the start (only rows that change
// afterwards have one, except projects, whose first row is the day they
// were funded), every later row a change on that working day, and the
// last row of each code is its state in the data set, exactly.

// The published figures the history reproduces (shared/DATA.md).
const (
	cityCode        = "520300"
	liftedOutH1     = 103_000 // people lifted out of poverty, January–June 2016
	liftedOutJanMay = 85_000  // of them, January–May
	poorOutTarget   = 202_000 // the year's target: 103,000 is 51% of it
)

// historyStart is the first day of the history: the start state is dated
// to it. historyEnd is the last day a change may fall on.
var (
	historyStart = day(2016, time.January, 1)
	historyEnd   = day(2016, time.June, 30)
)

// day returns a calendar day as a UTC midnight.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Changes fall on working days. China's public holidays of the first half
// of 2016 (State Council notice of December 2015) move some: New Year
// 1–3 January, Spring Festival 7–13 February (6 and 14 February worked),
// Qingming 2–4 April, Labour Day 30 April–2 May, Dragon Boat 9–11 June
// (12 June worked).
var (
	holidays2016 = map[string]bool{
		"2016-01-01": true, "2016-02-08": true, "2016-02-09": true, "2016-02-10": true, "2016-02-11": true,
		"2016-02-12": true, "2016-04-04": true, "2016-05-02": true, "2016-06-09": true, "2016-06-10": true,
	}
	weekendsWorked2016 = map[string]bool{"2016-02-06": true, "2016-02-14": true, "2016-06-12": true}
)

// isWorkingDay reports whether offices worked on d.
func isWorkingDay(d time.Time) bool {
	s := d.Format(time.DateOnly)
	if weekendsWorked2016[s] {
		return true
	}
	return !holidays2016[s] && d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
}

// workingDays returns the working days from from to to, both included,
// in order.
func workingDays(from, to time.Time) []time.Time {
	var days []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if isWorkingDay(d) {
			days = append(days, d)
		}
	}
	return days
}

// dayWeight is how likely a change falls on d: registries are brought up
// to date toward the end of each month, and more so of each quarter, when
// the figures are reported.
func dayWeight(d time.Time) float64 {
	last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	x := float64(d.Day()) / float64(last)
	w := 1 + 3*x*x*x*x
	if d.Month()%3 == 0 {
		w *= 1 + x
	}
	return w
}

// pickDays draws k distinct working days from days by dayWeight, in
// order; fewer when days has fewer.
func pickDays(r *rand.Rand, days []time.Time, k int) []time.Time {
	weights := make([]float64, len(days))
	for i, d := range days {
		weights[i] = dayWeight(d)
	}
	var picked []time.Time
	for range min(k, len(days)) {
		i := pickWeighted(r, weights)
		weights[i] = 0
		picked = append(picked, days[i])
	}
	slices.SortFunc(picked, time.Time.Compare)
	return picked
}

// villageVersion is one row of history_villages.csv: a village's status
// and registry figures from Date on.
type villageVersion struct {
	Date                           time.Time
	Code, Poverty                  string
	ExitYear                       int
	PoorHouseholds, PoorPopulation int
}

// siteVersion is one row of history_sites.csv.
type siteVersion struct {
	Date                             time.Time
	Code                             string
	MovedInHouseholds, MovedInPeople int
	Progress                         int
	Status                           string
}

// projectVersion is one row of history_projects.csv; a project's first
// is the day it was funded.
type projectVersion struct {
	Date           time.Time
	Code           string
	FundsDisbursed int
	Completion     int
	Status         string
}

// noTarget is a target figure not set, written as NULL.
const noTarget = -1

// target is one row of targets.csv.
type target struct {
	RegionCode                                    string
	Year                                          int
	PoorPeopleOut, VillagesExit, RelocationPeople int
}

// history is the half-year leading to the data set, and the targets it is
// measured against.
type history struct {
	Villages []villageVersion
	Sites    []siteVersion
	Projects []projectVersion
	Targets  []target
}

// Poverty shares a village keeps to at the start of the year, by what it
// is: a poverty village's share is at most 45%; a village that had exited
// (出列) was below the western threshold of 3%; other villages have at
// most 10% poor, communities 2% (the data set's own bounds).
const (
	maxShareNotExited = 0.45
	maxShareExited    = 0.03
	maxShareOther     = 0.10
	maxShareCommunity = 0.02
)

// returnees is how many villages fell back from exited to not exited in
// the half-year (返贫); smallRises how many others saw a few households
// re-enter the registry.
const (
	returnees  = 2
	smallRises = 12
)

// planHistory derives the half-year from the finished data set; it
// changes nothing in it.
func planHistory(ds *dataset, _ *index) error {
	if err := villageHistory(ds); err != nil {
		return err
	}
	siteHistory(ds)
	projectHistory(ds)
	return planTargets(ds)
}

// villageHistory spreads 103,000 people lifted out of poverty over the
// villages and the half-year, 85,000 of them by the end of May, and adds
// a few returns to poverty. No village exits in the half-year: none in
// the data set exited in 2016 (exits are checked at the year's end), so
// the villages exited today were exited on 1 January, with their 2014 or
// 2015 exit year. The returnees go the other way: exited in 2015 on 1
// January, not exited today.
func villageHistory(ds *dataset) error {
	r := gazetteer.NewRand(seedHistory, "villages")
	var candidates []int // poverty villages that may return
	for i, v := range ds.Villages {
		if v.Poverty == statusNotExited && !gazetteer.IsCommunity(v.Name) {
			candidates = append(candidates, i)
		}
	}
	// The returnees are the poverty villages with fewest poor people: a
	// few households hit by illness or a flood tip a small village back.
	fewest := make([]float64, len(candidates))
	for k, vi := range candidates {
		fewest[k] = -float64(ds.Villages[vi].PoorPopulation)
	}
	returning := map[int]bool{}
	for _, k := range topK(fewest, returnees) {
		returning[candidates[k]] = true
	}

	// What each village may have lost in the half-year, and how likely.
	weights := make([]float64, len(ds.Villages))
	caps := make([]int, len(ds.Villages))
	rises := make([]int, len(ds.Villages))
	var riseCandidates []int
	for i, v := range ds.Villages {
		share, w := maxShareOther, 0.5
		switch {
		case returning[i]:
			continue
		case gazetteer.IsCommunity(v.Name):
			share, w = maxShareCommunity, 0.3
		case v.Poverty == statusNotExited:
			share, w = maxShareNotExited, 1
			if v.PoorPopulation >= 40 {
				riseCandidates = append(riseCandidates, i)
			}
		case v.Poverty == statusExited:
			share, w = maxShareExited, 0.3
		}
		caps[i] = max(0, int(share*float64(v.Population))-v.PoorPopulation)
		weights[i] = w * float64(v.PoorPopulation) * gazetteer.Uniform(r, 0.6, 1.4)
	}
	for range smallRises {
		k := r.IntN(len(riseCandidates))
		rises[riseCandidates[k]] = between(r, 3, 15)
		riseCandidates = slices.Delete(riseCandidates, k, k+1)
	}
	drops, err := apportionCapped(liftedOutH1, weights, caps)
	if err != nil {
		return fmt.Errorf("lifted out: %w", err)
	}
	fdrops := make([]float64, len(drops))
	for i, d := range drops {
		fdrops[i] = float64(d)
	}
	byMay, err := apportionCapped(liftedOutJanMay, fdrops, drops)
	if err != nil {
		return fmt.Errorf("lifted out by May: %w", err)
	}

	janMay := workingDays(day(2016, time.January, 4), day(2016, time.May, 31))
	june := workingDays(day(2016, time.June, 1), historyEnd)
	all := workingDays(day(2016, time.January, 4), historyEnd)
	firstQuarter := workingDays(day(2016, time.January, 4), day(2016, time.March, 31))
	for i, v := range ds.Villages {
		vr := gazetteer.NewRand(seedHistory, v.Code)
		// change is one dated change in the number of poor people.
		type change struct {
			date  time.Time
			delta int
		}
		var changes []change
		start := villageVersion{Date: historyStart, Code: v.Code, Poverty: v.Poverty, ExitYear: v.ExitYear}
		if returning[i] {
			start.Poverty, start.ExitYear = statusExited, 2015
			start.PoorPopulation = int(gazetteer.Uniform(vr, 0.015, 0.028) * float64(v.Population))
			changes = append(changes, change{pickDays(vr, all, 1)[0], v.PoorPopulation - start.PoorPopulation})
		} else {
			used := map[time.Time]bool{}
			// split spreads amount over k of days; when first is given,
			// one of them falls in it.
			split := func(amount int, days, first []time.Time) error {
				if amount == 0 {
					return nil
				}
				var free []time.Time
				for _, d := range days {
					if !used[d] {
						free = append(free, d)
					}
				}
				k := 1
				if amount >= 30 {
					k = between(vr, 1, 3)
				}
				picked := pickDays(vr, free, k)
				if len(first) > 0 && !slices.ContainsFunc(picked, func(d time.Time) bool { return slices.Contains(first, d) }) {
					picked[0] = pickDays(vr, first, 1)[0]
					slices.SortFunc(picked, time.Time.Compare)
				}
				w := make([]float64, len(picked))
				for j := range w {
					w[j] = gazetteer.Uniform(vr, 0.5, 1.5)
				}
				parts, err := apportion(amount, w)
				if err != nil {
					return err
				}
				for j, d := range picked {
					if parts[j] > 0 {
						used[d] = true
						changes = append(changes, change{d, -parts[j]})
					}
				}
				return nil
			}
			// A poverty village's figures are updated every quarter: one
			// of its changes by May falls in the first quarter, so that
			// the rule against stale figures (stale_figures, migrations/
			// 018_flags.sql) finds only the villages with nothing to
			// report then.
			var first []time.Time
			if v.Poverty == statusNotExited {
				first = firstQuarter
			}
			if err := split(byMay[i], janMay, first); err != nil {
				return err
			}
			if err := split(drops[i]-byMay[i], june, nil); err != nil {
				return err
			}
			if rises[i] > 0 {
				var free []time.Time
				for _, d := range all {
					if !used[d] {
						free = append(free, d)
					}
				}
				changes = append(changes, change{pickDays(vr, free, 1)[0], rises[i]})
			}
			start.PoorPopulation = v.PoorPopulation + drops[i] - rises[i]
		}
		if len(changes) == 0 {
			continue
		}
		slices.SortFunc(changes, func(a, b change) int { return a.date.Compare(b.date) })
		start.PoorHouseholds = householdsOf(v, start.PoorPopulation)
		ds.History.Villages = append(ds.History.Villages, start)
		cur := start
		for _, c := range changes {
			cur.Date = c.date
			cur.PoorPopulation += c.delta
			cur.PoorHouseholds = householdsOf(v, cur.PoorPopulation)
			if returning[i] {
				cur.Poverty, cur.ExitYear = v.Poverty, v.ExitYear
			}
			ds.History.Villages = append(ds.History.Villages, cur)
		}
		if cur.PoorPopulation != v.PoorPopulation || cur.PoorHouseholds != v.PoorHouseholds || cur.Poverty != v.Poverty {
			return fmt.Errorf("village %s: the history ends at %d poor, not %d", v.Code, cur.PoorPopulation, v.PoorPopulation)
		}
	}
	return nil
}

// householdsOf gives a village's poor households when it has people poor,
// at its size of household today (3.5 people when it has none today), so
// that today's figures come out exactly.
func householdsOf(v village, people int) int {
	if v.PoorPopulation == 0 {
		return (2*people + 3) / 7
	}
	hh := (people*v.PoorHouseholds + v.PoorPopulation/2) / v.PoorPopulation
	if people > 0 && v.PoorHouseholds > 0 {
		hh = max(hh, 1)
	}
	return min(hh, people)
}

// apportionCapped is apportion where no part may exceed its cap: parts
// that would are held at it and the rest is split again over the others.
func apportionCapped(total int, weights []float64, caps []int) ([]int, error) {
	parts := make([]int, len(weights))
	held := make([]bool, len(weights))
	for {
		w := make([]float64, len(weights))
		left := total
		for i := range weights {
			if held[i] {
				left -= parts[i]
			} else if caps[i] > 0 {
				w[i] = weights[i]
			}
		}
		p, err := apportion(left, w)
		if err != nil {
			return nil, err
		}
		over := false
		for i := range p {
			if held[i] {
				continue
			}
			if p[i] > caps[i] {
				parts[i], held[i], over = caps[i], true, true
			} else {
				parts[i] = p[i]
			}
		}
		if !over {
			return parts, nil
		}
	}
}

// siteHistory grows each site's construction and moving in to today's.
// A site planned today was so all along. One under construction had
// started, or started in the half-year; a completed one was finished on
// the last working day by its planned completion; an occupied one then
// took its people in a few steps.
func siteHistory(ds *dataset) {
	for _, s := range ds.Sites {
		if s.Status == statusPlanned {
			continue // planned all along
		}
		r := gazetteer.NewRand(seedHistory, s.Code)
		var versions []siteVersion
		at := func(d time.Time, progress, households, people int) {
			status := statusUnderConstruction
			switch {
			case progress == 0:
				status = statusPlanned
			case people > 0:
				status = statusOccupied
			case progress == 100:
				status = statusCompleted
			}
			versions = append(versions, siteVersion{d, s.Code, households, people, progress, status})
		}
		finished := lastWorkingDayBy(mustDate(s.PlannedCompletion))
		// Construction: from a share of today's progress on 1 January (none
		// for a fifth of the sites under construction, which started in
		// the half-year) up to it, in a few steps: a site under
		// construction reports in June, a finished one on the day it was
		// finished.
		from := int(gazetteer.Uniform(r, 0.3, 0.8) * float64(s.Progress))
		var steps []time.Time
		switch {
		case s.Progress == 100 && !finished.After(historyStart):
			from = 100
		case s.Progress == 100:
			steps = append(pickDays(r, workingDays(day(2016, time.January, 4), finished.AddDate(0, 0, -1)), between(r, 2, 5)), finished)
		default:
			if r.Float64() < 0.2 {
				from = 0
			}
			steps = append(pickDays(r, workingDays(day(2016, time.January, 4), day(2016, time.May, 31)), between(r, 1, 4)),
				pickDays(r, workingDays(day(2016, time.June, 1), historyEnd), 1)...)
		}
		at(historyStart, from, 0, 0)
		levels := risingLevels(r, from, s.Progress, len(steps))
		for k, d := range steps[len(steps)-len(levels):] {
			at(d, levels[k], 0, 0)
		}
		if s.MovedInPeople > 0 {
			moving := workingDays(finished.AddDate(0, 0, 1), historyEnd)
			if len(moving) == 0 {
				moving = []time.Time{finished}
			}
			days := pickDays(r, moving, between(r, 1, 4))
			people := risingLevels(r, 0, s.MovedInPeople, len(days))
			for k, d := range days[len(days)-len(people):] {
				households := max(1, people[k]*s.MovedInHouseholds/s.MovedInPeople)
				if k == len(people)-1 {
					households = s.MovedInHouseholds
				}
				at(d, 100, households, people[k])
			}
		}
		versions = lastPerDay(versions, func(v siteVersion) time.Time { return v.Date })
		if len(versions) > 1 { // else finished before the year and empty since: no change
			ds.History.Sites = append(ds.History.Sites, versions...)
		}
	}
}

// risingLevels returns up to n strictly rising whole levels above from,
// the last being to: fewer when there are not enough whole levels between
// them, so that no step repeats the one before.
func risingLevels(r *rand.Rand, from, to, n int) []int {
	if n <= 0 {
		return nil
	}
	room := to - from - 1 // levels strictly between from and to
	k := min(n-1, max(room, 0))
	var levels []int
	seen := map[int]bool{}
	for len(levels) < k {
		l := from + 1 + r.IntN(room)
		if !seen[l] {
			seen[l] = true
			levels = append(levels, l)
		}
	}
	slices.Sort(levels)
	return append(levels, to)
}

// lastPerDay keeps, of versions in date order, the last of each day: a
// row changed twice in a day keeps only its last state.
func lastPerDay[T any](versions []T, date func(T) time.Time) []T {
	var out []T
	for i, v := range versions {
		if i+1 < len(versions) && date(versions[i+1]).Equal(date(v)) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// lastWorkingDayBy is the last working day on or before d within the
// half-year, or its start when there is none.
func lastWorkingDayBy(d time.Time) time.Time {
	if d.After(historyEnd) {
		d = historyEnd
	}
	for ; d.After(historyStart); d = d.AddDate(0, 0, -1) {
		if isWorkingDay(d) {
			return d
		}
	}
	return historyStart
}

// firstWorkingDayFrom is the first working day on or after d.
func firstWorkingDayFrom(d time.Time) time.Time {
	for !isWorkingDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// mustDate parses a date the generator wrote itself.
func mustDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(fmt.Sprintf("demodata: date %q: %v", s, err))
	}
	return d
}

// projectHistory funds each project on a working day of the half-year
// and grows its completion and disbursements to today's. A project is
// funded up to 40 days before it starts (on the first working day of the
// year when it started by then); one that starts after June was funded
// from March on. Work, and the funds paid for it, start on the first
// working day from its start date and rise in steps; a completed project
// is finished on the last working day by its end date.
func projectHistory(ds *dataset) {
	for _, p := range ds.Projects {
		r := gazetteer.NewRand(seedHistory, p.Code)
		start, end := mustDate(p.StartDate), mustDate(p.EndDate)
		var funded time.Time
		switch {
		case p.Status == statusPlanned:
			funded = pickDays(r, workingDays(day(2016, time.March, 1), historyEnd), 1)[0]
		case start.Before(day(2016, time.January, 4)):
			// Started by the new year, funded on its first working day:
			// every project of the half-year was funded in it (published).
			funded = firstWorkingDayFrom(historyStart)
		default:
			from := start.AddDate(0, 0, -40)
			if from.Before(day(2016, time.January, 4)) {
				from = day(2016, time.January, 4)
			}
			funded = pickDays(r, workingDays(from, start), 1)[0]
		}
		var versions []projectVersion
		at := func(d time.Time, completion int) {
			status := statusUnderConstruction
			switch completion {
			case 0:
				status = statusPlanned
			case 100:
				status = statusCompleted
			}
			disbursed := 0
			if completion > 0 {
				disbursed = int(int64(p.FundsDisbursed) * int64(completion) / int64(p.Completion))
			}
			versions = append(versions, projectVersion{d, p.Code, disbursed, completion, status})
		}
		at(funded, 0)
		if p.Status != statusPlanned {
			working := firstWorkingDayFrom(start)
			last := historyEnd
			if p.Status == statusCompleted {
				if last = lastWorkingDayBy(end); last.Before(working) {
					last = working
				}
			}
			days := []time.Time{working}
			if rest := workingDays(working.AddDate(0, 0, 1), last); len(rest) > 0 {
				days = append(days, pickDays(r, rest, between(r, 1, 4))...)
			}
			if p.Status == statusCompleted && !days[len(days)-1].Equal(last) {
				days = append(days, last)
			}
			levels := risingLevels(r, 0, p.Completion, len(days))
			for k, d := range days[len(days)-len(levels):] {
				at(d, levels[k])
			}
		}
		ds.History.Projects = append(ds.History.Projects, lastPerDay(versions, func(v projectVersion) time.Time { return v.Date })...)
	}
}

// planTargets sets the 2016 and 2017 targets of the city and its
// counties. Published: 202,000 people out of poverty in 2016 and 181,000
// people relocated over 2016–2017. Synthetic: the villages to exit, half
// of those not exited on 1 January in 2016 and the rest in 2017 (poverty
// is to be gone by 2017); the relocation split, by the year each site is
// to be finished; the counties' shares, by their poor people, villages
// and sites. No poverty target is set for 2017.
func planTargets(ds *dataset) error {
	startPoor := map[string]int{}     // county → poor people on 1 January
	startVillages := map[string]int{} // county → villages not exited on 1 January
	started := map[string]villageVersion{}
	for _, v := range ds.History.Villages {
		if v.Date.Equal(historyStart) {
			started[v.Code] = v
		}
	}
	for _, v := range ds.Villages {
		poor, status := v.PoorPopulation, v.Poverty
		if s, ok := started[v.Code]; ok {
			poor, status = s.PoorPopulation, s.Poverty
		}
		startPoor[v.CountyCode] += poor
		if status == statusNotExited {
			startVillages[v.CountyCode]++
		}
	}
	relocation := map[string][2]int{}
	for _, s := range ds.Sites {
		y := relocation[s.CountyCode]
		if mustDate(s.PlannedCompletion).Year() == 2016 {
			y[0] += s.CapacityPeople
		} else {
			y[1] += s.CapacityPeople
		}
		relocation[s.CountyCode] = y
	}
	poorW := make([]float64, len(ds.Counties))
	villW := make([]float64, len(ds.Counties))
	villages := 0
	for ci, c := range ds.Counties {
		poorW[ci] = float64(startPoor[c.Code])
		villW[ci] = float64(startVillages[c.Code])
		villages += startVillages[c.Code]
	}
	poorOut, err := apportion(poorOutTarget, poorW)
	if err != nil {
		return err
	}
	exit2016, err := apportion(villages/2, villW)
	if err != nil {
		return err
	}
	city := [2]target{{RegionCode: cityCode, Year: 2016}, {RegionCode: cityCode, Year: 2017, PoorPeopleOut: noTarget}}
	for ci, c := range ds.Counties {
		rel := relocation[c.Code]
		county := [2]target{
			{c.Code, 2016, poorOut[ci], exit2016[ci], rel[0]},
			{c.Code, 2017, noTarget, startVillages[c.Code] - exit2016[ci], rel[1]},
		}
		city[0].PoorPeopleOut += county[0].PoorPeopleOut
		for y := range county {
			city[y].VillagesExit += county[y].VillagesExit
			city[y].RelocationPeople += county[y].RelocationPeople
		}
		ds.History.Targets = append(ds.History.Targets, county[:]...)
	}
	ds.History.Targets = append(ds.History.Targets, city[:]...)
	return nil
}
