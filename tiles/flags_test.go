package tiles_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// TestFlagsTile raises a flag by an edit (a project finished in its
// figures, not in its status) and decodes the flags layer of tiles round
// it, now and as of before the edit, against SQL over the table flags:
// the same flags, with their rule and severity; none below zoom 7.
func TestFlagsTile(t *testing.T) {
	pool := pgtest.New(t)
	svc := tiles.NewService(tiles.Config{}, pool)
	ctx := context.Background()
	var project string
	if err := pool.QueryRow(ctx, `SELECT code FROM projects WHERE status <> 'completed' AND completion < 100 AND village_code IS NOT NULL
		ORDER BY code LIMIT 1`).Scan(&project); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time {
		var now time.Time
		if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&now); err != nil {
			t.Fatal(err)
		}
		return now
	}
	before := clock()
	if _, err := geo.Change(ctx, pool, geo.Actor{Name: "test", All: true}, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE projects SET completion = 100, status = 'under_construction' WHERE code = $1`, project)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := pool.QueryRow(ctx, `SELECT id FROM flags WHERE rule = 'completion_not_marked' AND subject_code = $1 AND cleared_at IS NULL`,
		project).Scan(&id); err != nil {
		t.Fatalf("the edit raised no flag: %v", err)
	}
	flagTile := func(z int) maptile.Tile {
		return featureTile(t, pool, `SELECT ST_X(geom), ST_Y(geom) FROM flags WHERE id = '`+id+`'`, z)
	}
	type flag struct{ ID, Rule, Severity string }
	// truth are the flags that hold in the tile at moment m (nil: now),
	// by SQL over the table flags and their spans.
	truth := func(tile maptile.Tile, m *time.Time) []flag {
		rows, err := pool.Query(ctx, `SELECT fl.id, fl.rule, fr.severity FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
			WHERE CASE WHEN $4::timestamptz IS NULL THEN fl.cleared_at IS NULL ELSE tstzrange(fl.raised_at, fl.cleared_at) @> $4::timestamptz END
			  AND ST_Intersects(ST_Transform(fl.geom, 3857), `+margin+`)
			ORDER BY fl.id`, int(tile.Z), int(tile.X), int(tile.Y), m)
		if err != nil {
			t.Fatal(err)
		}
		flags, err := pgx.CollectRows(rows, pgx.RowToStructByPos[flag])
		if err != nil {
			t.Fatal(err)
		}
		return flags
	}
	drawn := func(tile maptile.Tile, m *time.Time) []flag {
		b, err := svc.Tile(ctx, tiles.CompositeName, tile, m)
		if err != nil {
			t.Fatalf("Tile(%v): %v", tile, err)
		}
		layers, err := mvt.Unmarshal(b)
		if err != nil {
			t.Fatalf("Tile(%v) does not decode: %v", tile, err)
		}
		var flags []flag
		for _, l := range layers {
			if l.Name != "flags" {
				continue
			}
			for _, f := range l.Features {
				flags = append(flags, flag{f.Properties.MustString("id"), f.Properties.MustString("rule"), f.Properties.MustString("severity")})
			}
		}
		slices.SortFunc(flags, func(a, b flag) int { return cmp.Compare(a.ID, b.ID) })
		return flags
	}
	for _, tt := range []struct {
		name   string
		tile   maptile.Tile
		at     *time.Time
		raised bool // the flag raised by the edit is drawn
	}{
		{"zoom 7", flagTile(7), nil, true},
		{"zoom 12", flagTile(12), nil, true},
		{"zoom 14", flagTile(14), nil, true},
		{"zoom 12 as of before the edit", flagTile(12), &before, false},
		{"zoom 7 as of before the edit", flagTile(7), &before, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, want := drawn(tt.tile, tt.at), truth(tt.tile, tt.at)
			if !slices.Equal(got, want) {
				t.Errorf("flags in %v: got %v, SQL says %v", tt.tile, got, want)
			}
			if slices.ContainsFunc(got, func(f flag) bool { return f.ID == id }) != tt.raised {
				t.Errorf("flag %s drawn in %v: %v, want %v", id, tt.tile, !tt.raised, tt.raised)
			}
		})
	}
	t.Run("none below zoom 7", func(t *testing.T) {
		if got := drawn(flagTile(6), nil); len(got) != 0 {
			t.Errorf("zoom 6 draws flags: %v", got)
		}
	})
}
