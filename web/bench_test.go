package web

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// ask sends the server's Fiber handler a GET of uri without a socket, as
// a client of localhost would (the server refuses a request without a
// valid Host), and returns the status.
func ask(handler fasthttp.RequestHandler, uri string) int {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetHost("localhost")
	handler(&ctx)
	return ctx.Response.StatusCode()
}

// BenchmarkItemsUncached asks for a page of six villages, the size of the
// average page of the load run's GeoJSON scenario, with the answer cache
// off: the handler, the page's statement and the answer, without a
// socket.
func BenchmarkItemsUncached(b *testing.B) {
	pool := pgtest.New(b)
	s := New(Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20}, pool,
		tiles.NewService(tiles.Config{}, pool), slog.New(slog.DiscardHandler))
	handler := s.App().Handler()
	const page = "/collections/villages/items?bbox=106.5,27.7,106.6,27.8&limit=1000"
	b.ReportAllocs()
	for b.Loop() {
		if status := ask(handler, page); status != fiber.StatusOK {
			b.Fatalf("status %d, want 200", status)
		}
	}
}

// BenchmarkTileWarm asks the server, through its Fiber handler without a
// socket, for a tile already in its cache: the data-version read (strict
// mode), the cache lookup and the response, no tile SQL.
func BenchmarkTileWarm(b *testing.B) {
	pool := pgtest.New(b)
	s := New(Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20, TileCacheBytes: 64 << 20}, pool,
		tiles.NewService(tiles.Config{}, pool), slog.New(slog.DiscardHandler))
	handler := s.App().Handler()
	const tile = "/tiles/battlemap/12/3264/1719.mvt"
	if status := ask(handler, tile); status != fiber.StatusOK {
		b.Fatalf("first tile: status %d, want 200", status)
	}
	b.ReportAllocs()
	for b.Loop() {
		if status := ask(handler, tile); status != fiber.StatusOK {
			b.Fatalf("status %d, want 200", status)
		}
	}
	// A miss inside the loop would mean this measured tile SQL, not the cache.
	if st := s.tileCache.Stats(); st.Misses != 1 {
		b.Fatalf("%d cache misses, want the first request's only", st.Misses)
	}
}

// BenchmarkSuitability measures 习水县's suitability (4,722 cells, over
// the factor fixture) at each step, the statements alone through pgx
// (raw: no HTTP, no cache) beside the server's handler with its answer
// cache off (uncached) or warm (cached):
//
//   - cells: computing the county's cells, which a change to the factor
//     tables makes every request after it pay once (cold);
//   - surface: scoring the cells and writing them as GeoJSON, the cells
//     current (warm), and cold: after a change to the factors;
//   - candidates: the greedy search for 5 sites, cells current.
func BenchmarkSuitability(b *testing.B) {
	const county = "520330"
	pool := pgtest.New(b)
	pgtest.FactorFixture(b, pool, county)
	log := slog.New(slog.DiscardHandler)
	uncached := New(Config{RequestTimeout: 30 * time.Second, BodyLimit: 1 << 20}, pool, tiles.NewService(tiles.Config{}, pool), log).App().Handler()
	cached := New(Config{RequestTimeout: 30 * time.Second, BodyLimit: 1 << 20, CacheBytes: 64 << 20}, pool,
		tiles.NewService(tiles.Config{}, pool), log).App().Handler()
	p := geo.Defaults(geo.SuitabilityParams)
	ctx := context.Background()
	// stale makes the county's cells stale, as a change to a factor table does.
	stale := func(b *testing.B) {
		b.StopTimer()
		if _, err := pool.Exec(ctx, `UPDATE suitability_factors SET version = version + 1`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	get := func(h fasthttp.RequestHandler, uri string) func(b *testing.B) {
		return func(b *testing.B) {
			if status := ask(h, uri); status != fiber.StatusOK {
				b.Fatalf("%s: status %d, want 200", uri, status)
			}
		}
	}
	const surface = "/api/suitability?county=" + county
	const candidates = "/api/suitability/candidates?county=" + county + "&n=5"
	for _, bm := range []struct {
		name string
		cold bool
		run  func(b *testing.B)
	}{
		{"cells/raw/cold", true, func(b *testing.B) {
			if _, err := pool.Exec(ctx, `SELECT suitability_refresh($1)`, county); err != nil {
				b.Fatal(err)
			}
		}},
		{"surface/raw/cold", true, func(b *testing.B) {
			if _, err := geo.SuitabilitySurface(ctx, pool, county, p); err != nil {
				b.Fatal(err)
			}
		}},
		{"surface/raw/warm", false, func(b *testing.B) {
			if _, err := geo.SuitabilitySurface(ctx, pool, county, p); err != nil {
				b.Fatal(err)
			}
		}},
		{"surface/uncached/cold", true, get(uncached, surface)},
		{"surface/uncached/warm", false, get(uncached, surface)},
		{"surface/cached", false, get(cached, surface)},
		{"candidates/raw/warm", false, func(b *testing.B) {
			if _, err := geo.SuitabilityCandidates(ctx, pool, county, p, 5, 3000); err != nil {
				b.Fatal(err)
			}
		}},
		{"candidates/uncached/warm", false, get(uncached, candidates)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			bm.run(b) // the cells current, the cache filled: warm from the start
			b.ReportAllocs()
			for b.Loop() {
				if bm.cold {
					stale(b)
				}
				bm.run(b)
			}
		})
	}
}
