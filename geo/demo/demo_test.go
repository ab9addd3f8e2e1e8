package demo_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/demo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPublishedFigures asserts, from the database, the figures Zunyi
// published for the first half of 2016 (shared/DATA.md).
func TestPublishedFigures(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct {
		name string
		sql  string
		want int64
	}{
		{"counties", `SELECT count(*) FROM regions WHERE level = 'county' AND parent_code = '520300'`, 14},
		{"townships", `SELECT count(*) FROM regions WHERE level = 'township'`, 254},
		{"village regions", `SELECT count(*) FROM regions WHERE level = 'village'`, 2093},
		{"village registry rows", `SELECT count(*) FROM villages`, 2093},
		{"poverty townships not yet exited", `SELECT count(*) FROM regions WHERE level = 'township' AND poverty_status = 'not_exited'`, 5},
		{"poverty villages not yet exited", `SELECT count(*) FROM regions WHERE level = 'village' AND poverty_status = 'not_exited'`, 645},
		{"paired with city-level units", `SELECT count(*) FROM villages v JOIN regions r USING (code) WHERE r.poverty_status = 'not_exited' AND v.pairing_level = 'city'`, 196},
		{"paired with county-level units", `SELECT count(*) FROM villages v JOIN regions r USING (code) WHERE r.poverty_status = 'not_exited' AND v.pairing_level = 'county'`, 449},
		{"registered poor people", `SELECT sum(poor_population) FROM villages`, 558300},
		{"relocation capacity (people)", `SELECT sum(capacity_people) FROM sites`, 181000},
		{"relocation assignments (people)", `SELECT sum(people) FROM relocation_assignments`, 181000},
		{"projects", `SELECT count(*) FROM projects`, 544},
		{"special funds (yuan)", `SELECT sum(funds_planned) FROM projects`, 464_000_000},
		{"33112: industry 30%", `SELECT sum(funds_planned) FROM projects WHERE fund_use = 'industry'`, 139_200_000},
		{"33112: cooperatives 30%", `SELECT sum(funds_planned) FROM projects WHERE fund_use = 'cooperative'`, 139_200_000},
		{"33112: interest subsidy 10%", `SELECT sum(funds_planned) FROM projects WHERE fund_use = 'interest_subsidy'`, 46_400_000},
		{"33112: training 10%", `SELECT sum(funds_planned) FROM projects WHERE fund_use = 'training'`, 46_400_000},
		{"33112: public facilities 20%", `SELECT sum(funds_planned) FROM projects WHERE fund_use = 'public_facilities'`, 92_800_000},
		{"demonstration villages", `SELECT count(*) FROM regions WHERE level = 'village' AND demonstration`, 24},
		{"demonstration townships", `SELECT count(*) FROM regions WHERE level = 'township' AND demonstration`, 24},
		{"counties without a demonstration point", `SELECT count(*) FROM regions c WHERE c.level = 'county' AND NOT EXISTS (
			SELECT FROM regions r WHERE r.demonstration AND left(r.code, 6) = c.code)`, 0},
		{"花茂村 and 杉坪村 are demonstration villages", `SELECT count(*) FROM regions WHERE code IN ('520304116203', '520322002200') AND demonstration AND name LIKE '%村%'`, 2},
		{"farmers' cooperatives", `SELECT sum(cooperatives) FROM villages`, 4207},
		{"villages with cooperatives", `SELECT count(*) FROM villages WHERE cooperatives > 0`, 1630},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int64
			if err := pool.QueryRow(ctx, tt.sql).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestGeography checks that the generated geography nests: every village
// in its township's polygon, townships tiling their county, sites and
// projects in their county.
func TestGeography(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct{ name, sql string }{
		{"villages outside their township", `SELECT count(*) FROM regions v JOIN regions t ON t.code = v.parent_code
			WHERE v.level = 'village' AND NOT ST_Covers(t.boundary, v.point)`},
		{"townships not covering their county (area differs by > 0.1%)", `SELECT count(*) FROM regions c
			WHERE c.level = 'county' AND abs(ST_Area(c.boundary) - (SELECT sum(ST_Area(t.boundary)) FROM regions t WHERE t.parent_code = c.code)) > 0.001 * ST_Area(c.boundary)`},
		{"townships with an empty polygon", `SELECT count(*) FROM regions WHERE level = 'township' AND ST_IsEmpty(boundary)`},
		{"sites outside their county", `SELECT count(*) FROM sites s JOIN regions c ON c.code = s.county_code WHERE NOT ST_Covers(c.boundary, s.geom)`},
		{"projects far (> 5 km) from their village", `SELECT count(*) FROM projects p JOIN regions v ON v.code = p.village_code
			WHERE ST_Distance(p.geom::geography, v.point::geography) > 5000`},
		{"assignments across counties", `SELECT count(*) FROM relocation_assignments a JOIN sites s ON s.code = a.site_code
			JOIN villages v ON v.code = a.village_code WHERE v.county_code <> s.county_code`},
		// But the two sites between which people were reassigned to plant
		// an overfilled site (TestFlagsOfTheDemo): those of a village
		// assigned to a site the rules flag.
		{"sites whose assignments do not fill them", `SELECT count(*) FROM sites s
			WHERE s.capacity_people <> (SELECT coalesce(sum(people), 0) FROM relocation_assignments a WHERE a.site_code = s.code)
			  AND NOT EXISTS (SELECT FROM relocation_assignments a JOIN relocation_assignments b USING (village_code)
			                  JOIN flags f ON f.subject_code = b.site_code AND f.rule = 'site_overfilled' WHERE a.site_code = s.code)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			if err := pool.QueryRow(ctx, tt.sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("got %d, want 0", n)
			}
		})
	}
}

// TestLoadAllOrNothing checks that Load refuses a database with data and
// that a load that fails part-way leaves the database as it was.
func TestLoadAllOrNothing(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := demo.Load(ctx, pool, geo.Actor{Name: "test", All: true}, false); !errors.Is(err, demo.ErrNotEmpty) {
		t.Fatalf("Load into a loaded database: got %v, want ErrNotEmpty", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE villages SET poor_population = poor_population - 7 WHERE code = '520304116203'`); err != nil {
		t.Fatal(err)
	}
	// Make the last step of a replacing load fail.
	if _, err := pool.Exec(ctx, `CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'injected failure'; END $$;
		CREATE TRIGGER fail BEFORE INSERT ON projects FOR EACH STATEMENT EXECUTE FUNCTION fail()`); err != nil {
		t.Fatal(err)
	}
	if err := demo.Load(ctx, pool, geo.Actor{Name: "test", All: true}, true); err == nil {
		t.Fatal("Load with a failing step: got nil error")
	}
	var poor, projects int
	if err := pool.QueryRow(ctx, `SELECT (SELECT sum(poor_population) FROM villages), (SELECT count(*) FROM projects)`).Scan(&poor, &projects); err != nil {
		t.Fatal(err)
	}
	if poor != 558300-7 || projects != 544 {
		t.Errorf("after a failed load: poor %d, projects %d; want %d, 544 (the database as it was)", poor, projects, 558300-7)
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER fail ON projects`); err != nil {
		t.Fatal(err)
	}
	seeds := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'seed' AND after ? 'villages'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := seeds()
	start := time.Now()
	if err := demo.Load(ctx, pool, geo.Actor{Name: "test", All: true}, true); err != nil {
		t.Fatalf("Load with replace: %v", err)
	}
	t.Logf("a replacing load took %v", time.Since(start).Round(time.Millisecond))
	if got := seeds(); got != before+1 {
		t.Errorf("audit rows of loads: %d after a load, want %d", got, before+1)
	}
	if err := pool.QueryRow(ctx, `SELECT sum(poor_population) FROM villages`).Scan(&poor); err != nil || poor != 558300 {
		t.Errorf("after replace: poor %d (%v), want 558300", poor, err)
	}
}

// TestFactors checks the synthetic factor layers as loaded: the terrain
// over the whole city, within its intended relief, holding the generator's
// own elevations; hazard zones on steep ground in every county; a road at
// every township seat; a school and a clinic in every township.
func TestFactors(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	tests := []struct{ name, sql string }{
		{"counties with fewer than four hazard zones", `SELECT count(*) FROM regions c WHERE c.level = 'county'
			AND (SELECT count(*) FROM hazard_zones h WHERE h.county_code = c.code) < 4`},
		{"hazard zones outside their county", `SELECT count(*) FROM hazard_zones h JOIN regions c ON c.code = h.county_code
			WHERE NOT ST_Covers(c.boundary, h.geom)`},
		{"township seats no road reaches", `SELECT count(*) FROM regions t WHERE t.level = 'township'
			AND NOT EXISTS (SELECT FROM roads r WHERE ST_DWithin(r.geom, t.point, 1e-6))`},
		{"road projects no village road follows", `SELECT count(*) FROM projects p WHERE p.category = 'road'
			AND NOT EXISTS (SELECT FROM roads r WHERE r.class = 'village' AND ST_Covers(ST_Buffer(r.geom, 1e-6), p.geom))`},
		{"townships without a school or a clinic", `SELECT count(*) FROM regions t WHERE t.level = 'township'
			AND (SELECT count(DISTINCT kind) FROM services s WHERE s.township_code = t.code AND s.kind IN ('school', 'clinic')) < 2`},
		{"services outside their county", `SELECT count(*) FROM services s JOIN regions c ON c.code = s.county_code
			WHERE NOT ST_Covers(c.boundary, s.geom)`},
		{"service points that are not services or seats", `SELECT count(*) FROM service_points
			WHERE kind NOT IN ('school', 'clinic', 'market', 'township_seat')`},
		{"villages without terrain", `SELECT count(*) FROM regions v, terrain_at(v.point) a
			WHERE v.level = 'village' AND (a.elevation IS NULL OR a.slope IS NULL)`},
		{"terrain outside 300–2,200 m", `SELECT count(*) FROM (SELECT ST_SummaryStatsAgg(rast, 1, true) s FROM terrain) x
			WHERE (s).min < 300 OR (s).max > 2200 OR (s).max - (s).min < 1200`},
		{"landslides and collapses not on steeper ground than the villages", `SELECT count(*) FROM
			(SELECT avg(a.slope) AS s FROM hazard_zones h, terrain_at(ST_Centroid(h.geom)) a WHERE h.kind IN ('landslide', 'collapse')) hz,
			(SELECT avg(a.slope) AS s FROM regions v, terrain_at(v.point) a WHERE v.level = 'village') vs
			WHERE hz.s < 2 * vs.s OR hz.s < 12`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			if err := pool.QueryRow(ctx, tt.sql).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("got %d, want 0", n)
			}
		})
	}
	// The terrain holds demo.Elevation at the centre of each cell: at
	// some villages, the cell under them.
	rows, err := pool.Query(ctx, `SELECT ST_X(point), ST_Y(point), a.elevation FROM regions, terrain_at(point) a
		WHERE level = 'village' ORDER BY code LIMIT 25`)
	if err != nil {
		t.Fatal(err)
	}
	var lon, lat, got float64
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&lon, &lat, &got}, func() error {
		x, y := demo.UTM48(lon, lat)
		cx := (math.Floor(x/demo.DEMCell) + 0.5) * demo.DEMCell
		cy := (math.Floor(y/demo.DEMCell) + 0.5) * demo.DEMCell
		if want := float32(demo.Elevation(cx, cy)); float32(got) != want {
			t.Errorf("elevation at %.6f, %.6f: got %v, want %v", lon, lat, got, want)
		}
		n++
		return nil
	})
	if err != nil || n != 25 {
		t.Errorf("compared %d elevations (%v), want 25", n, err)
	}
}
