package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// prints the report as JSON on stdout. The file is streamed
// (importer.Bulk): it may be of any size. Progress goes to stderr: a
// line that updates itself on a terminal, else a log line every
// progressLogEvery. A file with rejected features changes nothing: the
// report lists the first 1,000 rejections and counts the others, and the
// status is 1. A missing or unknown --layer, no FILE or more than one, or
// a FILE that cannot be opened or whose name does not tell its format is
// a usage error (status 2), found before the database is opened.
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
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	db, err := openDatabase(ctx, cfg, log, pgcluster.AppRole)
	if err != nil {
		return err
	}
	defer db.close()
	show := newProgress(os.Stderr, log, time.Now())
	im := importer.New(importer.Config{Progress: show.update}, log)
	stop := show.keepShowing()
	rep, err := im.Bulk(ctx, db.pool, importActor, cfg.Import.Layer, format, f, size)
	stop()
	show.end()
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

// progressLogEvery is how often an import logs its progress when stderr
// is not a terminal; progressDrawEvery how often it redraws its line on
// a terminal.
const (
	progressLogEvery  = 5 * time.Second
	progressDrawEvery = 200 * time.Millisecond
)

// progress shows how far an import has come: on a terminal, one line
// redrawn in place (features read, their rate, the phase, and the time
// left while the file is read, from the bytes read of its size);
// otherwise, as a log line every progressLogEvery and at each phase.
type progress struct {
	mu       sync.Mutex // update is called by the import and by keepShowing
	last     *importer.Progress
	out      *os.File
	log      *slog.Logger
	terminal bool
	start    time.Time
	shown    time.Time // when the last line was drawn or logged
	phase    string
	drawn    bool
}

// newProgress shows progress on out (stderr), or in log when out is not
// a terminal (a character device).
func newProgress(out *os.File, log *slog.Logger, start time.Time) *progress {
	st, err := out.Stat()
	return &progress{out: out, log: log, start: start, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// keepShowing shows the last progress again while a phase runs long
// without telling (one statement writing a country's villages takes
// minutes), so that the clock and the line keep moving, until stop is
// called.
func (p *progress) keepShowing() (stop func()) {
	every := progressLogEvery
	if p.terminal {
		every = time.Second
	}
	t := time.NewTicker(every)
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.mu.Lock()
				last := p.last
				p.mu.Unlock()
				if last != nil {
					p.update(*last)
				}
			}
		}
	}()
	return func() { t.Stop(); close(done); <-ended }
}

// update is importer.Config.Progress.
func (p *progress) update(at importer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = &at
	now := time.Now()
	every := progressLogEvery
	if p.terminal {
		every = progressDrawEvery
	}
	if at.Phase == p.phase && now.Sub(p.shown) < every {
		return
	}
	p.phase, p.shown = at.Phase, now
	elapsed := now.Sub(p.start)
	rate := float64(at.Features) / max(elapsed.Seconds(), 0.001)
	if !p.terminal {
		attrs := []any{slog.String("phase", at.Phase), slog.Int("features", at.Features),
			slog.Int("per_second", int(rate)), slog.Duration("elapsed", elapsed.Round(time.Second))}
		if left, ok := timeLeft(at, elapsed); ok {
			attrs = append(attrs, slog.Duration("reading_left", left))
		}
		if at.Total > 0 {
			attrs = append(attrs, slog.Int("done", at.Done), slog.Int("of", at.Total))
		}
		p.log.Info("import: progress", attrs...)
		return
	}
	line := fmt.Sprintf("%-10s %9d features  %7.0f/s  %s", at.Phase, at.Features, rate, elapsed.Round(time.Second))
	if left, ok := timeLeft(at, elapsed); ok {
		line += "  " + bar(float64(at.Bytes)/float64(at.Size)) + fmt.Sprintf(" read, about %s left", left)
	}
	if at.Total > 0 {
		line += "  " + bar(float64(at.Done)/float64(at.Total)) + fmt.Sprintf(" %d/%d", at.Done, at.Total)
	}
	fmt.Fprintf(p.out, "\r%s\x1b[K", line)
	p.drawn = true
}

// bar draws the share done (0 to 1) as a bar of 20 cells and a
// percentage.
func bar(done float64) string {
	const cells = 20
	n := min(max(int(done*cells), 0), cells)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", cells-n) + fmt.Sprintf("] %3.0f%%", 100*min(max(done, 0), 1))
}

// timeLeft is how long reading the rest of the file should take at the
// rate so far, while it is read and its size is known.
func timeLeft(at importer.Progress, elapsed time.Duration) (time.Duration, bool) {
	if at.Phase != importer.PhaseReading || at.Size <= 0 || at.Bytes <= 0 {
		return 0, false
	}
	rest := float64(at.Size-at.Bytes) / float64(at.Bytes)
	return time.Duration(rest * float64(elapsed)).Round(time.Second), true
}

// end ends the line drawn on a terminal, so that what follows starts on
// a line of its own.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.out)
	}
}
