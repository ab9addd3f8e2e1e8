package tiles_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// benchTiles are the tiles over Zunyi's city centre (Honghuagang) at
// zooms 8, 10, 12 and 14: from a tile holding whole counties to one of a
// few streets, all with features of several layers.
var benchTiles = func() []maptile.Tile {
	centre := orb.Point{106.92, 27.70}
	var ts []maptile.Tile
	for _, z := range []maptile.Zoom{8, 10, 12, 14} {
		ts = append(ts, maptile.At(centre, z))
	}
	return ts
}()

// tileName names a sub-benchmark after its tile, as z-x-y.
func tileName(t maptile.Tile) string { return fmt.Sprintf("%d-%d-%d", t.Z, t.X, t.Y) }

// BenchmarkTileSQL runs the composite tileset's SQL of each bench tile
// through pgx, as the service does on a cache miss: the cost of making a
// tile in PostGIS plus one round trip.
func BenchmarkTileSQL(b *testing.B) {
	pool := pgtest.New(b)
	ts := tiles.Tilesets()[tiles.CompositeName]
	for _, t := range benchTiles {
		b.Run(tileName(t), func(b *testing.B) {
			b.ReportAllocs()
			query := ts.Query(int(t.Z))
			var data []byte
			for b.Loop() {
				if err := pool.QueryRow(b.Context(), query, int32(t.Z), int32(t.X), int32(t.Y)).Scan(&data); err != nil {
					b.Fatalf("tile %s: %v", tileName(t), err)
				}
			}
			if len(data) == 0 {
				b.Fatalf("tile %s is empty; the benchmark wants one with features", tileName(t))
			}
			b.ReportMetric(float64(len(data)), "tile-bytes")
		})
	}
}

// BenchmarkPastTileSQL runs the composite tileset's SQL of tiles from the
// whole city (z4, z5: below zoom 4 a tile draws provinces, which the
// demo has none of) to a few streets (z14) as of a past moment (the end
// of March 2016 in the demo's history; on a history that begins later,
// its middle), on a pool that reads the past as the server's does, and
// the same tiles of today beside them: issue 15 wants a tile of the past
// made within 3× the time of today's.
func BenchmarkPastTileSQL(b *testing.B) {
	pool := pgtest.New(b)
	ctx := b.Context()
	span, ok, err := geo.HistorySpan(ctx, pool)
	if err != nil || !ok {
		b.Fatalf("history span: %v (%v)", ok, err)
	}
	moment, err := geo.ParseMoment("2016-03-31", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if moment.Before(span.From) {
		moment = span.From.Add(span.To.Sub(span.From) / 2)
	}
	pc := pool.Config()
	for k, v := range tiles.SessionParams() {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	today, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	defer today.Close()
	past, err := pgxpool.NewWithConfig(ctx, geo.PastConfig(pc))
	if err != nil {
		b.Fatal(err)
	}
	defer past.Close()
	ts := tiles.Tilesets()[tiles.CompositeName]
	centre := orb.Point{106.92, 27.70}
	for _, z := range []maptile.Zoom{4, 5, 8, 10, 12, 14} {
		t := maptile.At(centre, z)
		for _, run := range []struct {
			name string
			ctx  context.Context
			pool *pgxpool.Pool
		}{{"today", ctx, today}, {"past", geo.AtMoment(ctx, moment), past}} {
			b.Run(tileName(t)+"/"+run.name, func(b *testing.B) {
				query := ts.Query(int(t.Z))
				var data []byte
				for b.Loop() {
					if err := run.pool.QueryRow(run.ctx, query, int32(t.Z), int32(t.X), int32(t.Y)).Scan(&data); err != nil {
						b.Fatalf("tile %s: %v", tileName(t), err)
					}
				}
				if len(data) == 0 {
					b.Fatalf("tile %s is empty; the benchmark wants one with features", tileName(t))
				}
				b.ReportMetric(float64(len(data)), "tile-bytes")
			})
		}
	}
}
