package tiles_test

import (
	"fmt"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

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
