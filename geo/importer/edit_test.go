package importer_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestForgedScopeFailsInPostgres calls the store directly, past every
// handler, as a county user of one county (a scope a handler would never
// let through for these rows): PostgreSQL's row-level security refuses
// each write to another county, and nothing changes.
func TestForgedScopeFailsInPostgres(t *testing.T) {
	pool := pgtest.New(t)
	app := pgtest.AsApp(t, pool)
	ctx := context.Background()
	var own, other, village, site, lon, lat string
	if err := pool.QueryRow(ctx, `
SELECT min(county_code), max(county_code),
       (SELECT min(code) FROM villages WHERE county_code = max(s.county_code)),
       (SELECT min(code) FROM sites WHERE county_code = max(s.county_code)),
       (SELECT ST_X(ST_PointOnSurface(boundary))::text FROM regions WHERE code = max(s.county_code)),
       (SELECT ST_Y(ST_PointOnSurface(boundary))::text FROM regions WHERE code = max(s.county_code))
FROM sites s`).Scan(&own, &other, &village, &site, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	forged := geo.Actor{Name: "zhang", Counties: []string{own}}
	before := checksum(t, pool)
	im := importer.New(importer.Config{}, slog.New(slog.DiscardHandler))

	f, err := geo.Item(ctx, app, geo.Villages, village, geo.GeoJSON)
	if err != nil {
		t.Fatal(err)
	}
	_, err = im.Update(ctx, app, forged, geo.Villages, village, geo.ETag(f), []byte(`{"properties":{"cooperatives":99}}`))
	if geo.ErrorCode(err) != geo.EForbidden {
		t.Errorf("PATCH through the store: %v, want EForbidden", err)
	}
	csv := "code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
		site + ",改名,rural," + other + ",100,400,50,planned," + lon + "," + lat + "\n"
	if _, err := im.Import(ctx, app, forged, "sites", importer.CSV, strings.NewReader(csv)); geo.ErrorCode(err) != geo.EForbidden {
		t.Errorf("import through the store: %v, want EForbidden", err)
	}
	_, err = geo.Change(ctx, app, forged, nil, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE villages SET cooperatives = 99 WHERE code = $1`, village)
		if err == nil && tag.RowsAffected() != 0 {
			t.Errorf("plain UPDATE of another county's village changed %d rows", tag.RowsAffected())
		}
		_, err = tx.Exec(ctx, `INSERT INTO projects (code, name, category, fund_use, county_code, geom, funds_planned, completion, status)
VALUES ('X-1', '项目', 'road', 'industry', $1, ST_Point(106.9, 27.6, 4326), 1, 0, 'planned')`, other)
		return err
	})
	var pgErr *pgconn.PgError
	if geo.ErrorCode(err) != geo.EForbidden || !errors.As(err, &pgErr) && geo.ErrorCode(err) == "" {
		t.Errorf("INSERT into another county: %v, want EForbidden from PostgreSQL's 42501", err)
	}
	if _, err := geo.Change(ctx, app, geo.Actor{Name: "nobody"}, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO relocation_assignments (village_code, site_code, households, people) VALUES ($1, $2, 1, 1)`, village, site)
		return err
	}); geo.ErrorCode(err) != geo.EForbidden {
		t.Errorf("a change with no scope at all: %v, want EForbidden", err)
	}
	if after := checksum(t, pool); after != before {
		t.Errorf("the data changed: %s, want %s", after, before)
	}

	// The same store calls within the scope go through.
	mine := geo.Actor{Name: "li", Counties: []string{other}}
	if _, err := im.Update(ctx, app, mine, geo.Villages, village, geo.ETag(f), []byte(`{"properties":{"cooperatives":99}}`)); err != nil {
		t.Errorf("PATCH within the scope: %v", err)
	}
}
