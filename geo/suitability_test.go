package geo_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// suitCounty is the county the suitability tests work in: 习水县, with
// the most unassigned poverty villages of the demo data.
const suitCounty = "520330"

// suitParams are the defaults with the changes given.
func suitParams(changes map[string]float64) geo.ParamValues {
	p := geo.Defaults(geo.SuitabilityParams)
	for k, v := range changes {
		p[k] = v
	}
	return p
}

// cellTruth is what the database holds of a cell, read straight from the
// tables: its stored factors and, counted here, the poor people of the
// county's unassigned villages within reach.
type cellTruth struct {
	slope, road, service *float64
	hazard               bool
	people               float64
}

func cellTruths(t *testing.T, pool *pgxpool.Pool, reach float64) map[[2]int]cellTruth {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT c.i, c.j, c.slope, c.road_m, c.service_m,
       EXISTS (SELECT FROM hazard_zones h WHERE ST_Intersects(h.geom, c.geom)),
       coalesce((SELECT sum(v.poor_population) FROM villages v JOIN regions r ON r.code = v.code
                 WHERE v.county_code = c.county_code AND r.poverty_status = 'not_exited' AND v.poor_population > 0
                   AND v.code NOT IN (SELECT village_code FROM relocation_assignments)
                   AND ST_Distance(ST_Transform(r.point, 32648), c.centre_m) <= $2), 0)
FROM suitability_cells c WHERE c.county_code = $1`, suitCounty, reach)
	if err != nil {
		t.Fatal(err)
	}
	truths := map[[2]int]cellTruth{}
	for rows.Next() {
		var i, j int
		var c cellTruth
		if err := rows.Scan(&i, &j, &c.slope, &c.road, &c.service, &c.hazard, &c.people); err != nil {
			t.Fatal(err)
		}
		truths[[2]int{i, j}] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return truths
}

// handScore is the score of a cell with factors c under p, computed
// here from the definition (geo.SuitabilityParams' descriptions), or
// nil with the exclusions that apply.
func handScore(c cellTruth, p geo.ParamValues) (*float64, []string) {
	var excluded []string
	switch {
	case c.slope == nil:
		excluded = append(excluded, "no_terrain")
	case *c.slope > p["max_slope"]:
		excluded = append(excluded, "slope")
	}
	if c.hazard {
		excluded = append(excluded, "hazard")
	}
	if len(excluded) > 0 {
		return nil, excluded
	}
	near := func(d *float64, r float64) float64 {
		if d == nil {
			return 0
		}
		return math.Max(0, 1-*d/r)
	}
	w := p["w_slope"] + p["w_road"] + p["w_service"] + p["w_people"]
	s := 100 / w * (p["w_slope"]*(1-*c.slope/p["max_slope"]) + p["w_road"]*near(c.road, p["road_range"]) +
		p["w_service"]*near(c.service, p["service_range"]) + p["w_people"]*math.Min(1, c.people/p["people_full"]))
	return &s, nil
}

// TestSuitabilityScore: every cell's score in the surface equals the
// score computed here from its factors as the tables hold them, under
// the defaults and under other weights and thresholds, and so do its
// exclusions; a spot's explanation gives the same score, unrounded, and
// its parts add up to it.
func TestSuitabilityScore(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.FactorFixture(t, pool, suitCounty)
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		changes map[string]float64
	}{
		{"defaults", nil},
		{"people first, wide reach", map[string]float64{"w_slope": 5, "w_road": 5, "w_service": 0, "w_people": 90, "reach": 12000, "people_full": 8000}},
		{"flat and near roads", map[string]float64{"w_slope": 60, "w_road": 40, "w_service": 0, "w_people": 0, "max_slope": 12, "road_range": 2000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := suitParams(tt.changes)
			s, err := geo.SuitabilitySurface(ctx, pool, suitCounty, p)
			if err != nil {
				t.Fatal(err)
			}
			var features []struct {
				Properties struct {
					I, J        int
					Lon, Lat    float64
					People      float64
					Excluded    []string
					Score       *float64
					SlopePart   *float64 `json:"slope_part"`
					RoadPart    *float64 `json:"road_part"`
					ServicePart *float64 `json:"service_part"`
					PeoplePart  *float64 `json:"people_part"`
				}
			}
			if err := json.Unmarshal([]byte("["+string(s.Features)+"]"), &features); err != nil {
				t.Fatal(err)
			}
			truths := cellTruths(t, pool, p["reach"])
			if len(features) != s.Cells || len(features) != len(truths) || len(features) < 1000 {
				t.Fatalf("%d features, %d cells said, %d cells stored", len(features), s.Cells, len(truths))
			}
			excluded, scored := 0, 0
			var spotChecked bool
			for _, f := range features {
				c, ok := truths[[2]int{f.Properties.I, f.Properties.J}]
				if !ok {
					t.Fatalf("cell %d_%d is not stored", f.Properties.I, f.Properties.J)
				}
				want, why := handScore(c, p)
				if f.Properties.People != c.people {
					t.Errorf("cell %d_%d: people %v, want %v", f.Properties.I, f.Properties.J, f.Properties.People, c.people)
				}
				if !slices.Equal(f.Properties.Excluded, why) && !(len(why) == 0 && len(f.Properties.Excluded) == 0) {
					t.Errorf("cell %d_%d: excluded %v, want %v", f.Properties.I, f.Properties.J, f.Properties.Excluded, why)
				}
				if want == nil {
					excluded++
					if f.Properties.Score != nil {
						t.Errorf("cell %d_%d is excluded (%v) yet scores %v", f.Properties.I, f.Properties.J, why, *f.Properties.Score)
					}
					continue
				}
				scored++
				if f.Properties.Score == nil || math.Abs(*f.Properties.Score-*want) > 0.006 {
					t.Fatalf("cell %d_%d: score %v, want %.4f from its factors %+v", f.Properties.I, f.Properties.J, f.Properties.Score, *want, c)
				}
				parts := *f.Properties.SlopePart + *f.Properties.RoadPart + *f.Properties.ServicePart + *f.Properties.PeoplePart
				if math.Abs(parts-*f.Properties.Score) > 0.021 {
					t.Errorf("cell %d_%d: parts add up to %v, score %v", f.Properties.I, f.Properties.J, parts, *f.Properties.Score)
				}
				if !spotChecked && c.people > 0 {
					spotChecked = true
					sp, err := geo.SuitabilitySpot(ctx, pool, f.Properties.Lon, f.Properties.Lat, p)
					if err != nil {
						t.Fatal(err)
					}
					if sp.Score == nil || math.Abs(*sp.Score-*want) > 1e-9 || !sp.Suitable {
						t.Errorf("spot at cell %d_%d: score %v, want %v", f.Properties.I, f.Properties.J, sp.Score, *want)
					}
					sum := 0.0
					for _, fa := range sp.Factors {
						sum += *fa.Part
					}
					if math.Abs(sum-*want) > 1e-9 {
						t.Errorf("spot at cell %d_%d: parts %+v add up to %v, want %v", f.Properties.I, f.Properties.J, sp.Factors, sum, *want)
					}
				}
			}
			if excluded == 0 || scored == 0 || excluded != s.Excluded {
				t.Errorf("%d cells excluded (surface says %d), %d scored: the fixture should give both", excluded, s.Excluded, scored)
			}
		})
	}
}

// TestSuitabilityCandidatesHold checks, for every candidate under several
// parameter sets, what the candidates promise: none on a slope above the
// threshold or in a hazard zone, by terrain_at and the hazard zones
// themselves; none closer than the spacing to another; each village
// taken once, unassigned and within reach of its candidate, its people
// adding up to the candidate's.
func TestSuitabilityCandidatesHold(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.FactorFixture(t, pool, suitCounty)
	ctx := context.Background()
	for _, tt := range []struct {
		changes map[string]float64
		n       int
		spacing float64
	}{
		{nil, 20, 3000},
		{map[string]float64{"max_slope": 8}, 20, 2000},
		{map[string]float64{"max_slope": 30, "reach": 10000}, 10, 8000},
		{map[string]float64{"reach": 2000, "w_people": 0}, 20, 500},
	} {
		p := suitParams(tt.changes)
		cs, err := geo.SuitabilityCandidates(ctx, pool, suitCounty, p, tt.n, tt.spacing)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			t.Fatalf("%v: no candidate", tt.changes)
		}
		taken := map[string]bool{}
		for k, c := range cs {
			var slope *float64
			var inHazard bool
			err := pool.QueryRow(ctx, `SELECT (terrain_at(ST_SetSRID(ST_MakePoint($1, $2), 4326))).slope,
				EXISTS (SELECT FROM hazard_zones h WHERE ST_Intersects(h.geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)))`,
				c.Lon, c.Lat).Scan(&slope, &inHazard)
			if err != nil {
				t.Fatal(err)
			}
			if slope == nil || *slope > p["max_slope"] || inHazard {
				t.Errorf("%v: candidate %d at %v,%v: slope %v (max %v), in a hazard zone %v", tt.changes, c.Rank, c.Lon, c.Lat, slope, p["max_slope"], inHazard)
			}
			for _, o := range cs[:k] {
				var d float64
				if err := pool.QueryRow(ctx, `SELECT ST_Distance(ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 32648),
					ST_Transform(ST_SetSRID(ST_MakePoint($3, $4), 4326), 32648))`, c.Lon, c.Lat, o.Lon, o.Lat).Scan(&d); err != nil {
					t.Fatal(err)
				}
				if d < tt.spacing {
					t.Errorf("%v: candidates %d and %d are %.0f m apart, less than %v", tt.changes, o.Rank, c.Rank, d, tt.spacing)
				}
			}
			people := int64(0)
			for _, v := range c.Villages {
				if taken[v.Code] {
					t.Errorf("%v: village %s is taken twice", tt.changes, v.Code)
				}
				taken[v.Code] = true
				people += int64(v.People)
				var d float64
				var unassigned bool
				if err := pool.QueryRow(ctx, `SELECT ST_Distance(ST_Transform(r.point, 32648), ST_Transform(ST_SetSRID(ST_MakePoint($2, $3), 4326), 32648)),
					NOT EXISTS (SELECT FROM relocation_assignments a WHERE a.village_code = r.code) AND r.poverty_status = 'not_exited'
					FROM regions r WHERE r.code = $1`, v.Code, c.Lon, c.Lat).Scan(&d, &unassigned); err != nil {
					t.Fatal(err)
				}
				if d > p["reach"]+0.01 || !unassigned {
					t.Errorf("%v: candidate %d takes village %s, %.0f m away (reach %v), unassigned %v", tt.changes, c.Rank, v.Code, d, p["reach"], unassigned)
				}
			}
			if people != c.People || len(c.Villages) == 0 {
				t.Errorf("%v: candidate %d: people %d, its villages' %d", tt.changes, c.Rank, c.People, people)
			}
			if k > 0 && c.People > cs[k-1].People {
				t.Errorf("%v: candidate %d covers more (%d) than the one before (%d): not greedy", tt.changes, c.Rank, c.People, cs[k-1].People)
			}
		}
	}
}

// TestSuitabilityRefresh: a county's cells are computed once and kept
// while the factors stand; an edit of a village leaves them, a change to
// a factor table has them computed again, with the new factor.
func TestSuitabilityRefresh(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.FactorFixture(t, pool, suitCounty)
	ctx := context.Background()
	p := suitParams(nil)
	computedAt := func() (at string) {
		t.Helper()
		if _, err := geo.SuitabilitySurface(ctx, pool, suitCounty, p); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT computed_at::text FROM suitability_state WHERE county_code = $1`, suitCounty).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	first := computedAt()
	if again := computedAt(); again != first {
		t.Errorf("computed again (%s, then %s) with nothing changed", first, again)
	}
	if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE county_code = $1`, suitCounty); err != nil {
		t.Fatal(err)
	}
	if again := computedAt(); again != first {
		t.Errorf("computed again after an edit of villages")
	}
	if _, err := pool.Exec(ctx, `DELETE FROM roads`); err != nil {
		t.Fatal(err)
	}
	if again := computedAt(); again == first {
		t.Errorf("not computed again after the roads changed")
	}
	var withRoad int
	if err := pool.QueryRow(ctx, `SELECT count(road_m) FROM suitability_cells WHERE county_code = $1`, suitCounty).Scan(&withRoad); err != nil {
		t.Fatal(err)
	}
	if withRoad != 0 {
		t.Errorf("%d cells still have a road after every road was deleted", withRoad)
	}
}

// TestSuitabilityErrors: what the domain refuses, and how.
func TestSuitabilityErrors(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	p := suitParams(nil)
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"malformed county", func() error { _, err := geo.SuitabilitySurface(ctx, pool, "5203", p); return err }, geo.EInvalid},
		{"unknown county", func() error { _, err := geo.SuitabilitySurface(ctx, pool, "520399", p); return err }, geo.ENotFound},
		{"a township is no county", func() error { _, err := geo.SuitabilityCandidates(ctx, pool, "520330100", p, 5, 3000); return err }, geo.EInvalid},
		{"spot in the sea", func() error { _, err := geo.SuitabilitySpot(ctx, pool, 120, 20, p); return err }, geo.ENotFound},
		{"spot off the globe", func() error { _, err := geo.SuitabilitySpot(ctx, pool, 200, 28, p); return err }, geo.EInvalid},
		{"spot NaN", func() error { _, err := geo.SuitabilitySpot(ctx, pool, math.NaN(), 28, p); return err }, geo.EInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); geo.ErrorCode(err) != tt.code {
				t.Errorf("got %v, want %s", err, tt.code)
			}
		})
	}
	// Without slopes every cell is excluded for it.
	if _, err := pool.Exec(ctx, `DELETE FROM terrain_slope`); err != nil {
		t.Fatal(err)
	}
	sp, err := geo.SuitabilitySpot(ctx, pool, 106.33, 28.33, p)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Suitable || len(sp.Excluded) == 0 || sp.Excluded[0].Code != "no_terrain" {
		t.Errorf("spot without terrain: suitable %v, excluded %v", sp.Suitable, sp.Excluded)
	}
}
