package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Planted inconsistencies (issue 16). The synthetic half-year is made
// consistent, so on its own it would give the consistency rules
// (migrations/018_flags.sql) nothing to find but the one stale figure its
// days happen to leave. A handful of realistic inconsistencies are
// planted in it on purpose, each of a different rule, each on a working
// day of the half-year: the demo then shows what the rules find, and
// TestFlagsOfTheDemo (geo/demo) asserts that they find these and nothing
// else. All of them are synthetic, like every figure of the demo.
//
// A plant that would move a published total (the poor population, the
// people lifted out by May) is balanced by another village of the same
// township, so that every total the demo asserts still holds.

// plant is one planted synthetic inconsistency.
type plant struct {
	// Rule is the code of the rule that finds it (flags.rule).
	Rule string
	// Code is the village, project or site it is about.
	Code string
	// Date is the working day the rule first holds: the flag is raised
	// then, at the day's changes (18:00, China Standard Time).
	Date time.Time
	// Others are the other rows it changes: the village that balances
	// it, or the village and the site of a reassignment.
	Others []string
	// apply plants it in the data set and its history, and checks that
	// the rows it was written for still are what it expects.
	apply func(ds *dataset, ix *index, p plant) error
}

// plants are the planted inconsistencies. Only completion_not_marked is
// cleared within the half-year; the others still hold at its end.
var plants = []plant{
	// 正安县 老城村, exited in 2014 with 2.95% poor, is found on 20 April
	// to have more poor people (3.52%): a re-check adds them to the
	// registry, but nobody registers the village's return to poverty
	// (返贫), so it stays exited above the standard. 尖山子村 of the same
	// township has as many fewer poor people throughout.
	{Rule: "exit_below_standard", Code: "520324107201", Date: day(2016, time.April, 20), Others: []string{"520324107205"},
		apply: func(ds *dataset, ix *index, p plant) error { return plantRevisedUp(ds, ix, p, 0.035) }},
	// 仁怀市 青草坝村 halves its poor population on 25 May, just before the
	// end-of-May report, without exiting (a "被脱贫"). 椿树村 of the same
	// township lifts as many fewer people out in February.
	{Rule: "sudden_cut", Code: "520382117216", Date: day(2016, time.May, 25), Others: []string{"520382117203"},
		apply: plantHalved},
	// 绥阳县 520323-P012 reports 100% on 28 April but stays under
	// construction until it is marked completed on 20 May.
	{Rule: "completion_not_marked", Code: "520323-P012", Date: day(2016, time.April, 28),
		apply: func(ds *dataset, _ *index, p plant) error { return plantUnmarked(ds, p, day(2016, time.May, 20)) }},
	// 桐梓县 520322-P030 is completed on 11 March with 80% of its funds
	// disbursed, and no more since.
	{Rule: "completed_underfunded", Code: "520322-P030", Date: day(2016, time.March, 11),
		apply: func(ds *dataset, _ *index, p plant) error { return plantPaid(ds, p, 0.80) }},
	// 播州区 520304-P019, the hardening of a road a third built, is paid
	// 85% of its funds on 12 May.
	{Rule: "funds_ahead", Code: "520304-P019", Date: day(2016, time.May, 12),
		apply: func(ds *dataset, _ *index, p plant) error { return plantPaid(ds, p, 0.85) }},
	// 务川县 520326-S08 is marked completed on 16 March at 92% progress,
	// and its people move in on 31 March with the site still at 92%.
	{Rule: "site_done_unbuilt", Code: "520326-S08", Date: day(2016, time.March, 16),
		apply: func(ds *dataset, _ *index, p plant) error { return plantUnbuilt(ds, p, 92) }},
	// 赤水市 520381-S07: 11 people of 520381202202 assigned to it are
	// assigned to 520381-S04 instead (on 1 January, as all assignments),
	// yet the site's people all move in by 30 June: 274, 9 more than the
	// 265 assigned to it.
	{Rule: "site_overfilled", Code: "520381-S07", Date: day(2016, time.June, 30), Others: []string{"520381202202", "520381-S04"},
		apply: func(ds *dataset, _ *index, p plant) error { return plantReassigned(ds, p, 11) }},
}

// plantInconsistencies plants every one of plants, after the history
// (and its targets, which stay as the consistent half-year set them).
func plantInconsistencies(ds *dataset, ix *index) error {
	for _, p := range plants {
		if !isWorkingDay(p.Date) || p.Date.After(historyEnd) {
			return fmt.Errorf("%s of %s: %s is not a working day of the half-year", p.Rule, p.Code, p.Date.Format(time.DateOnly))
		}
		if err := p.apply(ds, ix, p); err != nil {
			return fmt.Errorf("%s of %s: %w", p.Rule, p.Code, err)
		}
	}
	return nil
}

// plantedCodes are the villages, projects and sites the plants change.
func plantedCodes() map[string]bool {
	codes := map[string]bool{}
	for _, p := range plants {
		codes[p.Code] = true
		for _, c := range p.Others {
			codes[c] = true
		}
	}
	return codes
}

// versionsOf returns the positions in versions of those of code, in date
// order.
func versionsOf[T any](versions []T, code string, key func(T) (string, time.Time)) []int {
	var at []int
	for i, v := range versions {
		if c, _ := key(v); c == code {
			at = append(at, i)
		}
	}
	slices.SortFunc(at, func(a, b int) int {
		_, da := key(versions[a])
		_, db := key(versions[b])
		return da.Compare(db)
	})
	return at
}

// The keys versionsOf and inForce read versions by: code and date.
func villageKey(v villageVersion) (string, time.Time) { return v.Code, v.Date }
func siteKey(v siteVersion) (string, time.Time)       { return v.Code, v.Date }
func projectKey(v projectVersion) (string, time.Time) { return v.Code, v.Date }

// inForce is the last of the versions at positions at (in date order)
// dated before d; false when there is none, or when one is dated d (a
// plant adds a version of its own on its day).
func inForce[T any](versions []T, at []int, d time.Time, key func(T) (string, time.Time)) (int, bool) {
	found := -1
	for _, i := range at {
		_, vd := key(versions[i])
		switch {
		case vd.Equal(d):
			return 0, false
		case vd.Before(d):
			found = i
		}
	}
	return found, found >= 0
}

// shiftPoor adds delta to the poor population of village code in its
// versions from from on (all, for the zero time) and in its row, with
// its poor households at the village's size of household.
func shiftPoor(ds *dataset, ix *index, code string, delta int, from time.Time) error {
	vi, ok := ix.village[code]
	if !ok {
		return fmt.Errorf("no village %s", code)
	}
	v := ds.Villages[vi]
	for _, i := range versionsOf(ds.History.Villages, code, villageKey) {
		h := &ds.History.Villages[i]
		if h.Date.Before(from) {
			continue
		}
		h.PoorPopulation += delta
		h.PoorHouseholds = householdsOf(v, h.PoorPopulation)
	}
	row := &ds.Villages[vi]
	row.PoorPopulation += delta
	row.PoorHouseholds = householdsOf(v, row.PoorPopulation)
	if row.PoorPopulation < 0 || row.PoorPopulation > row.Population {
		return fmt.Errorf("village %s: %d poor of %d people", code, row.PoorPopulation, row.Population)
	}
	return nil
}

// plantRevisedUp raises the poor population of the exited village
// p.Code on p.Date to share of its people, without a return to poverty,
// and lowers that of village p.Others[0] as much throughout, so that the
// city's poor population, at the start and at the end, stays what it
// was (the rise counts among the half-year's returns to poverty).
func plantRevisedUp(ds *dataset, ix *index, p plant, share float64) error {
	v := ds.Villages[ix.village[p.Code]]
	if v.Poverty != statusExited {
		return fmt.Errorf("village %s is %s, not exited", p.Code, v.Poverty)
	}
	at := versionsOf(ds.History.Villages, p.Code, villageKey)
	if len(at) == 0 { // unchanged in the half-year: it starts as it ends
		ds.History.Villages = append(ds.History.Villages, villageVersion{Date: historyStart, Code: v.Code, Poverty: v.Poverty,
			ExitYear: v.ExitYear, PoorHouseholds: v.PoorHouseholds, PoorPopulation: v.PoorPopulation})
		at = versionsOf(ds.History.Villages, p.Code, villageKey)
	}
	last := ds.History.Villages[at[len(at)-1]]
	if !last.Date.Before(p.Date) {
		return fmt.Errorf("village %s changes on %s, after the plant", p.Code, last.Date.Format(time.DateOnly))
	}
	revised := int(math.Ceil(share * float64(v.Population)))
	added := revised - v.PoorPopulation
	if added <= 0 {
		return fmt.Errorf("village %s has %d poor already", p.Code, v.PoorPopulation)
	}
	last.Date = p.Date
	ds.History.Villages = append(ds.History.Villages, last)
	if err := shiftPoor(ds, ix, p.Code, added, p.Date); err != nil {
		return err
	}
	return shiftPoor(ds, ix, p.Others[0], -added, time.Time{})
}

// plantHalved halves the poor population of poverty village p.Code on
// p.Date, and balances the cut in village p.Others[0]: its largest cut by
// May, which must be larger, is smaller by as much, so that the people
// lifted out by May and in the half-year, and the poor population at
// its end, stay what they were.
func plantHalved(ds *dataset, ix *index, p plant) error {
	balance := p.Others[0]
	if v := ds.Villages[ix.village[p.Code]]; v.Poverty != statusNotExited {
		return fmt.Errorf("village %s is %s, not a poverty village", p.Code, v.Poverty)
	}
	at := versionsOf(ds.History.Villages, p.Code, villageKey)
	i, ok := inForce(ds.History.Villages, at, p.Date, villageKey)
	if !ok {
		return fmt.Errorf("village %s has no version before %s, or one on it", p.Code, p.Date.Format(time.DateOnly))
	}
	halved := ds.History.Villages[i]
	cut := (halved.PoorPopulation + 1) / 2
	halved.Date = p.Date
	ds.History.Villages = append(ds.History.Villages, halved)
	if err := shiftPoor(ds, ix, p.Code, -cut, p.Date); err != nil {
		return err
	}
	// The balancing village's largest cut by May.
	var when time.Time
	largest, prev := 0, -1
	for _, k := range versionsOf(ds.History.Villages, balance, villageKey) {
		h := ds.History.Villages[k]
		if d := prev - h.PoorPopulation; prev >= 0 && d > largest && h.Date.Before(day(2016, time.June, 1)) {
			largest, when = d, h.Date
		}
		prev = h.PoorPopulation
	}
	if largest <= cut {
		return fmt.Errorf("village %s cuts at most %d by May, not more than %d", balance, largest, cut)
	}
	return shiftPoor(ds, ix, balance, cut, when)
}

// projectOf is the project code's row.
func projectOf(ds *dataset, code string) (*project, error) {
	for i := range ds.Projects {
		if ds.Projects[i].Code == code {
			return &ds.Projects[i], nil
		}
	}
	return nil, fmt.Errorf("no project %s", code)
}

// plantUnmarked leaves completed project p.Code, finished on p.Date,
// under construction until marked.
func plantUnmarked(ds *dataset, p plant, marked time.Time) error {
	if _, err := projectOf(ds, p.Code); err != nil {
		return err
	}
	at := versionsOf(ds.History.Projects, p.Code, projectKey)
	last := &ds.History.Projects[at[len(at)-1]]
	if last.Status != statusCompleted || !last.Date.Equal(p.Date) || !marked.After(p.Date) || !isWorkingDay(marked) || marked.After(historyEnd) {
		return fmt.Errorf("project %s is %s on %s, not completed on %s to be marked on %s",
			p.Code, last.Status, last.Date.Format(time.DateOnly), p.Date.Format(time.DateOnly), marked.Format(time.DateOnly))
	}
	done := *last
	last.Status = statusUnderConstruction
	done.Date = marked
	ds.History.Projects = append(ds.History.Projects, done)
	return nil
}

// plantPaid pays project p.Code share of its funds: a completed one,
// finished on p.Date, had been paid in proportion to its completion
// all along; one under construction is paid it on p.Date, and keeps
// what it has been paid since (never less).
func plantPaid(ds *dataset, p plant, share float64) error {
	row, err := projectOf(ds, p.Code)
	if err != nil {
		return err
	}
	paid := int(share * float64(row.FundsPlanned))
	at := versionsOf(ds.History.Projects, p.Code, projectKey)
	switch row.Status {
	case statusCompleted:
		if last := ds.History.Projects[at[len(at)-1]]; !last.Date.Equal(p.Date) {
			return fmt.Errorf("project %s was completed on %s", p.Code, last.Date.Format(time.DateOnly))
		}
		for _, i := range at {
			h := &ds.History.Projects[i]
			h.FundsDisbursed = int(int64(paid) * int64(h.Completion) / 100)
		}
		row.FundsDisbursed = paid
	case statusUnderConstruction:
		i, ok := inForce(ds.History.Projects, at, p.Date, projectKey)
		if !ok || ds.History.Projects[i].Status != statusUnderConstruction {
			return fmt.Errorf("project %s is not under construction before %s, or changes on it", p.Code, p.Date.Format(time.DateOnly))
		}
		v := ds.History.Projects[i]
		v.Date = p.Date
		ds.History.Projects = append(ds.History.Projects, v)
		for _, i := range versionsOf(ds.History.Projects, p.Code, projectKey) {
			if h := &ds.History.Projects[i]; !h.Date.Before(p.Date) {
				h.FundsDisbursed = max(h.FundsDisbursed, paid)
			}
		}
		row.FundsDisbursed = max(row.FundsDisbursed, paid)
	default:
		return fmt.Errorf("project %s is %s", p.Code, row.Status)
	}
	return nil
}

// siteOf is the site code's row.
func siteOf(ds *dataset, code string) (*site, error) {
	for i := range ds.Sites {
		if ds.Sites[i].Code == code {
			return &ds.Sites[i], nil
		}
	}
	return nil, fmt.Errorf("no site %s", code)
}

// plantUnbuilt stops site p.Code at progress: the versions that
// finished it (completed on p.Date, then occupied) stay at progress.
func plantUnbuilt(ds *dataset, p plant, progress int) error {
	row, err := siteOf(ds, p.Code)
	if err != nil {
		return err
	}
	for _, i := range versionsOf(ds.History.Sites, p.Code, siteKey) {
		h := &ds.History.Sites[i]
		switch {
		case h.Progress < progress:
		case h.Progress == 100 && h.Status == statusCompleted && !h.Date.Equal(p.Date):
			return fmt.Errorf("site %s was completed on %s", p.Code, h.Date.Format(time.DateOnly))
		case h.Progress == 100:
			h.Progress = progress
		default:
			return fmt.Errorf("site %s was at %d%% on %s", p.Code, h.Progress, h.Date.Format(time.DateOnly))
		}
	}
	row.Progress = progress
	return nil
}

// plantReassigned moves people (and their share of the households) of
// village p.Others[0]'s assignment to site p.Code to its assignment to
// site p.Others[1],
// so that fewer are assigned to p.Code than move into it on p.Date.
func plantReassigned(ds *dataset, p plant, people int) error {
	village, to := p.Others[0], p.Others[1]
	var from, into *assignment
	assigned := 0
	for i := range ds.Assignments {
		a := &ds.Assignments[i]
		switch {
		case a.VillageCode == village && a.SiteCode == p.Code:
			from = a
		case a.VillageCode == village && a.SiteCode == to:
			into = a
		}
		if a.SiteCode == p.Code {
			assigned += a.People
		}
	}
	if from == nil || into == nil || from.People <= people {
		return fmt.Errorf("village %s is not assigned to both %s and %s, or fewer than %d to the first", village, p.Code, to, people)
	}
	households := (people*from.Households + from.People/2) / from.People
	from.People, from.Households = from.People-people, from.Households-households
	into.People, into.Households = into.People+people, into.Households+households
	assigned -= people
	for _, i := range versionsOf(ds.History.Sites, p.Code, siteKey) {
		if h := ds.History.Sites[i]; h.MovedInPeople > assigned {
			if !h.Date.Equal(p.Date) {
				return fmt.Errorf("site %s holds more than the %d assigned from %s", p.Code, assigned, h.Date.Format(time.DateOnly))
			}
			return nil
		}
	}
	return fmt.Errorf("site %s never holds more than the %d assigned", p.Code, assigned)
}
