package web

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// TestTileCacheKeepsOtherCounties: an edit in one county leaves the
// cached tiles that cover only other counties valid (a hit), and makes
// those that cover it be drawn again (a miss), in both version modes.
func TestTileCacheKeepsOtherCounties(t *testing.T) {
	for _, mode := range []string{"query", "notify"} {
		t.Run(mode, func(t *testing.T) {
			pool := pgtest.New(t)
			ctx := context.Background()
			versions := pgtest.Versions(t, pool, mode)
			s := New(Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20, TileCacheBytes: 64 << 20, Versions: versions},
				pool, tiles.NewService(tiles.Config{}, pool), slog.New(slog.DiscardHandler))
			handler := s.App().Handler()
			snap, err := versions.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// covers lists the counties whose box meets the tile of a
			// village's point, at zoom 11, as the stamp does.
			type village struct {
				code string
				tile maptile.Tile
			}
			covers := func(v village) []string {
				var out []string
				for _, c := range snap.Counties {
					b := v.tile.Bound()
					d := (b.Max[0] - b.Min[0]) / tileMarginFraction
					if c.Box.Intersects(orb.Bound{Min: orb.Point{b.Min[0] - d, b.Min[1] - d}, Max: orb.Point{b.Max[0] + d, b.Max[1] + d}}) {
						out = append(out, c.Code)
					}
				}
				return out
			}
			rows, err := pool.Query(ctx, `SELECT v.code, ST_X(r.point), ST_Y(r.point) FROM villages v JOIN regions r USING (code) ORDER BY v.code`)
			if err != nil {
				t.Fatal(err)
			}
			var all []village
			for rows.Next() {
				var code string
				var lon, lat float64
				if err := rows.Scan(&code, &lon, &lat); err != nil {
					t.Fatal(err)
				}
				all = append(all, village{code, maptile.At(orb.Point{lon, lat}, 11)})
			}
			// edited is a village whose tile covers one county; kept, one
			// whose tile does not cover that county.
			var edited, kept village
			for _, v := range all {
				if c := covers(v); len(c) == 1 && edited.code == "" {
					edited = v
				}
			}
			county := covers(edited)[0]
			for _, v := range all {
				if !slices.Contains(covers(v), county) {
					kept = v
					break
				}
			}
			if edited.code == "" || kept.code == "" {
				t.Fatal("no pair of villages whose tiles cover different counties")
			}
			url := func(v village) string {
				return fmt.Sprintf("/tiles/battlemap/%d/%d/%d.mvt", v.tile.Z, v.tile.X, v.tile.Y)
			}
			for _, v := range []village{edited, kept} {
				if status := ask(handler, url(v)); status != fiber.StatusOK {
					t.Fatalf("GET %s: %d", url(v), status)
				}
			}
			before := s.tileCache.Stats()
			if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, edited.code); err != nil {
				t.Fatal(err)
			}
			// Notified mode sees the change when its announcement arrives.
			deadline := time.Now().Add(5 * time.Second)
			for mode == "notify" && time.Now().Before(deadline) {
				if s2, _ := versions.Snapshot(ctx); s2 != nil && s2.Global > snap.Global {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			ask(handler, url(kept))
			afterKept := s.tileCache.Stats()
			ask(handler, url(edited))
			afterEdited := s.tileCache.Stats()
			if afterKept.Hits != before.Hits+1 {
				t.Errorf("the tile of %s, which covers no county the edit reached: not served from the cache (hits %d → %d)",
					kept.code, before.Hits, afterKept.Hits)
			}
			if afterEdited.Misses != afterKept.Misses+1 {
				t.Errorf("the tile of the edited village %s (county %s): served from the cache (misses %d → %d)",
					edited.code, county, afterKept.Misses, afterEdited.Misses)
			}
		})
	}
}

// TestDrillDownKeepsOtherCounties: an edit of a village leaves the kept
// drill-down answer of a county whose box does not meet the village's
// county valid, and a page of items within that county's box, and makes
// the village's county's drill-down be made again.
func TestDrillDownKeepsOtherCounties(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	versions := pgtest.Versions(t, pool, "query")
	s := New(Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20, CacheBytes: 64 << 20, Versions: versions},
		pool, tiles.NewService(tiles.Config{}, pool), slog.New(slog.DiscardHandler))
	handler := s.App().Handler()
	snap, err := versions.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var edited, kept geo.CountyVersion
	for _, a := range snap.Counties {
		for _, b := range snap.Counties {
			if !a.Box.Intersects(b.Box) && edited.Code == "" {
				edited, kept = a, b
			}
		}
	}
	if edited.Code == "" {
		t.Fatal("no two counties whose boxes do not meet")
	}
	var village string
	if err := pool.QueryRow(ctx, `SELECT min(code) FROM villages WHERE county_code = $1`, edited.Code).Scan(&village); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{edited.Code, kept.Code, edited.Code, kept.Code} { // the second time with their boxes known
		if status := ask(handler, "/api/regions/"+code); status != fiber.StatusOK {
			t.Fatalf("GET /api/regions/%s: %d", code, status)
		}
	}
	page := fmt.Sprintf("/collections/villages/items?bbox=%g,%g,%g,%g", kept.Box.Min[0], kept.Box.Min[1], kept.Box.Max[0], kept.Box.Max[1])
	if status := ask(handler, page); status != fiber.StatusOK {
		t.Fatalf("GET %s: %d", page, status)
	}
	before := s.cache.Stats()
	if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, village); err != nil {
		t.Fatal(err)
	}
	ask(handler, page)
	if st := s.cache.Stats(); st.Hits != before.Hits+1 {
		t.Errorf("a page of villages within county %s's box: made again after an edit in county %s", kept.Code, edited.Code)
	}
	before = s.cache.Stats()
	ask(handler, "/api/regions/"+kept.Code)
	afterKept := s.cache.Stats()
	ask(handler, "/api/regions/"+edited.Code)
	afterEdited := s.cache.Stats()
	if afterKept.Hits != before.Hits+1 {
		t.Errorf("county %s, whose box does not meet county %s: its answer was made again", kept.Code, edited.Code)
	}
	if afterEdited.Misses != afterKept.Misses+1 {
		t.Errorf("county %s, where the village was edited: its kept answer was served", edited.Code)
	}
}
