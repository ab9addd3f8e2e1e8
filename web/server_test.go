package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envServe); addr != "" {
		os.Exit(serveProcess(addr, os.Getenv(envServeDB)))
	}
	pgtest.Main(m)
}

// newServer builds the server over pool as battlemap serve does, with a
// tile cache and an API cache of cacheBytes each (0: both off) that read
// data versions strictly.
func newServer(t *testing.T, pool *pgxpool.Pool, cacheBytes int64) *web.Server {
	t.Helper()
	return newServerWith(t, pool, cacheBytes, pgtest.Versions(t, pool, "query"))
}

// newServerWith is newServer whose caches learn data versions from
// versions.
func newServerWith(t *testing.T, pool *pgxpool.Pool, cacheBytes int64, versions *geo.Versions) *web.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := tiles.NewService(tiles.Config{}, pool)
	return web.New(web.Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20, CacheBytes: cacheBytes, TileCacheBytes: cacheBytes,
		Versions: versions}, pool, ts, log)
}

// get sends a request through the Fiber app and decodes a JSON body.
func get(t *testing.T, s *web.Server, path string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, path, nil), 10_000)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", path, err)
	}
	return resp, body
}

func TestHealthAndReadiness(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		path   string
		status int
		field  string
		want   any
	}{
		{"/healthz", 200, "status", "ok"},
		{"/readyz", 200, "status", "ready"},
		{"/readyz", 200, "database", "ok"},
	}
	for _, tt := range tests {
		resp, body := get(t, s, tt.path)
		if resp.StatusCode != tt.status || body[tt.field] != tt.want {
			t.Errorf("GET %s: got %d %s=%v, want %d %v", tt.path, resp.StatusCode, tt.field, body[tt.field], tt.status, tt.want)
		}
	}
}

// TestReadyzSchemaBehind checks that a database whose schema is older than
// the binary's is reported not ready.
func TestReadyzSchemaBehind(t *testing.T) {
	pool := pgtest.New(t)
	if _, err := pool.Exec(context.Background(), `UPDATE schema_version SET version = 0`); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, pool, 0)
	resp, body := get(t, s, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || body["status"] != "not_ready" {
		t.Errorf("got %d %v, want 503 not_ready", resp.StatusCode, body)
	}
}

// TestUnknownRouteIsProblemJSON checks the one error handler's shape.
func TestUnknownRouteIsProblemJSON(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	resp, body := get(t, s, "/no/such/thing")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if body["status"] != float64(404) || body["title"] != "Not Found" || body["detail"] == "" {
		t.Errorf("body %v, want a problem with status, title and detail", body)
	}
}

// TestPagesServed: a browser asking for / gets the drill-down app, with
// its own state in the query string, and the other pages are there too.
func TestPagesServed(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tt := range []struct{ path, want string }{
		{"/", "drill.js"},
		{"/?region=520322&status=not_exited", "drill.js"},
		{"/wall", "wall.js"},
		{"/planner", "planner.js"},
		{"/static/common.js", "export async function createMap"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := do(t, s, tt.path, map[string]string{"Accept": browser})
			if resp.StatusCode != 200 || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d (%d bytes), want 200 with %q", resp.StatusCode, len(body), tt.want)
			}
			etag := resp.Header.Get("ETag")
			if resp, _ := do(t, s, tt.path, map[string]string{"Accept": browser, "If-None-Match": etag}); resp.StatusCode != 304 {
				t.Errorf("revalidation with %s: got %d, want 304", etag, resp.StatusCode)
			}
		})
	}
	if resp, _ := do(t, s, "/fonts/Noto%20Sans%20CJK%20SC%20Regular/0-255.pbf", nil); resp.StatusCode != 200 {
		t.Errorf("glyph range: got %d, want 200", resp.StatusCode)
	}
}
