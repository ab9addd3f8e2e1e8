package web

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"
	"github.com/valyala/fasthttp"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// samplePage is a page of six villages with every property set, the size
// of the average page in the load run's GeoJSON scenario.
func samplePage() *geo.Page {
	coll, _ := geo.CollectionByID("villages")
	p := &geo.Page{Matched: 6, TimeStamp: time.Now()}
	for i := 0; i < 6; i++ {
		vals := make([]any, len(coll.Columns))
		for j, c := range coll.Columns {
			switch c.Type {
			case "string":
				vals[j] = "花茂村民委员会"
			case "integer":
				vals[j] = int64(1234)
			case "number":
				vals[j] = 12.345
			case "boolean":
				vals[j] = true
			}
		}
		p.Features = append(p.Features, geo.Feature{ID: "520302001001", Geometry: orb.Point{106.123456, 27.654321}, Properties: geo.Record{Columns: coll.Columns, Values: vals}})
	}
	return p
}

// BenchmarkEncodeItems is the encoding of an items page, without the
// query or HTTP around it.
func BenchmarkEncodeItems(b *testing.B) {
	p := samplePage()
	links := []link{{"http://x/collections/villages/items?bbox=1,2,3,4&limit=1000", "self", geoJSONType, "this page"}, {"http://x/collections/villages/items?bbox=1,2,3,4&limit=1000&f=csv", "alternate", csvType, "csv"}, {"http://x/collections/villages", "collection", "application/json", "Villages"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeItems(p, links); err != nil {
			b.Fatal(err)
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
	ask := func() int {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/tiles/battlemap/12/3264/1719.mvt")
		handler(&ctx)
		return ctx.Response.StatusCode()
	}
	if status := ask(); status != fiber.StatusOK {
		b.Fatalf("first tile: status %d, want 200", status)
	}
	b.ReportAllocs()
	for b.Loop() {
		if status := ask(); status != fiber.StatusOK {
			b.Fatalf("status %d, want 200", status)
		}
	}
	// A miss inside the loop would mean this measured tile SQL, not the cache.
	if st := s.tileCache.Stats(); st.Misses != 1 {
		b.Fatalf("%d cache misses, want the first request's only", st.Misses)
	}
}
