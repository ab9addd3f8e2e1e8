package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlFactorFixture replaces the factor layers with small synthetic ones
// over county $1, whose values a test can predict: terrain tiles covering
// the county's box (elevation 800 m plus the column; slope cycling
// through 0–36° with the column and the row, so that cells on both sides
// of any slope threshold abound), two hazard zones of 1.5 km around the
// county's two largest unassigned poverty villages, a road across the
// county's box, and a school at the county's point. Each statement is a
// change like any other: the data and suitability versions move.
var sqlFactorFixture = []string{
	`DELETE FROM terrain_slope`,
	`DELETE FROM terrain`,
	`DELETE FROM hazard_zones`,
	`DELETE FROM roads`,
	`DELETE FROM services`,
	`CREATE TEMP TABLE fixture_tiles ON COMMIT DROP AS
	 WITH b AS (SELECT ST_Transform(boundary, 32648) AS g FROM regions WHERE code = $1),
	 e AS (SELECT floor(ST_XMin(g) / 25600)::integer * 25600 AS x0, floor(ST_YMin(g) / 25600)::integer * 25600 AS y0,
	               ceil(ST_XMax(g))::integer AS x1, ceil(ST_YMax(g))::integer AS y1 FROM b)
	 SELECT row_number() OVER (ORDER BY x, y)::integer AS rid,
	        ST_AddBand(ST_MakeEmptyRaster(128, 128, x, y + 25600, 200, -200, 0, 0, 32648), '32BF'::text, 0, NULL) AS rast
	 FROM e, generate_series(e.x0, e.x1, 25600) x, generate_series(e.y0, e.y1, 25600) y`,
	`INSERT INTO terrain (rid, rast)
	 SELECT rid, ST_MapAlgebra(rast, 1, '32BF', '800 + [rast.x]') FROM fixture_tiles`,
	`INSERT INTO terrain_slope (rid, rast)
	 SELECT rid, ST_MapAlgebra(rast, 1, '32BF', '(([rast.x] * 7 + [rast.y] * 3) % 37)') FROM fixture_tiles`,
	`INSERT INTO hazard_zones (code, name, kind, risk_level, county_code, geom)
	 SELECT $1 || '-H' || row_number() OVER (ORDER BY u.poor_population DESC, u.code), '隐患区', 'landslide', 'high', $1,
	        ST_Multi(ST_Transform(ST_Buffer(ST_Transform(u.point, 32648), 1500), 4326))
	 FROM (SELECT * FROM unassigned_villages WHERE county_code = $1 ORDER BY poor_population DESC, code LIMIT 2) u`,
	`INSERT INTO roads (code, name, class, county_code, geom)
	 SELECT $1 || '-R1', '县道', 'county', $1,
	        ST_Multi(ST_MakeLine(ST_MakePoint(ST_XMin(boundary), ST_YMin(boundary)), ST_MakePoint(ST_XMax(boundary), ST_YMax(boundary))))::geometry(MultiLineString, 4326)
	 FROM regions WHERE code = $1`,
	`INSERT INTO services (code, name, kind, county_code, geom)
	 SELECT $1 || '-X1', '学校', 'school', $1, point FROM regions WHERE code = $1`,
}

// FactorFixture replaces the factor layers of pool's database with the
// synthetic ones of sqlFactorFixture over county, as a superuser (no
// scope needed), in one transaction.
func FactorFixture(t testing.TB, pool *pgxpool.Pool, county string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range sqlFactorFixture {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{county}
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			t.Fatalf("factor fixture: %v\n%s", err, q)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
