package geo

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// SiteSource is a village whose people are assigned to a site.
type SiteSource struct {
	VillageCode string `json:"village_code"`
	VillageName string `json:"village_name"`
	Households  int    `json:"households"`
	People      int    `json:"people"`
}

// Site is a relocation site with the villages that move to it: what the
// planner's site panel shows.
type Site struct {
	Code               string       `json:"code"`
	Name               string       `json:"name"`
	Type               string       `json:"type"`
	Status             string       `json:"status"`
	Progress           int          `json:"progress"`
	CountyCode         string       `json:"county_code"`
	CountyName         string       `json:"county_name"`
	TownshipCode       *string      `json:"township_code"`
	CapacityHouseholds int          `json:"capacity_households"`
	CapacityPeople     int          `json:"capacity_people"`
	MovedInHouseholds  int          `json:"moved_in_households"`
	MovedInPeople      int          `json:"moved_in_people"`
	PlannedCompletion  *string      `json:"planned_completion"`
	Lon                float64      `json:"lon"`
	Lat                float64      `json:"lat"`
	Sources            []SiteSource `json:"sources"`
}

const sqlSite = `
SELECT s.code, s.name, s.type, s.status, s.progress, s.county_code, c.name, s.township_code,
       s.capacity_households, s.capacity_people, s.moved_in_households, s.moved_in_people,
       s.planned_completion::text, ST_X(s.geom), ST_Y(s.geom)
FROM sites s JOIN regions c ON c.code = s.county_code
WHERE s.code = $1`

const sqlSiteSources = `
SELECT a.village_code, short_name(r.name), a.households, a.people
FROM relocation_assignments a JOIN regions r ON r.code = a.village_code
WHERE a.site_code = $1
ORDER BY a.people DESC, a.village_code`

var siteCode = regexp.MustCompile(`^[0-9A-Za-z-]{1,40}$`)

// SiteByCode returns the site with code and its source villages. It
// returns an EInvalid error for a malformed code and ENotFound for an
// unknown one.
func SiteByCode(ctx context.Context, db DB, code string) (*Site, error) {
	if !siteCode.MatchString(code) {
		return nil, Errorf(EInvalid, "site code %q: want letters, digits and dashes, e.g. 520322-S01", code)
	}
	s := &Site{Sources: []SiteSource{}}
	err := db.QueryRow(ctx, sqlSite, code).Scan(&s.Code, &s.Name, &s.Type, &s.Status, &s.Progress, &s.CountyCode, &s.CountyName,
		&s.TownshipCode, &s.CapacityHouseholds, &s.CapacityPeople, &s.MovedInHouseholds, &s.MovedInPeople,
		&s.PlannedCompletion, &s.Lon, &s.Lat)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "no relocation site %s", code)
	}
	if err != nil {
		return nil, fmt.Errorf("geo: site %s: %w", code, err)
	}
	rows, err := db.Query(ctx, sqlSiteSources, code)
	if err != nil {
		return nil, fmt.Errorf("geo: site %s sources: %w", code, err)
	}
	s.Sources, err = pgx.CollectRows(rows, pgx.RowToStructByPos[SiteSource])
	if err != nil {
		return nil, fmt.Errorf("geo: site %s sources: %w", code, err)
	}
	return s, nil
}

// UnassignedVillage is a poverty village not yet exited whose people have
// no relocation site assigned.
type UnassignedVillage struct {
	Code           string  `json:"code"`
	Name           string  `json:"name"`
	CountyCode     string  `json:"county_code"`
	PoorPopulation int     `json:"poor_population"`
	Lon            float64 `json:"lon"`
	Lat            float64 `json:"lat"`
}

// sqlUnassigned lists the first $3 unassigned villages of county $1 and
// of region $2, each "" for any, each row with how many there are in all. The region's counties are found by walking
// parent_code down from it to the counties (regions_parent_idx finds the
// children), never below them: a province's walk costs its cities and
// counties, not its villages.
const sqlUnassigned = `
WITH RECURSIVE within (code, level) AS (
    SELECT code, level FROM regions WHERE code = $2
    UNION ALL
    SELECT r.code, r.level FROM within w JOIN regions r ON r.parent_code = w.code WHERE w.level <> 'county'
)
SELECT u.code, short_name(r.name), u.county_code, u.poor_population, ST_X(u.point), ST_Y(u.point), count(*) OVER ()
FROM unassigned_villages u JOIN regions r ON r.code = u.code
WHERE ($1 = '' OR u.county_code = $1)
  AND ($2 = '' OR u.county_code IN (SELECT code FROM within WHERE level = 'county'))
ORDER BY u.poor_population DESC, u.code
LIMIT $3`

// MaxUnassigned is the most villages Unassigned lists at once: a
// country's unassigned villages are tens of thousands, which no list
// shows; how many there are is counted in any case.
const MaxUnassigned = 10000

// countyCode is the form of a county's code, 6 digits, which is also the
// country's, a province's and a city's.
var countyCode = regexp.MustCompile(`^[0-9]{6}$`)

// Unassigned lists the poverty villages not yet exited that have no
// relocation assignment, most poor people first, at most limit of them
// (1 to MaxUnassigned), and says how many there are: those of county (6
// digits), and those under region (the country, a province, a city or a
// county: 6 digits), each "" for every county. Another value of either is
// an EInvalid error; a code no region has lists nothing.
func Unassigned(ctx context.Context, db DB, county, region string, limit int) (list []UnassignedVillage, total int, err error) {
	if county != "" && !countyCode.MatchString(county) {
		return nil, 0, Errorf(EInvalid, "county %q: want a 6-digit county code such as 520322", county)
	}
	if region != "" && !countyCode.MatchString(region) {
		return nil, 0, Errorf(EInvalid, "region %q: want the 6-digit code of the country, a province, a city or a county, such as 520300", region)
	}
	if limit < 1 || limit > MaxUnassigned {
		return nil, 0, Errorf(EInvalid, "limit %d: want a whole number from 1 to %d", limit, MaxUnassigned)
	}
	rows, err := db.Query(ctx, sqlUnassigned, county, region, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("geo: unassigned villages: %w", err)
	}
	list = []UnassignedVillage{}
	var v UnassignedVillage
	_, err = pgx.ForEachRow(rows, []any{&v.Code, &v.Name, &v.CountyCode, &v.PoorPopulation, &v.Lon, &v.Lat, &total}, func() error {
		list = append(list, v)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("geo: unassigned villages: %w", err)
	}
	return list, total, nil
}
