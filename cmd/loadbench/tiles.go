package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/tiles"
)

// tileZooms are the zooms of the list, with the share of each zoom's
// tiles kept: every tile to z12, one in 4 at z13 and one in 16 at z14,
// so that a pass is about 3,000 tiles and the deep zooms, which a real
// session asks for most, still weigh about as much as z8–12 together.
var tileZooms = []struct {
	z     maptile.Zoom
	every uint64
}{{8, 1}, {9, 1}, {10, 1}, {11, 1}, {12, 1}, {13, 4}, {14, 16}}

// tileKey is a tile's sampleKey, that of "z/x/y".
func tileKey(t maptile.Tile) uint64 { return sampleKey(fmt.Sprintf("%d/%d/%d", t.Z, t.X, t.Y)) }

// tileList is every tile of the zunyi bound at the zooms of tileZooms
// whose key is a multiple of the zoom's every, ordered by key. The order
// mixes the zooms, so that a run cut off by its deadline part-way through
// a pass has still asked for the same mix of cheap and costly tiles.
func tileList() []maptile.Tile {
	var list []maptile.Tile
	for _, zoom := range tileZooms {
		for _, t := range boundTiles(zunyi, zoom.z) {
			if tileKey(t)%zoom.every == 0 {
				list = append(list, t)
			}
		}
	}
	slices.SortFunc(list, func(a, b maptile.Tile) int { return cmp.Compare(tileKey(a), tileKey(b)) })
	return list
}

// boundTiles is every tile at zoom z that meets b, ordered by x then y.
func boundTiles(b orb.Bound, z maptile.Zoom) []maptile.Tile {
	// Tile y grows southwards: the north-west corner has the least x and y.
	nw := maptile.At(orb.Point{b.Min.X(), b.Max.Y()}, z)
	se := maptile.At(orb.Point{b.Max.X(), b.Min.Y()}, z)
	var list []maptile.Tile
	for x := nw.X; x <= se.X; x++ {
		for y := nw.Y; y <= se.Y; y++ {
			list = append(list, maptile.New(x, y, z))
		}
	}
	return list
}

// tilePath is the path of tile t of tileset set, as the pages ask for it.
func tilePath(set string, t maptile.Tile) string {
	return fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt", set, t.Z, t.X, t.Y)
}

// tileTwin runs a tile's SQL as the tile service does: one statement,
// whose one row holds the tile, the body.
func tileTwin(sql string, t maptile.Tile) twin {
	args := []any{int32(t.Z), int32(t.X), int32(t.Y)}
	return func(ctx context.Context, pool *pgxpool.Pool) (int, error) {
		rows, err := pool.Query(ctx, sql, args...)
		if err != nil {
			return 0, err
		}
		return readRaw(rows)
	}
}

// tileScenario asks for the tiles of tileList from the composite
// tileset, the one the map's pages load.
func tileScenario(context.Context, *pgxpool.Pool) (*scenario, error) {
	ts, ok := tiles.Tilesets()[tiles.CompositeName]
	if !ok {
		return nil, fmt.Errorf("no %q tileset", tiles.CompositeName)
	}
	list := tileList()
	perZoom := map[maptile.Zoom]int{}
	reqs := make([]request, 0, len(list))
	for _, t := range list {
		sql := ts.Query(int(t.Z))
		if sql == "" {
			return nil, fmt.Errorf("tileset %s draws nothing at zoom %d", ts.Name, t.Z)
		}
		perZoom[t.Z]++
		reqs = append(reqs, request{
			path: tilePath(ts.Name, t),
			twin: tileTwin(sql, t),
		})
	}
	about := fmt.Sprintf("%d tiles of the `%s` tileset (every layer in one tile) over lon %g–%g, lat %g–%g: ",
		len(reqs), ts.Name, zunyi.Min.X(), zunyi.Max.X(), zunyi.Min.Y(), zunyi.Max.Y())
	for i, zoom := range tileZooms {
		if i > 0 {
			about += ", "
		}
		about += fmt.Sprintf("z%d %d", zoom.z, perZoom[zoom.z])
		if zoom.every > 1 {
			about += fmt.Sprintf(" (1 in %d)", zoom.every)
		}
	}
	about += ". Samples are picked and ordered by the SHA-256 of `z/x/y`, so the list is the same on every run. " +
		"The bound is a rectangle, so some tiles fall outside the city and are empty (204)."
	const cacheOff, cacheWarm, cacheWarmNotify = "cache off", "cache warm (versions read per tile)", "cache warm (versions by NOTIFY)"
	return &scenario{
		title:    "Tiles",
		unit:     "tiles",
		about:    about,
		requests: reqs,
		session:  tiles.SessionParams(),
		servers: []serverRun{
			{name: cacheOff, flags: []string{"--tile-cache-bytes", "0"}},
			{name: cacheWarm, warm: true},
			{name: cacheWarmNotify, warm: true, flags: []string{"--version-check", "notify"}},
		},
		targets: []target{
			shareOf(cacheOff, ceilingRun, 0.90),
			minRate(cacheWarm, "tiles", 20000),
			maxP99(cacheWarm, 5*time.Millisecond),
			minRate(cacheWarmNotify, "tiles", 20000),
			maxP99(cacheWarmNotify, 5*time.Millisecond),
			maxRSS(300 << 20),
		},
	}, nil
}
