package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/wkb"
)

// The SQL that makes the boundaries above and below the counties, in
// temporary tables of one transaction that is rolled back at the end, so
// that the database is left as it was (PostGIS too, if it had to be
// created). PostGIS does the polygon work (Go's
// orb has no union or intersection): provinces, cities and the country
// are the union of their counties, townships the Voronoi cells of their
// seats within the county, clipped to it, as the demo loader makes them
// (geo/demo/sql.go); the one township of a county is the county.
const (
	sqlExtension = `CREATE EXTENSION IF NOT EXISTS postgis`
	sqlStage     = `
CREATE TEMP TABLE nd_county_wkb (code text PRIMARY KEY, city text NOT NULL, province text NOT NULL, wkb bytea NOT NULL);
CREATE TEMP TABLE nd_seats (code text PRIMARY KEY, county text NOT NULL, lon float8 NOT NULL, lat float8 NOT NULL)`
	sqlCounties = `
CREATE TEMP TABLE nd_counties AS
SELECT code, city, province,
       CASE WHEN ST_IsValid(g) THEN g ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(g, 'method=structure'), 3)) END AS geom
FROM (SELECT code, city, province, ST_GeomFromWKB(wkb, 4326) AS g FROM nd_county_wkb) c`
	sqlCities = `
CREATE TEMP TABLE nd_cities AS
SELECT city AS code, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom FROM nd_counties GROUP BY city`
	sqlProvinces = `
CREATE TEMP TABLE nd_provinces AS
SELECT province AS code, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom FROM nd_cities
JOIN (SELECT DISTINCT city, province FROM nd_counties) c ON c.city = nd_cities.code GROUP BY province`
	sqlCountry = `
CREATE TEMP TABLE nd_country AS
SELECT $1::text AS code, ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS geom FROM nd_provinces`
	sqlCells = `
CREATE TEMP TABLE nd_cells AS
SELECT s.county, (ST_Dump(ST_VoronoiPolygons(ST_Collect(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)), 0, c.geom))).geom AS cell
FROM nd_seats s JOIN nd_counties c ON c.code = s.county
GROUP BY s.county, c.geom
HAVING count(*) > 1`
	// A seat lies inside its own cell, never on its edge (the seats are
	// apart), so each seat meets one cell; DISTINCT ON keeps it so. A
	// seat of a county of several that met none would get no boundary,
	// which writeRegions reports.
	sqlTownships = `
CREATE TEMP TABLE nd_townships AS
SELECT DISTINCT ON (s.code) s.code,
       CASE WHEN k.n = 1 THEN c.geom
            ELSE ST_Multi(ST_CollectionExtract(ST_Intersection(cells.cell, c.geom), 3)) END AS geom
FROM nd_seats s
JOIN nd_counties c ON c.code = s.county
JOIN (SELECT county, count(*) AS n FROM nd_seats GROUP BY county) k ON k.county = s.county
LEFT JOIN nd_cells cells ON cells.county = s.county
     AND ST_Intersects(cells.cell, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
ORDER BY s.code`
)

// geoJSONDigits is the number of decimals the boundaries are written
// with, about 0.1 m, as the village points are.
const geoJSONDigits = 6

// gridSize is the grid of geoJSONDigits decimals, as SQL.
const gridSize = "1e-6"

// levelTables are the temporary tables of each level's boundaries, in
// the order regions.geojson lists them: parents before children.
var levelTables = []struct{ level, table string }{
	{"country", "nd_country"},
	{"province", "nd_provinces"},
	{"city", "nd_cities"},
	{"county", "nd_counties"},
	{"township", "nd_townships"},
}

// makeBoundaries loads the county boundaries and township seats of h
// into temporary tables on conn and derives every other level's from
// them, logging each step's time.
func makeBoundaries(ctx context.Context, conn pgx.Tx, h *hierarchy, seats map[string][2]float64, log *slog.Logger) error {
	if _, err := conn.Exec(ctx, sqlExtension); err != nil {
		return fmt.Errorf("postgis: %w", err)
	}
	if _, err := conn.Exec(ctx, sqlStage); err != nil {
		return err
	}
	rows := make([][]any, len(h.Counties))
	for i, c := range h.Counties {
		b, err := wkb.Marshal(c.Shape.Shape)
		if err != nil {
			return fmt.Errorf("county %s: %w", c.Code, err)
		}
		rows[i] = []any{c.Code, c.Parent, c.Parent[:2] + "0000", b}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"nd_county_wkb"}, []string{"code", "city", "province", "wkb"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy counties: %w", err)
	}
	rows = rows[:0]
	for _, t := range h.Townships {
		s := seats[t.Code]
		rows = append(rows, []any{t.Code, t.CountyCode, s[0], s[1]})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"nd_seats"}, []string{"code", "county", "lon", "lat"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy seats: %w", err)
	}
	for _, step := range []struct {
		what, sql string
		args      []any
	}{
		{"counties", sqlCounties, nil},
		{"cities", sqlCities, nil},
		{"provinces", sqlProvinces, nil},
		{"country", sqlCountry, []any{countryCode}},
		{"township cells", sqlCells, nil},
		{"townships", sqlTownships, nil},
	} {
		start := time.Now()
		if _, err := conn.Exec(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
		log.Debug("boundaries", slog.String("of", step.what), slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	}
	return nil
}

// regionProps are the properties of one feature of regions.geojson, in
// the order written.
type regionProps struct {
	Code          string  `json:"code"`
	Name          string  `json:"name"`
	Level         string  `json:"level"`
	Parent        *string `json:"parent_code"`
	PovertyStatus string  `json:"poverty_status"`
	ExitYear      *int    `json:"exit_year"`
	Demonstration bool    `json:"demonstration"`
}

// writeRegions streams regions.geojson: a FeatureCollection, one feature
// per line, level by level in levelTables' order and by code within a
// level, each geometry as PostGIS writes it. props gives each region's
// properties, keyed by level and code; a boundary without properties, an
// empty one, or a region without one is an error.
func writeRegions(ctx context.Context, conn pgx.Tx, w *bufio.Writer, props map[string]regionProps) error {
	if _, err := w.WriteString(`{"type":"FeatureCollection","features":[`); err != nil {
		return err
	}
	written := make(map[string]bool, len(props))
	n := 0
	for _, lt := range levelTables {
		// Rounded to the decimals written, a valid boundary can become
		// invalid (a ring that touches itself, a sliver of three
		// points); ST_ReducePrecision rounds it to that grid and keeps it
		// valid, so that what the file says is what PostGIS will take.
		sql := `SELECT code, ST_IsEmpty(g), ST_AsGeoJSON(g, ` + fmt.Sprint(geoJSONDigits) + `) FROM ` +
			pgx.Identifier{lt.table}.Sanitize() + `, LATERAL (SELECT ST_Multi(ST_CollectionExtract(ST_ReducePrecision(geom, ` +
			gridSize + `), 3))) r (g) ORDER BY code`
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return err
		}
		var code string
		var empty bool
		var geom []byte
		_, err = pgx.ForEachRow(rows, []any{&code, &empty, &geom}, func() error {
			key := lt.level + " " + code
			p, ok := props[key]
			if !ok {
				return fmt.Errorf("%s %s: a boundary of no region", lt.level, code)
			}
			if empty {
				return fmt.Errorf("%s %s %s: the boundary is empty", lt.level, code, p.Name)
			}
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if n > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n" + `{"type":"Feature","properties":`)
			w.Write(b)
			w.WriteString(`,"geometry":`)
			w.Write(geom)
			_, err = w.WriteString("}")
			n++
			written[key] = true
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", lt.level, err)
		}
	}
	for _, key := range sortedKeys(props) {
		if !written[key] {
			return fmt.Errorf("%s %s: no boundary", key, props[key].Name)
		}
	}
	_, err := w.WriteString("\n]}\n")
	return err
}
