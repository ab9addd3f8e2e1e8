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
			var version int64
			var data []byte
			for b.Loop() {
				if err := pool.QueryRow(b.Context(), query, int32(t.Z), int32(t.X), int32(t.Y)).Scan(&version, &data); err != nil {
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

// BenchmarkServiceTileWarm asks the service for bench tiles already in
// its cache: the data-version check and the cache lookup, no tile SQL.
func BenchmarkServiceTileWarm(b *testing.B) {
	pool := pgtest.New(b)
	svc := tiles.NewService(tiles.Config{CacheBytes: 64 << 20}, pool)
	for _, t := range benchTiles {
		b.Run(tileName(t), func(b *testing.B) {
			b.ReportAllocs()
			m, err := svc.Tile(b.Context(), tiles.CompositeName, t)
			if err != nil {
				b.Fatalf("tile %s: %v", tileName(t), err)
			}
			if len(m.Data) == 0 {
				b.Fatalf("tile %s is empty; the benchmark wants one with features", tileName(t))
			}
			misses := svc.CacheStats().Misses
			for b.Loop() {
				if _, err := svc.Tile(b.Context(), tiles.CompositeName, t); err != nil {
					b.Fatalf("tile %s: %v", tileName(t), err)
				}
			}
			// A miss inside the loop would mean this measured tile SQL, not the cache.
			if got := svc.CacheStats().Misses; got != misses {
				b.Fatalf("tile %s: %d cache misses while warm, want 0", tileName(t), got-misses)
			}
		})
	}
}
