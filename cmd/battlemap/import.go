package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/geo/terrain"
)

// The actors that the audit log names for the command line's changes.
// Whoever may run the command line may change the whole data set: All
// gives them the scope '*', without which row-level security, forced on
// the map tables, refuses every row they write.
var (
	importActor = geo.Actor{Name: "battlemap import", All: true}
	seedActor   = geo.Actor{Name: "battlemap seed", All: true}
)

// importFormats tells an import file's format by its name's extension.
var importFormats = map[string]importer.Format{
	".geojson": importer.GeoJSON,
	".json":    importer.GeoJSON,
	".csv":     importer.CSV,
}

// importCmd loads FILE into the layer --layer names, all or nothing, and
// prints the report as JSON on stdout; progress lines of a large file go
// to the log (stderr). A file with rejected features changes nothing: the
// report lists every rejection and the status is 1. A missing or unknown
// --layer, no FILE or more than one, or a FILE that cannot be opened or
// whose name does not tell its format is a usage error (status 2), found
// before the database is opened.
func importCmd(ctx context.Context, cfg Config, args []string, log *slog.Logger) error {
	if cfg.Import.DEM != "" {
		return importDEM(ctx, cfg, args, log)
	}
	layers := importer.Layers()
	if len(args) != 1 {
		return usagef("usage: battlemap import [flags] --layer %s FILE (.geojson, .json or .csv), or --dem FILE.tif", strings.Join(layers, "|"))
	}
	if !slices.Contains(layers, cfg.Import.Layer) {
		return usagef("invalid value %q for flag --layer: want %s", cfg.Import.Layer, strings.Join(layers, ", "))
	}
	path := args[0]
	format, ok := importFormats[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return usagef("cannot tell the format of %s: name it .geojson, .json or .csv", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return usagef("cannot read the import file: %v", err)
	}
	defer f.Close()
	db, err := openDatabase(ctx, cfg, log, pgcluster.AppRole)
	if err != nil {
		return err
	}
	defer db.close()
	rep, err := importer.New(importer.Config{}, log).Import(ctx, db.pool, importActor, cfg.Import.Layer, format, f)
	if rep != nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return werr
		}
	}
	return err
}

// importDEM replaces the terrain with the GeoTIFF --dem names, all or
// nothing, and prints the report as JSON on stdout. A file PostGIS
// refuses changes nothing and the status is 1, the error naming what is
// wrong; --layer or a FILE beside --dem, or a file that cannot be opened,
// is a usage error (status 2), found before the database is opened.
func importDEM(ctx context.Context, cfg Config, args []string, log *slog.Logger) error {
	if len(args) != 0 || cfg.Import.Layer != "" {
		return usagef("usage: battlemap import [flags] --dem FILE.tif (no --layer, no other file)")
	}
	f, err := os.Open(cfg.Import.DEM)
	if err != nil {
		return usagef("cannot read the DEM: %v", err)
	}
	defer f.Close()
	db, err := openDatabase(ctx, cfg, log, pgcluster.AppRole)
	if err != nil {
		return err
	}
	defer db.close()
	start := time.Now()
	rep, err := terrain.Import(ctx, db.pool, importActor, f, demMaxBytes)
	if err != nil {
		return err
	}
	log.Info("terrain imported", slog.Int("tiles", rep.Tiles), slog.Duration("took", time.Since(start)))
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// demMaxBytes is the largest DEM the command line reads: a float32
// GeoTIFF of the terrain grid's MaxCells is 80 MB.
const demMaxBytes = 1 << 30
