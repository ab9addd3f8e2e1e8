package web

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

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
