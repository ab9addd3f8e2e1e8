package geo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Site suitability: where a new relocation site should go. PostGIS does
// the work (migrations/010_suitability.sql): each county is covered by
// hexagons of 500 m a side, whose factors (slope and elevation at the
// centre, hazard zones met, distances to the nearest road and service
// point) are computed once per version of the factor tables and kept;
// a request scores them with its parameters (SuitabilityParams) and the
// unassigned poor people within reach as they are now. This file holds
// the queries, and turns their rows into answers.

// Exclusion is a reason a cell cannot take a site.
type Exclusion struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// Exclusions are the reasons a cell is excluded, as the analysis names
// them: outside_county only for a spot (the county's cells are those
// whose centre it holds), the others as suitability_scored finds them.
var Exclusions = []Exclusion{
	{"outside_county", "不在县域内"},
	{"no_terrain", "无地形数据"},
	{"slope", "坡度超过上限"},
	{"hazard", "位于地质灾害隐患区"},
}

// Surface is a county's suitability surface: a GeoJSON feature per cell,
// written by PostgreSQL, and what the envelope around them says.
type Surface struct {
	CountyCode string
	CountyName string
	// Cells counts the features, Excluded those excluded.
	Cells, Excluded int
	// Features are the cells' features joined by commas, in cell order:
	// the members of a FeatureCollection's "features" array.
	Features []byte
}

// sqlCounty names a county.
const sqlCounty = `SELECT name FROM regions WHERE code = $1 AND level = 'county'`

// sqlSurface writes the cells of county $1 scored with $2 as GeoJSON
// features. The function refreshes the county's cells first when they
// are stale, so it runs once (a CTE calling a volatile function is
// materialised).
const sqlSurface = `
WITH s AS (SELECT * FROM suitability_surface($1, NULL, $2))
SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM s WHERE excluded <> '{}'),
       (SELECT coalesce(string_agg(ST_AsGeoJSON(q.*, 'geom', 6), ',' ORDER BY q.i, q.j), '') FROM (
            SELECT s.i || '_' || s.j AS cell, s.i, s.j, s.county_code,
                   round(ST_X(s.centre)::numeric, 6) AS lon, round(ST_Y(s.centre)::numeric, 6) AS lat,
                   round(s.elevation::numeric, 1) AS elevation, round(s.slope::numeric, 2) AS slope,
                   s.hazard, s.road_m, s.service_m, s.people, s.villages, s.excluded,
                   round(s.slope_part::numeric, 2) AS slope_part, round(s.road_part::numeric, 2) AS road_part,
                   round(s.service_part::numeric, 2) AS service_part, round(s.people_part::numeric, 2) AS people_part,
                   round(s.score::numeric, 2) AS score, s.geom
            FROM s) q)`

// countyName is the name of county code: EInvalid for a code that is not
// six digits, ENotFound for one that names no county.
func countyName(ctx context.Context, db DB, code string) (string, error) {
	if !countyCode.MatchString(code) {
		return "", Errorf(EInvalid, "county %s: want a 6-digit county code such as 520330", Quote(code))
	}
	var name string
	err := db.QueryRow(ctx, sqlCounty, code).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", Errorf(ENotFound, "no county %s", code)
	}
	if err != nil {
		return "", fmt.Errorf("geo: county %s: %w", code, err)
	}
	return name, nil
}

// SuitabilitySurface scores every cell of county with p (SuitabilityParams
// values, all of them, as ParseParams returns them). Errors: EInvalid
// for a malformed county code, ENotFound for an unknown one.
func SuitabilitySurface(ctx context.Context, db DB, county string, p ParamValues) (*Surface, error) {
	name, err := countyName(ctx, db, county)
	if err != nil {
		return nil, err
	}
	s := &Surface{CountyCode: county, CountyName: name}
	if err := db.QueryRow(ctx, sqlSurface, county, p).Scan(&s.Cells, &s.Excluded, &s.Features); err != nil {
		return nil, fmt.Errorf("geo: suitability of %s: %w", county, err)
	}
	return s, nil
}

// Factor is one factor of a cell's score: its value, its weight and the
// points it adds to the score.
type Factor struct {
	Name  string   `json:"name"`
	Label string   `json:"label"`
	Unit  string   `json:"unit"`
	Value *float64 `json:"value"`
	// Weight is the weight's parameter and its value.
	WeightParam string  `json:"weight_param"`
	Weight      float64 `json:"weight"`
	// Part is the factor's points of the score; nil for an excluded cell.
	Part *float64 `json:"part"`
}

// Spot explains the suitability of one spot: the cell that holds it.
type Spot struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	// CountyCode and CountyName are the county the spot lies in.
	CountyCode string `json:"county_code"`
	CountyName string `json:"county_name"`
	// Cell is the cell holding the spot ("i_j"), its county (that of its
	// centre, which near a border may be the neighbour's) and centre; ""
	// when the cell's centre lies in no county.
	Cell       string   `json:"cell,omitempty"`
	CellCounty string   `json:"cell_county_code,omitempty"`
	CellLon    *float64 `json:"cell_lon,omitempty"`
	CellLat    *float64 `json:"cell_lat,omitempty"`
	// Suitable is false when any exclusion applies; Score is then nil.
	Suitable  bool        `json:"suitable"`
	Excluded  []Exclusion `json:"excluded"`
	Score     *float64    `json:"score"`
	Elevation *float64    `json:"elevation"`
	Hazard    bool        `json:"hazard"`
	// Villages counts the unassigned poverty villages within reach.
	Villages   int         `json:"villages"`
	Factors    []Factor    `json:"factors"`
	Parameters ParamValues `json:"parameters"`
}

// sqlSpot finds the county of point ($1, $2) and the cell holding it,
// scored with $3.
const sqlSpot = `
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS g)
SELECT h.code, h.name, s.county_code, s.i, s.j, ST_X(s.centre), ST_Y(s.centre), s.elevation, s.slope, s.hazard,
       s.road_m, s.service_m, s.people, s.villages, s.excluded, s.slope_part, s.road_part, s.service_part, s.people_part, s.score
FROM pt
CROSS JOIN LATERAL (SELECT r.code, r.name FROM regions r WHERE r.level = 'county' AND ST_Intersects(r.boundary, pt.g)
                    ORDER BY r.code LIMIT 1) h
LEFT JOIN LATERAL suitability_at(pt.g, $3) s ON true`

// SuitabilitySpot explains the spot lon, lat (WGS 84) with p: each
// factor's value and points, or why it is excluded. Errors: EInvalid for
// coordinates that are not finite longitudes and latitudes, ENotFound
// for a spot in no county.
func SuitabilitySpot(ctx context.Context, db DB, lon, lat float64, p ParamValues) (*Spot, error) {
	if math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
		return nil, Errorf(EInvalid, "lon must be from -180 to 180 and lat from -90 to 90")
	}
	sp := &Spot{Lon: lon, Lat: lat, Parameters: p, Excluded: []Exclusion{}}
	var (
		cellCounty                       *string
		i, j, villages                   *int
		slope, road, service             *float64
		people                           *int64
		hazard                           *bool
		excluded                         []string
		slopePart, roadPart, servicePart *float64
		peoplePart                       *float64
	)
	err := db.QueryRow(ctx, sqlSpot, lon, lat, p).Scan(&sp.CountyCode, &sp.CountyName, &cellCounty, &i, &j, &sp.CellLon, &sp.CellLat,
		&sp.Elevation, &slope, &hazard, &road, &service, &people, &villages, &excluded,
		&slopePart, &roadPart, &servicePart, &peoplePart, &sp.Score)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "the spot %g, %g lies in no county of the map", lon, lat)
	}
	if err != nil {
		return nil, fmt.Errorf("geo: suitability at %g, %g: %w", lon, lat, err)
	}
	if cellCounty == nil {
		excluded = []string{"outside_county"}
	} else {
		sp.CellCounty, sp.Cell = *cellCounty, fmt.Sprintf("%d_%d", *i, *j)
		sp.Hazard, sp.Villages = *hazard, *villages
	}
	for _, e := range Exclusions {
		for _, code := range excluded {
			if code == e.Code {
				sp.Excluded = append(sp.Excluded, e)
			}
		}
	}
	sp.Suitable = len(sp.Excluded) == 0
	var peopleValue *float64
	if people != nil {
		v := float64(*people)
		peopleValue = &v
	}
	sp.Factors = []Factor{
		{Name: "slope", Label: "坡度", Unit: "°", Value: slope, WeightParam: "w_slope", Part: slopePart},
		{Name: "road", Label: "距最近道路", Unit: "m", Value: road, WeightParam: "w_road", Part: roadPart},
		{Name: "service", Label: "距最近公共服务点", Unit: "m", Value: service, WeightParam: "w_service", Part: servicePart},
		{Name: "people", Label: "可覆盖未安置贫困人口", Unit: "人", Value: peopleValue, WeightParam: "w_people", Part: peoplePart},
	}
	for k := range sp.Factors {
		sp.Factors[k].Weight = p[sp.Factors[k].WeightParam]
	}
	return sp, nil
}

// CandidateVillage is an unassigned poverty village a candidate site
// would take: its poor households and people.
type CandidateVillage struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Households int    `json:"households"`
	People     int    `json:"people"`
}

// Candidate is a proposed site: the cell, its score, the villages it
// would take (those within reach not taken by a better candidate) and
// their people, and a code and name for the site that are free.
type Candidate struct {
	Rank   int     `json:"rank"`
	Cell   string  `json:"cell"`
	Lon    float64 `json:"lon"`
	Lat    float64 `json:"lat"`
	Score  float64 `json:"score"`
	People int64   `json:"people"`
	// Households are the poor households of Villages.
	Households   int64              `json:"households"`
	Villages     []CandidateVillage `json:"villages"`
	TownshipCode *string            `json:"township_code"`
	TownshipName *string            `json:"township_name"`
	// SiteCode is a code no site of the county has (the county's next
	// numbers, as 520330-S07), SiteName a name to start from.
	SiteCode string `json:"site_code"`
	SiteName string `json:"site_name"`
}

// sqlCandidates proposes $3 sites in county $1 with parameters $2, no two
// closer than $4 metres.
const sqlCandidates = `
SELECT c.rank, c.i || '_' || c.j, ST_X(c.centre), ST_Y(c.centre), round(c.score::numeric, 2)::float8, c.people,
       t.code, short_name(t.name),
       $1 || '-S' || lpad((coalesce((SELECT max((regexp_match(s.code, '-S([0-9]{1,6})$'))[1]::integer)
                                      FROM sites s WHERE s.county_code = $1), 0) + c.rank)::text, 2, '0'),
       (SELECT json_agg(json_build_object('code', u.code, 'name', short_name(r.name), 'households', u.poor_households,
                                          'people', u.poor_population) ORDER BY u.poor_population DESC, u.code)
        FROM unassigned_villages u JOIN regions r ON r.code = u.code WHERE u.code = ANY (c.villages))
FROM suitability_candidates($1, $2, $3, $4) c
LEFT JOIN LATERAL (SELECT r.code, r.name FROM regions r
                   WHERE r.level = 'township' AND r.parent_code = $1 AND ST_Intersects(r.boundary, c.centre)
                   ORDER BY r.code LIMIT 1) t ON true
ORDER BY c.rank`

// SuitabilityCandidates proposes up to n sites in county that together
// reach the most unassigned poor people (greedy maximum coverage over
// the cells not excluded, scored with p), no two closer than spacing
// metres. Fewer come back when no other cell reaches anyone not yet
// covered. Errors: countyName's.
func SuitabilityCandidates(ctx context.Context, db DB, county string, p ParamValues, n int, spacing float64) ([]Candidate, error) {
	if _, err := countyName(ctx, db, county); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, sqlCandidates, county, p, n, spacing)
	if err != nil {
		return nil, fmt.Errorf("geo: candidates in %s: %w", county, err)
	}
	list := []Candidate{}
	var c Candidate
	_, err = pgx.ForEachRow(rows, []any{&c.Rank, &c.Cell, &c.Lon, &c.Lat, &c.Score, &c.People,
		&c.TownshipCode, &c.TownshipName, &c.SiteCode, &c.Villages}, func() error {
		c.Households = 0
		for _, v := range c.Villages {
			c.Households += int64(v.Households)
		}
		_, number, _ := strings.Cut(c.SiteCode, "-")
		c.SiteName = "新建安置点" + number
		if c.TownshipName != nil {
			c.SiteName = *c.TownshipName + c.SiteName
		}
		list = append(list, c)
		c = Candidate{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("geo: candidates in %s: %w", county, err)
	}
	return list, nil
}
