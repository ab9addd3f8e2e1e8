package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestProvinceLevels checks 019's rules for the levels above the city: a
// city's parent is a province or none, a province's the country or none,
// the country has none, and each level's code has its form.
func TestProvinceLevels(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	pgtest.AddProvince(t, pool)
	tests := []struct{ name, sql, constraint string }{
		{"city under the country", `UPDATE regions SET parent_code = '100000' WHERE code = '520300'`, "regions_parent_level_fkey"},
		{"province under a city", `INSERT INTO regions (code, name, level, parent_code, boundary, point)
			VALUES ('530000', 'x', 'province', '520300', ST_Multi(ST_MakeEnvelope(100, 22, 106, 29, 4326)), ST_Point(102, 25, 4326))`,
			"regions_parent_level_fkey"},
		{"country under a province", `UPDATE regions SET parent_code = '520000' WHERE code = '100000'`, "regions_parent_level_fkey"},
		{"county under a province", `UPDATE regions SET parent_code = '520000' WHERE code = '520302'`, "regions_parent_level_fkey"},
		{"province with a city's code", `INSERT INTO regions (code, name, level, boundary, point)
			VALUES ('530100', 'x', 'province', ST_Multi(ST_MakeEnvelope(100, 22, 106, 29, 4326)), ST_Point(102, 25, 4326))`,
			"regions_code_matches_level"},
		{"city with a county's code", `INSERT INTO regions (code, name, level, boundary, point)
			VALUES ('530102', 'x', 'city', ST_Multi(ST_MakeEnvelope(100, 22, 106, 29, 4326)), ST_Point(102, 25, 4326))`,
			"regions_code_matches_level"},
		{"country with another code", `INSERT INTO regions (code, name, level, boundary, point)
			VALUES ('000000', 'x', 'country', ST_Multi(ST_MakeEnvelope(100, 22, 106, 29, 4326)), ST_Point(102, 25, 4326))`,
			"regions_code_matches_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != tt.constraint {
				t.Fatalf("got %v, want a violation of %s", err, tt.constraint)
			}
		})
	}
	// A writer cannot file a region at a level its parent does not have
	// by giving parent_level: the trigger sets it.
	if _, err := pool.Exec(ctx, `UPDATE regions SET parent_level = 'country' WHERE code = '520302'`); err != nil {
		t.Fatal(err)
	}
	var level string
	if err := pool.QueryRow(ctx, `SELECT parent_level FROM regions WHERE code = '520302'`).Scan(&level); err != nil || level != "city" {
		t.Errorf("a county's parent_level after a writer set it: %q (%v), want city", level, err)
	}
}

// TestProvinceRollups: with a province and the country above Zunyi and a
// second city, an edit of a village moves the figures of its city, its
// province and the country by what it changed, each the sum of the
// villages under it; the second city's rollup rows are not rewritten
// (their xmin stays); and the refresh agrees with a full one.
func TestProvinceRollups(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	pgtest.AddProvince(t, pool)
	const village = "520304116203" // 花茂村
	var lineage []string
	if err := pool.QueryRow(ctx, `SELECT lineage FROM region_rollups WHERE code = $1`, village).Scan(&lineage); err != nil {
		t.Fatal(err)
	}
	if len(lineage) < 3 || lineage[0] != "100000" || lineage[1] != "520000" || lineage[2] != "520300" {
		t.Fatalf("the village's lineage once Zunyi is under the province: %v, want 100000 › 520000 › 520300 › …", lineage)
	}

	var stale int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM flags WHERE lineage @> ARRAY['520300'] AND NOT lineage @> ARRAY['100000', '520000']`).
		Scan(&stale); err != nil || stale != 0 {
		t.Errorf("flags under Zunyi whose lineage lacks its new province and country: %d (%v), want 0", stale, err)
	}

	xmins := func() map[string]string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT code, xmin::text FROM region_rollups WHERE county_code = $1`, pgtest.SecondCity.County)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]string{}
		for rows.Next() {
			var code, xmin string
			if err := rows.Scan(&code, &xmin); err != nil {
				t.Fatal(err)
			}
			m[code] = xmin
		}
		if len(m) == 0 {
			t.Fatal("the second city has no rollup rows")
		}
		return m
	}
	before := xmins()

	if _, err := pool.Exec(ctx, `UPDATE villages SET poor_population = poor_population - 5, population = population + 11 WHERE code = $1`, village); err != nil {
		t.Fatal(err)
	}

	for _, code := range []string{"520300", "520000", "100000"} {
		t.Run(code, func(t *testing.T) {
			var got, want [3]int64
			err := pool.QueryRow(ctx, `
SELECT f.villages, f.population, f.poor_population,
       (SELECT count(*) FROM region_tree(ARRAY[$1]) t JOIN villages v ON v.code = t.code),
       (SELECT sum(v.population) FROM region_tree(ARRAY[$1]) t JOIN villages v ON v.code = t.code),
       (SELECT sum(v.poor_population) FROM region_tree(ARRAY[$1]) t JOIN villages v ON v.code = t.code)
FROM region_figures f WHERE f.code = $1`, code).Scan(&got[0], &got[1], &got[2], &want[0], &want[1], &want[2])
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("villages, population, poor people: got %v, want the sums of its villages %v", got, want)
			}
		})
	}
	var province, zunyi, second int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT poor_population FROM region_figures WHERE code = '520000'),
		(SELECT poor_population FROM region_figures WHERE code = '520300'),
		(SELECT poor_population FROM region_figures WHERE code = $1)`, pgtest.SecondCity.City).Scan(&province, &zunyi, &second); err != nil {
		t.Fatal(err)
	}
	if province != zunyi+second {
		t.Errorf("the province's poor people: %d, want Zunyi's %d and the second city's %d", province, zunyi, second)
	}

	after := xmins()
	for code, x := range before {
		if after[code] != x {
			t.Errorf("the second city's row %s was rewritten by an edit in Zunyi (xmin %s → %s)", code, x, after[code])
		}
	}
	incremental := rollupDigest(t, pool, "")
	if _, err := pool.Exec(ctx, `SELECT refresh_rollups(NULL), refresh_shapes(NULL)`); err != nil {
		t.Fatal(err)
	}
	if full := rollupDigest(t, pool, ""); full != incremental {
		t.Errorf("with a province and the country above, the rollups differ from a full refresh")
	}
}
