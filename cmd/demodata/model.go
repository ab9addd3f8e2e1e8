package main

import (
	"strings"

	"github.com/paulmach/orb"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// Poverty statuses, as written to the CSV files.
const (
	statusNone      = "none"
	statusNotExited = "not_exited"
	statusExited    = "exited"
)

// Pairing levels of the units paired with poverty villages (结对帮扶).
const (
	pairingCity   = "city"
	pairingCounty = "county"
)

// township is one township row of townships.csv.
type township struct {
	gazetteer.Township
	Seat          orb.Point
	Poverty       string
	ExitYear      int // 0 unless Poverty is statusExited
	Demonstration bool
}

// village is one village row of villages.csv.
type village struct {
	gazetteer.Village
	Point          orb.Point
	Poverty        string
	ExitYear       int // 0 unless Poverty is statusExited
	PoorHouseholds int
	PoorPopulation int
	Population     int
	Demonstration  bool
	PairingLevel   string
	PairingUnit    string
	Cooperatives   int
	// Remoteness is the village's distance from its county town divided by
	// the largest such distance in the county: 0 in town, 1 farthest out.
	// It steers where poverty and relocation fall; it is not written out.
	Remoteness float64
}

// site is one relocation site (易地扶贫搬迁安置点) of sites.csv.
type site struct {
	Code, Name, Type                 string
	CountyCode, TownshipCode         string
	Point                            orb.Point
	CapacityHouseholds               int
	CapacityPeople                   int
	MovedInHouseholds, MovedInPeople int
	Progress                         int
	Status                           string
	PlannedCompletion                string // YYYY-MM-DD
}

// assignment says how many people of a village are to move to a site.
type assignment struct {
	VillageCode, SiteCode string
	Households, People    int
}

// project is one poverty-alleviation project of projects.csv.
type project struct {
	Code, Name, Category, FundUse string
	CountyCode, VillageCode       string
	WKT                           string
	FundsPlanned, FundsDisbursed  int
	Completion                    int
	Status                        string
	StartDate, EndDate            string
}

// dataset is everything written to the output directory.
type dataset struct {
	Counties    []gazetteer.County
	Townships   []township
	Villages    []village
	Sites       []site
	Assignments []assignment
	Projects    []project
	HazardZones []hazardZone
	Roads       []road
	Services    []service
	History     history // the half-year that led to the rows above
}

// shortVillageName drops the committee suffix: 花茂村村民委员会 → 花茂村.
func shortVillageName(name string) string {
	for _, suffix := range []string{"村民委员会", "居民委员会", "居民委会员", "居委会"} {
		if s, ok := strings.CutSuffix(name, suffix); ok && s != "" {
			return s
		}
	}
	return name
}

// ethnicNames are the minority names in Zunyi's ethnic townships
// (民族乡), dropped from short names: 平正仡佬族乡 → 平正.
var ethnicNames = []string{"仡佬族", "苗族", "土家族", "布依族", "彝族"}

// shortTownshipName drops the 镇/乡/街道 suffix and any ethnic names, as
// people say the name: 枫香镇 → 枫香, 谢坝仡佬族苗族乡 → 谢坝. A name that
// would shrink to one character is kept whole.
func shortTownshipName(name string) string {
	s := name
	for _, suffix := range []string{"街道", "镇", "乡"} {
		if t, ok := strings.CutSuffix(s, suffix); ok {
			s = t
			break
		}
	}
	for trimmed := true; trimmed; {
		trimmed = false
		for _, e := range ethnicNames {
			if t, ok := strings.CutSuffix(s, e); ok {
				s, trimmed = t, true
			}
		}
	}
	if len([]rune(s)) < 2 {
		return name
	}
	return s
}
