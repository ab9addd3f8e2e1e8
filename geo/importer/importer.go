// Package importer loads villages, relocation sites and projects from a
// GeoJSON or CSV file into the map, safely: every feature is checked
// first (fields, enumerations, figures that must add up, geometry type,
// finite coordinates inside the extent, codes unique in the file and
// naming regions that exist), every problem is reported with the
// feature's index or line, and only a file without any problem is written,
// all of it in one transaction through geo.Change. A bad file never
// changes the database.
//
// Edits of one feature (edit.go, assignments.go) go through the same
// checks and the same SQL: an edit is the stored record with a patch
// applied, checked and upserted as an import of that one feature would
// be, so the rules are written once, in geo's catalogue.
package importer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"

	"github.com/zunyi/battlemap/geo"
)

// Defaults of Config.
const (
	DefaultMaxFeatures = 50_000
	DefaultMaxBytes    = 64 << 20
)

// progressEvery is how many features pass between progress lines; a file
// with fewer features logs none.
const progressEvery = 5000

// Config holds an Importer's limits. Zero values take the defaults.
type Config struct {
	// MaxFeatures is the most features (GeoJSON) or rows (CSV) one import
	// takes.
	MaxFeatures int
	// MaxBytes is the largest file one import takes.
	MaxBytes int64
	// Extent, if set, is where features may lie, in WGS 84 degrees, on
	// top of the check of each feature against its own region; nil means
	// no box.
	Extent *geom.Bounds
	// Progress, if not nil, is told how far a bulk load has come (see
	// Bulk): after every batch, and at every change of phase.
	Progress func(Progress)
}

// Importer validates and writes imports. Build it with New.
type Importer struct {
	cfg Config
	log *slog.Logger
	// failAfter, set only by tests, fails a bulk load at a phase (see
	// Progress) after n steps when it returns an error: the batches
	// staged, the upserts, the cities refreshed.
	failAfter func(phase string, n int) error
}

// New returns an Importer with cfg's limits, logging progress to log.
func New(cfg Config, log *slog.Logger) *Importer {
	if cfg.MaxFeatures <= 0 {
		cfg.MaxFeatures = DefaultMaxFeatures
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	return &Importer{cfg: cfg, log: log}
}

// Report is the outcome of an import.
type Report struct {
	Layer string `json:"layer"`
	// Received counts the features (or rows) read from the file.
	Received int `json:"received"`
	// Inserted and Updated count the features written: new codes, and
	// codes already there, whose every field the import replaced.
	Inserted int `json:"inserted"`
	Updated  int `json:"updated"`
	// Rejected lists every problem found, in file order (a bulk load's
	// only the first 1,000); when it is not empty, nothing was written.
	Rejected []Rejection `json:"rejected"`
	// RejectedCount counts the problems a bulk load found, when it found
	// more than Rejected lists; 0 otherwise.
	RejectedCount int `json:"rejected_count,omitempty"`
	// DataVersion is the data version the import moved to; 0 when nothing
	// was written.
	DataVersion int64 `json:"data_version,omitempty"`
}

// Import reads r as format, checks every feature against layer
// ("villages", "sites" or "projects") and, if none has a problem, upserts
// them all by code in one transaction on db (see geo.Change), recorded
// in the audit log under actor. Fields absent from a feature take their defaults (NULL, 0 or
// false), also when it updates a row.
//
// Errors: ENotFound for an unknown layer; ETooLarge for a file over the
// configured bytes or features; EInvalid when anything is rejected, in
// which case the Report is returned too and lists every problem; EInvalid
// naming the constraint if the database still refuses the data (say, a
// region deleted meanwhile); EConflict if concurrent changes to the same
// rows kept aborting the import's transaction (see geo.Change). Nothing is
// written unless the error is nil.
func (im *Importer) Import(ctx context.Context, db geo.DB, actor geo.Actor, layer string, format Format, r io.Reader) (*Report, error) {
	l := layerNamed(layer)
	if l == nil {
		return nil, geo.Errorf(geo.ENotFound, "no layer %q to import: the layers are %s", layer, strings.Join(Layers(), ", "))
	}
	data, err := io.ReadAll(io.LimitReader(r, im.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("import: read: %w", err)
	}
	if int64(len(data)) > im.cfg.MaxBytes {
		return nil, geo.Errorf(geo.ETooLarge, "the file is larger than %d bytes, the most one import takes", im.cfg.MaxBytes)
	}
	recs, rejected, err := validate(l, format, data, im.cfg.Extent, im.cfg.MaxFeatures, func(done, total int) {
		im.log.Info("import: validated", slog.String("layer", l.Name), slog.Int("features", done), slog.Int("of", total))
	})
	if err != nil {
		return nil, err
	}
	missing, err := im.checkRegions(ctx, db, recs)
	if err != nil {
		return nil, err
	}
	rejected = append(rejected, missing...)
	invalid, err := checkShapes(ctx, db, l, recs)
	if err != nil {
		return nil, err
	}
	rejected = append(rejected, invalid...)
	misplaced, err := checkPlaces(ctx, db, l, recs)
	if err != nil {
		return nil, err
	}
	rejected = append(rejected, misplaced...)
	sortRejections(rejected)
	rep := &Report{Layer: l.Name, Received: len(recs), Rejected: rejected}
	if len(rejected) > 0 {
		return rep, rejectedError(rep)
	}
	rep.Rejected = []Rejection{}
	if len(recs) > progressEvery {
		im.log.Info("import: applying", slog.String("layer", l.Name), slog.Int("features", len(recs)))
	}
	audit := &geo.Audit{Action: "import", Table: l.Name}
	// geo.Change runs this again after a deadlock with a concurrent import,
	// in a fresh transaction: the staging table, created ON COMMIT DROP,
	// went with the rollback of the run before, and the counts and the
	// audit's are set afresh, so a second run is the same as a first.
	rep.DataVersion, err = geo.Change(ctx, db, actor, audit, func(tx pgx.Tx) error {
		updated, err := l.apply(ctx, tx, recs)
		if err != nil {
			return err
		}
		rep.Updated, rep.Inserted = updated, len(recs)-updated
		audit.After = map[string]int{"received": rep.Received, "inserted": rep.Inserted, "updated": rep.Updated}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// rejectedError says how much of the file was rejected.
func rejectedError(rep *Report) error {
	features := map[string]bool{}
	for _, r := range rep.Rejected {
		if r.Index == nil && r.Line == 0 {
			return geo.Errorf(geo.EInvalid, "the file cannot be imported: %s; nothing was imported", r.Reason)
		}
		features[r.Position.String()] = true
	}
	return geo.Errorf(geo.EInvalid, "%d of %d features rejected (%d problems); nothing was imported",
		len(features), rep.Received, len(rep.Rejected))
}

// checkRegions looks up, in one query, every region the records name and
// rejects the names of regions that do not exist at the level wanted,
// and the regions that do not lie where a geo.Within rule wants them:
// in the region of the other field, following parent_code up.
func (im *Importer) checkRegions(ctx context.Context, db geo.DB, recs []record) ([]Rejection, error) {
	var codes []string
	seen := map[string]bool{}
	for _, rec := range recs {
		for _, rf := range rec.refs {
			if !seen[rf.code] {
				seen[rf.code] = true
				codes = append(codes, rf.code)
			}
		}
	}
	if len(codes) == 0 {
		return nil, nil
	}
	type region struct {
		level      string
		registered bool
		lineage    []string // from the top down to the region itself
	}
	found := make(map[string]region, len(codes))
	rows, err := db.Query(ctx, sqlRegions, codes)
	if err != nil {
		return nil, fmt.Errorf("import: regions: %w", err)
	}
	var code string
	var r region
	_, err = pgx.ForEachRow(rows, []any{&code, &r.level, &r.registered, &r.lineage}, func() error {
		found[code] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: regions: %w", err)
	}
	var rejected []Rejection
	for _, rec := range recs {
		known := map[string]bool{} // the fields naming a region of the level wanted
		for _, rf := range rec.refs {
			r, ok := found[rf.code]
			if ok && r.level == rf.level && (rf.level != "village" || r.registered) {
				known[rf.field] = true
				continue
			}
			field, reason := rf.field, "no "+rf.level+" with code "+rf.code
			switch {
			case rf.fromCode:
				field = geo.KeyField
				reason += fmt.Sprintf(" (the code's first %d digits)", len(rf.code))
			case rf.level == "village":
				reason += " in the registry"
			}
			rejected = append(rejected, Rejection{Position: rec.Position, Code: rec.code, Field: field, Reason: reason})
		}
		for _, w := range rec.within {
			if !known[w.field] || !known[w.in] {
				continue // the region missing says enough
			}
			above := found[w.code].lineage
			above = above[:max(len(above)-1, 0)]
			if slices.Contains(above, w.inCode) {
				continue
			}
			reason := w.code + " is not in " + w.in + " " + w.inCode
			if len(above) > 0 {
				reason += ": it lies under " + strings.Join(above, " › ")
			}
			rejected = append(rejected, Rejection{Position: rec.Position, Code: rec.code, Field: w.field, Reason: reason})
		}
	}
	return rejected, nil
}

// checkShapes asks PostGIS, in one query, whether the polygons of the
// records that passed every other check are valid (no ring crosses
// itself or another), and rejects those that are not with PostGIS's
// reason: the schema keeps only valid polygons, which the analysis
// relies on, and would otherwise refuse the whole file without naming the
// feature. It notes the answer in each record it asked about (valid),
// which checkPlaces then need not ask again. Layers without polygons
// need no query.
func checkShapes(ctx context.Context, db geo.DB, l *layer, recs []record) ([]Rejection, error) {
	if !slices.Contains(l.Geometries, "Polygon") && !slices.Contains(l.Geometries, "MultiPolygon") {
		return nil, nil
	}
	var at []int
	var wkbs [][]byte
	for i, rec := range recs {
		if rec.row != nil {
			at, wkbs = append(at, i), append(wkbs, rec.row[len(rec.row)-1].([]byte))
		}
	}
	if len(wkbs) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, sqlInvalidShapes, wkbs)
	if err != nil {
		return nil, fmt.Errorf("import: shapes: %w", err)
	}
	var rejected []Rejection
	var i int
	var reason string
	invalid := map[int]bool{}
	_, err = pgx.ForEachRow(rows, []any{&i, &reason}, func() error {
		rec := recs[at[i-1]]
		invalid[at[i-1]] = true
		rejected = append(rejected, Rejection{Position: rec.Position, Code: rec.code, Field: "geometry",
			Reason: "is not a valid polygon: " + reason})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: shapes: %w", err)
	}
	for _, j := range at {
		valid := !invalid[j]
		recs[j].valid = &valid
	}
	return rejected, nil
}

// apply copies recs into l's staging table and upserts them into the
// schema, in tx. It returns how many codes were already there.
func (l *layer) apply(ctx context.Context, tx pgx.Tx, recs []record) (updated int, err error) {
	if _, err := tx.Exec(ctx, l.sqlStage); err != nil {
		return 0, fmt.Errorf("import: stage: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{l.stage}, l.columns(), pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
		return recs[i].row, nil
	}))
	if err != nil {
		return 0, fmt.Errorf("import: copy: %w", err)
	}
	if err := tx.QueryRow(ctx, l.sqlCount).Scan(&updated); err != nil {
		return 0, fmt.Errorf("import: count: %w", err)
	}
	for _, q := range l.sqlUpsert {
		if _, err := tx.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("import: upsert %s: %w", l.Name, err)
		}
	}
	return updated, nil
}
