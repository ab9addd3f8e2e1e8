// Package terrain imports a digital elevation model (DEM) into the
// terrain raster, which the site suitability analysis reads (elevation,
// and the slope PostGIS computes from it), and writes GeoTIFF files.
//
// PostGIS reads the GeoTIFF itself (ST_FromGDALRaster, through GDAL's
// GTiff driver, which must be enabled: postgis.gdal_enabled_drivers, set
// by the private cluster), resamples it in SQL onto the terrain grid
// (migrations/009_factors.sql: EPSG:32648, 200 m cells) unless it lies on
// it already, cuts it into the grid's tiles and replaces the terrain
// whole, then computes the slope (refresh_terrain_slope), all in one
// transaction: a DEM that fails any step changes nothing.
package terrain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
)

// Layer is the name the DEM is imported under, beside the importer's
// vector layers (POST /api/import/terrain), and its table's.
const Layer = "terrain"

// MaxCells bounds the terrain grid cells one DEM may cover: the city of
// Zunyi is about 1.5 million at 200 m; a province would be about 5
// million. The resampled raster is held in the database's memory whole.
const MaxCells = 20_000_000

// MinElevation and MaxElevation bound the values a DEM may hold, in
// metres: below the Dead Sea or above Everest, a value is not an
// elevation (often an undeclared no-data value such as -32768).
const (
	MinElevation = -500
	MaxElevation = 9000
)

// Report is the outcome of a DEM import.
type Report struct {
	Layer string `json:"layer"`
	// Bytes is the size of the GeoTIFF read.
	Bytes int `json:"bytes"`
	// SourceSRID is the EPSG code of the GeoTIFF's coordinate system;
	// Resampled says whether it had to be resampled onto the terrain
	// grid (bilinear) or lay on it already.
	SourceSRID int  `json:"source_srid"`
	Resampled  bool `json:"resampled"`
	// Width and Height are the DEM's size in terrain cells, and Tiles
	// the tiles stored (those holding any value).
	Width  int `json:"width"`
	Height int `json:"height"`
	Tiles  int `json:"tiles"`
	// MinElevation and MaxElevation are in metres; MaxSlope in degrees.
	MinElevation float64 `json:"min_elevation"`
	MaxElevation float64 `json:"max_elevation"`
	MaxSlope     float64 `json:"max_slope"`
	// DataVersion is the data version the import moved to.
	DataVersion int64 `json:"data_version,omitempty"`
}

// The SQL of an import, in the order it runs.
const (
	// sqlNoTimeout lifts statement_timeout for the rest of the transaction.
	sqlNoTimeout = `SELECT set_config('statement_timeout', '0', true)`
	// sqlDrivers says whether PostGIS may use GDAL's GTiff driver.
	sqlDrivers = `SELECT coalesce(current_setting('postgis.gdal_enabled_drivers', true), '')`
	// sqlSource reads the file into a raster, kept for the transaction.
	sqlSource = `CREATE TEMP TABLE dem_source ON COMMIT DROP AS SELECT ST_FromGDALRaster($1::bytea) AS rast`
	// sqlDescribe says what the raster is: its coordinate system, bands,
	// whether it lies on the terrain grid, how many terrain cells its
	// extent covers and whether it meets a county (true when there are
	// none yet).
	sqlDescribe = `
SELECT ST_SRID(rast), ST_NumBands(rast),
       ST_SRID(rast) = ST_SRID(terrain_grid()) AND ST_ScaleX(rast) = ST_ScaleX(terrain_grid())
           AND ST_ScaleY(rast) = ST_ScaleY(terrain_grid()) AND ST_SameAlignment(rast, terrain_grid()),
       CASE WHEN ST_SRID(rast) = 0 THEN 0
            ELSE ST_Area(ST_Transform(ST_Envelope(rast), ST_SRID(terrain_grid())))
                 / abs(ST_ScaleX(terrain_grid()) * ST_ScaleY(terrain_grid())) END,
       CASE WHEN ST_SRID(rast) = 0 THEN false
            ELSE NOT EXISTS (SELECT FROM regions WHERE level = 'county')
                 OR EXISTS (SELECT FROM regions c WHERE c.level = 'county'
                            AND ST_Intersects(c.boundary, ST_Transform(ST_Envelope(rast), 4326))) END
FROM dem_source`
	// sqlReplace replaces the terrain by the raster's first band, on the
	// terrain grid, in tiles of 128 × 128 cells (those at the right and
	// bottom edges smaller), numbered from the top left; tiles without a
	// value are left out. $1 says whether to resample.
	sqlReplace = `
WITH g AS (
    SELECT CASE WHEN $1 THEN ST_Transform(ST_Band(rast, 1), terrain_grid(), 'Bilinear') ELSE ST_Band(rast, 1) END AS rast
    FROM dem_source
), t AS (
    SELECT ST_Tile(g.rast, 128, 128) AS rast FROM g
)
INSERT INTO terrain (rid, rast)
SELECT row_number() OVER (ORDER BY ST_UpperLeftY(t.rast) DESC, ST_UpperLeftX(t.rast)), t.rast
FROM t
WHERE NOT ST_BandIsNoData(t.rast, 1, true)`
	sqlClear = `DELETE FROM terrain`
	sqlSlope = `SELECT refresh_terrain_slope()`
	// sqlSummary describes the terrain stored.
	sqlSummary = `
SELECT (SELECT count(*) FROM terrain),
       coalesce((SELECT round((ST_XMax(e) - ST_XMin(e)) / ST_ScaleX(terrain_grid()))
                 FROM (SELECT ST_Extent(ST_Envelope(rast))::geometry AS e FROM terrain) x), 0),
       coalesce((SELECT round((ST_YMax(e) - ST_YMin(e)) / -ST_ScaleY(terrain_grid()))
                 FROM (SELECT ST_Extent(ST_Envelope(rast))::geometry AS e FROM terrain) x), 0),
       coalesce((SELECT (ST_SummaryStatsAgg(rast, 1, true)).min FROM terrain), 0),
       coalesce((SELECT (ST_SummaryStatsAgg(rast, 1, true)).max FROM terrain), 0),
       coalesce((SELECT (ST_SummaryStatsAgg(rast, 1, true)).max FROM terrain_slope), 0)`
)

// errUnreadable is the error of a file GDAL could not read.
var errUnreadable = geo.Errorf(geo.EInvalid, "GDAL cannot read the DEM as a GeoTIFF: the file is damaged or incomplete")

// tiffMagics are the first bytes of a TIFF: little- or big-endian, classic
// or BigTIFF.
var tiffMagics = [][]byte{{'I', 'I', 42, 0}, {'M', 'M', 0, 42}, {'I', 'I', 43, 0}, {'M', 'M', 0, 43}}

// Import reads a GeoTIFF DEM from r (at most maxBytes) and, in one
// transaction on db (geo.Change, under actor, with an audit row of its
// own), replaces the terrain with it and recomputes the slope. Only an
// actor whose scope is the whole data set may (row-level security).
//
// Errors: ETooLarge for a file over maxBytes or covering more than
// MaxCells terrain cells; EInvalid naming what is wrong for a file that is
// not a TIFF, that GDAL cannot read, that names no coordinate reference
// system, has no band, lies outside the city, holds no value or values
// that are no elevations in metres; geo.Change's errors
// (42501 out of scope is EForbidden there). Nothing is written unless
// the error is nil.
func Import(ctx context.Context, db geo.DB, actor geo.Actor, r io.Reader, maxBytes int64) (_ *Report, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("terrain: read: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, geo.Errorf(geo.ETooLarge, "the DEM is larger than %d bytes, the most one import takes", maxBytes)
	}
	// PostGIS's GDAL reader, once it has failed on a file, fails on every
	// file after it in the same session: the import runs on a connection
	// of its own, which is closed rather than returned to the pool when
	// the file could not be read.
	if pool, ok := db.(*pgxpool.Pool); ok {
		conn, aerr := pool.Acquire(ctx)
		if aerr != nil {
			return nil, fmt.Errorf("terrain: %w", aerr)
		}
		defer func() {
			if errors.Is(err, errUnreadable) {
				conn.Conn().Close(ctx)
			}
			conn.Release()
		}()
		db = conn
	}
	var rep *Report
	audit := &geo.Audit{Action: "import", Table: Layer}
	var version int64
	version, err = geo.Change(ctx, db, actor, audit, func(tx pgx.Tx) error {
		var err error
		rep, err = Load(ctx, tx, data)
		if err == nil {
			audit.After = rep
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.DataVersion = version
	return rep, nil
}

// Load replaces the terrain with the GeoTIFF data in tx, which the caller
// commits, and recomputes the slope; the demo loader calls it in its own
// change. Its errors are Import's but ETooLarge for the bytes.
func Load(ctx context.Context, tx pgx.Tx, data []byte) (*Report, error) {
	if !isTIFF(data) {
		return nil, geo.Errorf(geo.EInvalid, "the DEM must be a GeoTIFF: the file does not begin as a TIFF does (II*\\0 or MM\\0*)")
	}
	// Resampling and the slope take seconds for a city and minutes for a
	// province; statement_timeout guards the server's reads, and this
	// transaction's size is bounded by MaxCells (and, over HTTP, its time
	// by the request's).
	if _, err := tx.Exec(ctx, sqlNoTimeout); err != nil {
		return nil, fmt.Errorf("terrain: %w", err)
	}
	var drivers string
	if err := tx.QueryRow(ctx, sqlDrivers).Scan(&drivers); err != nil {
		return nil, fmt.Errorf("terrain: %w", err)
	}
	if !hasDriver(drivers, "GTiff") {
		return nil, errors.New("terrain: PostGIS may not use GDAL's GTiff driver: set postgis.gdal_enabled_drivers = 'GTiff' (as a superuser; see README)")
	}
	if _, err := tx.Exec(ctx, sqlSource, data); err != nil {
		if unreadable(err) {
			return nil, errUnreadable
		}
		return nil, fmt.Errorf("terrain: read the DEM: %w", err)
	}
	rep := &Report{Layer: Layer, Bytes: len(data)}
	var bands int
	var cells float64
	var inCity bool
	aligned := false
	err := tx.QueryRow(ctx, sqlDescribe).Scan(&rep.SourceSRID, &bands, &aligned, &cells, &inCity)
	if err != nil {
		return nil, fmt.Errorf("terrain: describe the DEM: %w", err)
	}
	switch {
	case rep.SourceSRID == 0:
		return nil, geo.Errorf(geo.EInvalid, "the DEM names no coordinate reference system that PostGIS knows: give it an EPSG code in its GeoKeys")
	case bands < 1:
		return nil, geo.Errorf(geo.EInvalid, "the DEM has no band: its first band must hold the elevation in metres")
	case cells > MaxCells:
		return nil, geo.Errorf(geo.ETooLarge, "the DEM covers %.0f cells of the terrain grid, more than the %d one import takes", cells, MaxCells)
	case !inCity:
		return nil, geo.Errorf(geo.EInvalid, "the DEM lies outside the city's counties")
	}
	rep.Resampled = !aligned
	if _, err := tx.Exec(ctx, sqlClear); err != nil {
		return nil, fmt.Errorf("terrain: clear: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlReplace, rep.Resampled); err != nil {
		return nil, fmt.Errorf("terrain: store the DEM: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlSlope); err != nil {
		return nil, fmt.Errorf("terrain: slope: %w", err)
	}
	err = tx.QueryRow(ctx, sqlSummary).Scan(&rep.Tiles, &rep.Width, &rep.Height, &rep.MinElevation, &rep.MaxElevation, &rep.MaxSlope)
	if err != nil {
		return nil, fmt.Errorf("terrain: summary: %w", err)
	}
	switch {
	case rep.Tiles == 0:
		return nil, geo.Errorf(geo.EInvalid, "the DEM holds no value: every cell is its no-data value")
	case rep.MinElevation < MinElevation || rep.MaxElevation > MaxElevation:
		return nil, geo.Errorf(geo.EInvalid, "the DEM's values run from %.0f to %.0f: not elevations in metres "+
			"(between %d and %d; is a no-data value not declared?)", rep.MinElevation, rep.MaxElevation, MinElevation, MaxElevation)
	}
	return rep, nil
}

// isTIFF reports whether data begins as a TIFF.
func isTIFF(data []byte) bool {
	for _, m := range tiffMagics {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

// hasDriver reports whether the setting postgis.gdal_enabled_drivers
// (names separated by spaces or commas, or ENABLE_ALL) enables driver.
func hasDriver(setting, driver string) bool {
	for _, d := range strings.FieldsFunc(setting, func(r rune) bool { return r == ' ' || r == ',' }) {
		if d == driver || d == "ENABLE_ALL" {
			return true
		}
	}
	return false
}

// unreadable reports whether err is PostGIS failing to read a raster
// (an internal error raised by its GDAL reader, XX000), as opposed to the
// database being unavailable.
func unreadable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "XX000"
}
