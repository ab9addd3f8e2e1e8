package main

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// byCode groups a history file's rows by code, each group in the file's
// (date) order.
func byCode(rows table) (map[string]table, []string) {
	groups := map[string]table{}
	var codes []string
	for _, r := range rows {
		if _, ok := groups[r["code"]]; !ok {
			codes = append(codes, r["code"])
		}
		groups[r["code"]] = append(groups[r["code"]], r)
	}
	slices.Sort(codes)
	return groups, codes
}

// checkVersionDates checks one code's versions: dated within the
// half-year, the start or a working day, each later than the one before;
// and, when fromStart, the first on 1 January.
func checkVersionDates(t *testing.T, what, code string, versions table, fromStart bool) {
	t.Helper()
	var prev time.Time
	for k, v := range versions {
		d, err := time.Parse(time.DateOnly, v["date"])
		switch {
		case err != nil:
			t.Errorf("%s %s: date %q", what, code, v["date"])
		case d.Before(historyStart) || d.After(historyEnd):
			t.Errorf("%s %s: version dated %s, outside the half-year", what, code, v["date"])
		case !d.Equal(historyStart) && !isWorkingDay(d):
			t.Errorf("%s %s: version dated %s, not a working day", what, code, v["date"])
		case k > 0 && !d.After(prev):
			t.Errorf("%s %s: version dated %s after one dated %s", what, code, v["date"], prev.Format(time.DateOnly))
		case k == 0 && fromStart && !d.Equal(historyStart):
			t.Errorf("%s %s: first version dated %s, want the start", what, code, v["date"])
		}
		prev = d
	}
}

// checkHistory checks the history files against the data set they end
// at: the published progress of the half-year exactly (103,000 people
// lifted out of poverty, 85,000 by the end of May; 544 projects funded),
// versions that end at the rows as they are, statuses their figures
// allow, figures of sites and projects that only grow, and targets that
// add up.
func checkHistory(t *testing.T, dir string) {
	planted := plantedCodes() // as in checkDataset
	villages := map[string]map[string]string{}
	for _, v := range readTable(t, dir, "villages.csv", villagesHeader) {
		villages[v["code"]] = v
	}
	hv, codes := byCode(readTable(t, dir, "history_villages.csv", historyVillagesHeader))
	lifted, byMay, entered, returned := 0, 0, 0, 0
	startPoor, startNotExited := 0, 0
	for _, v := range villages {
		startPoor += num(t, v, "poor_population")
		if v["poverty_status"] == statusNotExited {
			startNotExited++
		}
	}
	for _, code := range codes {
		versions := hv[code]
		v, ok := villages[code]
		if !ok {
			t.Errorf("history of village %s, which is not in villages.csv", code)
			continue
		}
		checkVersionDates(t, "village", code, versions, true)
		population := num(t, v, "population")
		for k, h := range versions {
			checkStatus(t, "village "+code+" on "+h["date"], map[string]string{
				"poverty_status": h["poverty_status"], "exit_year": h["exit_year"]})
			hh, pp := num(t, h, "poor_households"), num(t, h, "poor_population")
			if hh > pp || pp > population || (pp > 0) != (hh > 0) {
				t.Errorf("village %s on %s: %d poor households, %d poor people of %d", code, h["date"], hh, pp, population)
			}
			if (h["poverty_status"] == statusNone) != (v["poverty_status"] == statusNone) {
				t.Errorf("village %s on %s: status %s, %s today", code, h["date"], h["poverty_status"], v["poverty_status"])
			}
			if k == 0 {
				startPoor += pp - num(t, v, "poor_population")
				if h["poverty_status"] == statusNotExited {
					startNotExited++
				}
				if v["poverty_status"] == statusNotExited {
					startNotExited--
				}
				continue
			}
			prev := versions[k-1]
			switch d := num(t, prev, "poor_population") - pp; {
			case d > 0:
				lifted += d
				if h["date"] < "2016-06-01" {
					byMay += d
				}
			case d < 0:
				entered -= d
			}
			if prev["poverty_status"] != h["poverty_status"] {
				if prev["poverty_status"] != statusExited || h["poverty_status"] != statusNotExited {
					t.Errorf("village %s on %s: from %s to %s", code, h["date"], prev["poverty_status"], h["poverty_status"])
				}
				returned++
			}
		}
		last := versions[len(versions)-1]
		for _, f := range []string{"poverty_status", "exit_year", "poor_households", "poor_population"} {
			if last[f] != v[f] {
				t.Errorf("village %s: the history ends at %s %q, villages.csv has %q", code, f, last[f], v[f])
			}
		}
	}
	if lifted != liftedOutH1 || byMay != liftedOutJanMay {
		t.Errorf("lifted out of poverty: %d in January–June, %d by May; want %d, %d", lifted, byMay, liftedOutH1, liftedOutJanMay)
	}
	if entered <= 0 || entered > 1000 || returned < 1 || returned > 2 {
		t.Errorf("returns to poverty: %d people, %d villages; want a few hundred, one or two", entered, returned)
	}
	if want := 558_300 + liftedOutH1 - entered; startPoor != want {
		t.Errorf("poor people on 1 January: got %d, want %d", startPoor, want)
	}

	sites := map[string]map[string]string{}
	for _, s := range readTable(t, dir, "sites.csv", sitesHeader) {
		sites[s["code"]] = s
	}
	hs, codes := byCode(readTable(t, dir, "history_sites.csv", historySitesHeader))
	for _, code := range codes {
		versions := hs[code]
		s, ok := sites[code]
		if !ok {
			t.Errorf("history of site %s, which is not in sites.csv", code)
			continue
		}
		checkVersionDates(t, "site", code, versions, true)
		progressWas, peopleWas := 0, 0
		for _, h := range versions {
			progress, mh, mp := num(t, h, "progress"), num(t, h, "moved_in_households"), num(t, h, "moved_in_people")
			var ok bool
			switch h["status"] {
			case statusPlanned:
				ok = progress == 0 && mp == 0
			case statusUnderConstruction:
				ok = progress >= 1 && progress <= 99 && mp == 0
			case statusCompleted:
				ok = progress == 100 && mp == 0
			case statusOccupied:
				ok = progress == 100 && mp > 0 && mh > 0
			}
			if !ok && !planted[code] || mh > mp || mp > num(t, s, "capacity_people") || mh > num(t, s, "capacity_households") {
				t.Errorf("site %s on %s: status %q, progress %d, %d/%d moved in", code, h["date"], h["status"], progress, mh, mp)
			}
			if progress < progressWas || mp < peopleWas {
				t.Errorf("site %s on %s: progress %d after %d, %d people after %d", code, h["date"], progress, progressWas, mp, peopleWas)
			}
			progressWas, peopleWas = progress, mp
		}
		last := versions[len(versions)-1]
		for _, f := range []string{"moved_in_households", "moved_in_people", "progress", "status"} {
			if last[f] != s[f] {
				t.Errorf("site %s: the history ends at %s %q, sites.csv has %q", code, f, last[f], s[f])
			}
		}
	}

	projects := map[string]map[string]string{}
	for _, p := range readTable(t, dir, "projects.csv", projectsHeader) {
		projects[p["code"]] = p
	}
	hp, codes := byCode(readTable(t, dir, "history_projects.csv", historyProjectsHeader))
	if len(codes) != len(projects) || len(codes) != projectsTotal {
		t.Errorf("projects with a history: %d of %d, want all %d", len(codes), len(projects), projectsTotal)
	}
	for _, code := range codes {
		versions := hp[code]
		p, ok := projects[code]
		if !ok {
			t.Errorf("history of project %s, which is not in projects.csv", code)
			continue
		}
		checkVersionDates(t, "project", code, versions, false)
		planned := num(t, p, "funds_planned")
		completionWas, paidWas := 0, 0
		for _, h := range versions {
			completion, paid := num(t, h, "completion"), num(t, h, "funds_disbursed")
			var ok bool
			switch h["status"] {
			case statusPlanned:
				ok = completion == 0 && paid == 0
			case statusUnderConstruction:
				ok = completion >= 1 && completion <= 99 && h["date"] >= p["start_date"]
			case statusCompleted:
				ok = completion == 100 && h["date"] >= p["start_date"]
			}
			if !ok && !planted[code] || paid > planned {
				t.Errorf("project %s on %s: status %q, completion %d, %d of %d paid (starts %s)", code, h["date"], h["status"], completion, paid, planned, p["start_date"])
			}
			if completion < completionWas || paid < paidWas {
				t.Errorf("project %s on %s: completion %d after %d, %d paid after %d", code, h["date"], completion, completionWas, paid, paidWas)
			}
			completionWas, paidWas = completion, paid
		}
		last := versions[len(versions)-1]
		for _, f := range []string{"funds_disbursed", "completion", "status"} {
			if last[f] != p[f] {
				t.Errorf("project %s: the history ends at %s %q, projects.csv has %q", code, f, last[f], p[f])
			}
		}
	}

	// Targets: the city's, and its counties' adding up to them.
	sums := map[string][3]int{}
	city := map[string][3]int{}
	figure := func(r map[string]string, f string) int {
		if r[f] == "" {
			return 0
		}
		return num(t, r, f)
	}
	for _, r := range readTable(t, dir, "targets.csv", targetsHeader) {
		v := [3]int{figure(r, "poor_people_out"), figure(r, "villages_exit"), figure(r, "relocation_people")}
		switch {
		case r["region_code"] == cityCode:
			city[r["year"]] = v
		default:
			s := sums[r["year"]]
			for k := range s {
				s[k] += v[k]
			}
			sums[r["year"]] = s
		}
	}
	if city["2016"][0] != poorOutTarget || city["2017"][0] != 0 {
		t.Errorf("poverty targets: %d in 2016, %d in 2017; want %d and none", city["2016"][0], city["2017"][0], poorOutTarget)
	}
	if got := city["2016"][2] + city["2017"][2]; got != relocationPeople {
		t.Errorf("relocation targets 2016–2017: got %d, want %d", got, relocationPeople)
	}
	if got := city["2016"][1] + city["2017"][1]; got != startNotExited {
		t.Errorf("villages to exit 2016–2017: got %d, want the %d not exited on 1 January", got, startNotExited)
	}
	for _, y := range []string{"2016", "2017"} {
		if sums[y] != city[y] {
			t.Errorf("counties' targets for %s add up to %v, the city's are %v", y, sums[y], city[y])
		}
	}
	if share := float64(liftedOutH1) / float64(city["2016"][0]); strconv.FormatFloat(share*100, 'f', 0, 64) != "51" {
		t.Errorf("lifted out of poverty in January–June: %.1f%% of the year's target, published 51%%", share*100)
	}
}
