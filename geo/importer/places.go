package importer

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// sqlMisplaced finds the features that do not lie in the region that
// holds them (migrations/020_import_places.sql, 026_bulk_sets.sql): $1
// codes, $2 levels (a region's, else NULL), $3 the codes of their holders
// (geo.Table.LiesIn), $4 geometries as WKB, $5 whether each geometry is
// known to be valid (NULL: unknown), one of each per feature; it answers
// the feature's position in them (from 1), the field at fault and why.
const sqlMisplaced = `SELECT i, field, reason FROM misplaced_features($1, $2, $3, $4, $5)`

// checkPlaces asks the database, in one query, whether each record that
// passed the checks without it lies in the region holding it: within
// that region's county (a village's township's, a site's county), or for
// a region within its parent, found in the file or the database, which
// must also be of the level above it. A record without a holder (a top
// region) lies anywhere.
func checkPlaces(ctx context.Context, db geo.DB, l *layer, recs []record) ([]Rejection, error) {
	in := slices.IndexFunc(l.Fields, func(f geo.Field) bool { return f.Name == l.LiesIn })
	if in < 0 {
		return nil, nil
	}
	level := -1
	for _, r := range l.Rules {
		if r.Kind == geo.ParentOf {
			level = slices.IndexFunc(l.Fields, func(f geo.Field) bool { return f.Name == r.B })
		}
	}
	var (
		at                     []int
		codes, levels, holders []*string
		wkbs                   [][]byte
		valid                  []*bool
	)
	text := func(v any) *string {
		if s, ok := v.(string); ok {
			return &s
		}
		return nil
	}
	for i, rec := range recs {
		if rec.row == nil {
			continue
		}
		var lv *string
		if level >= 0 {
			lv = text(rec.row[level])
		}
		at = append(at, i)
		codes, levels, holders = append(codes, &rec.code), append(levels, lv), append(holders, text(rec.row[in]))
		wkbs, valid = append(wkbs, rec.row[len(rec.row)-1].([]byte)), append(valid, rec.valid)
	}
	if len(at) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, sqlMisplaced, codes, levels, holders, wkbs, valid)
	if err != nil {
		return nil, fmt.Errorf("import: places: %w", err)
	}
	var rejected []Rejection
	var i int
	var field, reason string
	_, err = pgx.ForEachRow(rows, []any{&i, &field, &reason}, func() error {
		rec := recs[at[i-1]]
		rejected = append(rejected, Rejection{Position: rec.Position, Code: rec.code, Field: field, Reason: reason})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import: places: %w", err)
	}
	return rejected, nil
}
