package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// serverOver builds a server with both caches off over pool, whose
// settings the caller chose, and cfg's other fields as given.
func serverOver(t *testing.T, pool *pgxpool.Pool, cfg web.Config) *web.Server {
	t.Helper()
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return web.New(cfg, pool, tiles.NewService(tiles.Config{}, pool), log)
}

// poolOf opens a pool on connString, closed when the test ends.
func poolOf(t *testing.T, connString string, tweak func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// problemOf sends req through s and decodes a problem+json answer.
func problemOf(t *testing.T, s *web.Server, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := s.App().Test(req, 15_000)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s %s: %d, Content-Type %q, want application/problem+json; body %s", req.Method, req.URL, resp.StatusCode, ct, body)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", req.Method, req.URL, err)
	}
	return resp, p
}

// TestDatabaseUnavailable is the hardening issue's finding 8: when the
// database cannot answer — its port refuses, a statement runs past
// statement_timeout, the backend serving the pool is terminated — the
// answer is 503 with Retry-After and a detail that names no database
// error, never a 500.
func TestDatabaseUnavailable(t *testing.T) {
	live := pgtest.New(t)
	tests := []struct {
		name  string
		path  string
		setup func(t *testing.T) *pgxpool.Pool
	}{
		{"connection refused", "/api/regions", func(t *testing.T) *pgxpool.Pool {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close() // nothing listens there now
			return poolOf(t, "postgres://battlemap@"+addr+"/battlemap?connect_timeout=2&sslmode=disable", nil)
		}},
		{"statement timeout", "/tiles/battlemap/5/25/13.mvt", func(t *testing.T) *pgxpool.Pool {
			return poolOf(t, live.Config().ConnString(), func(c *pgxpool.Config) {
				c.ConnConfig.RuntimeParams["statement_timeout"] = "1" // ms: no tile is that quick
			})
		}},
		{"backend terminated", "/api/regions/520300", func(t *testing.T) *pgxpool.Pool {
			pool := poolOf(t, live.Config().ConnString(), func(c *pgxpool.Config) { c.MaxConns = 1 })
			ctx := context.Background()
			if err := pool.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			// As an administrator or a crash would: the pool's idle
			// connection is cut under it.
			if _, err := live.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
				t.Fatal(err)
			}
			return pool
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serverOver(t, tt.setup(t), web.Config{})
			resp, p := problemOf(t, s, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if resp.StatusCode != http.StatusServiceUnavailable || p["status"] != float64(http.StatusServiceUnavailable) {
				t.Errorf("GET %s: status %d (%v), want 503; detail %v", tt.path, resp.StatusCode, p["status"], p["detail"])
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("GET %s: no Retry-After on the 503", tt.path)
			}
			if d, _ := p["detail"].(string); strings.Contains(d, "SQLSTATE") || strings.Contains(d, "dial") {
				t.Errorf("GET %s: detail %q shows the database's own error", tt.path, d)
			}
		})
	}
}

// serve serves s on a loopback port until the test ends and returns its
// address: some requests below are ones Go's client refuses to send, and
// some of Fiber's answers happen only on a real connection.
func serve(t *testing.T, s *web.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.App().Listener(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// raw sends request, bytes as they are, to addr and reads the answer.
func raw(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: reading the body: %v", request, err)
	}
	return resp, body
}

// TestForwardedHeaders is the hardening issue's finding 9: the scheme and
// host in the links of TileJSON (and the style and OGC documents, which
// share baseURL) come from X-Forwarded-* only when the request comes from
// a configured proxy, a Host that is no host is refused, a request without
// one gets the server's own address, and --public-url overrides it all.
func TestForwardedHeaders(t *testing.T) {
	pool := pgtest.New(t)
	const loopback = "127.0.0.1/32"
	tests := []struct {
		name      string
		trusted   []string
		publicURL string
		head      string // the request's header lines after the request line
		status    int
		want      string // the start of the TileJSON's tile URL; "self" is http://<the server's address>
	}{
		{"forwarded headers from anyone", nil, "",
			"Host: battlemap.test\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: javascript\r\n", 200, "http://battlemap.test/"},
		{"forwarded headers from another network", []string{"10.0.0.0/8"}, "",
			"Host: battlemap.test\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n", 200, "http://battlemap.test/"},
		{"forwarded headers from the trusted proxy", []string{loopback}, "",
			"Host: internal:8080\r\nX-Forwarded-Host: maps.example\r\nX-Forwarded-Proto: https\r\n", 200, "https://maps.example/"},
		{"a trusted proxy forwarding a scheme that is no web scheme", []string{loopback}, "",
			"Host: battlemap.test\r\nX-Forwarded-Proto: javascript\r\n", 400, ""},
		{"a trusted proxy forwarding a host that is no host", []string{loopback}, "",
			"Host: battlemap.test\r\nX-Forwarded-Host: evil.example/x?\r\n", 400, ""},
		{"a host that is a URL", nil, "", "Host: javascript://x\r\n", 400, ""},
		{"a host with a path", nil, "", "Host: evil.example/tiles\r\n", 400, ""},
		{"an IPv6 host", nil, "", "Host: [::1]:8080\r\n", 200, "http://[::1]:8080/"},
		{"no host", nil, "", "", 200, "self"},
		{"the public URL wins", []string{loopback}, "https://map.zunyi.example",
			"Host: battlemap.test\r\nX-Forwarded-Host: maps.example\r\n", 200, "https://map.zunyi.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, serverOver(t, pool, web.Config{TrustedProxies: tt.trusted, PublicURL: tt.publicURL}))
			resp, body := raw(t, addr, "GET /tiles/battlemap.json HTTP/1.1\r\n"+tt.head+"Connection: close\r\n\r\n")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			var tj struct{ Tiles []string }
			if err := json.Unmarshal(body, &tj); err != nil || len(tj.Tiles) == 0 {
				t.Fatalf("TileJSON %s: %v", body, err)
			}
			want := tt.want
			if want == "self" {
				want = "http://" + addr + "/"
			}
			if !strings.HasPrefix(tj.Tiles[0], want) {
				t.Errorf("tile URL %q, want it to start with %q", tj.Tiles[0], want)
			}
		})
	}
}

// TestProblemsEchoNothing is the hardening issue's finding 10: a request
// Fiber cannot parse is answered with a problem whose detail holds none
// of the request's bytes (the old answer quoted the raw request buffer,
// Authorization and Cookie included), and so is one for a path that does
// not exist.
func TestProblemsEchoNothing(t *testing.T) {
	addr := serve(t, serverOver(t, pgtest.New(t), web.Config{}))
	const secrets = "Authorization: Bearer s3cret-token\r\nCookie: session=s3cret-cookie\r\n"
	tests := []struct {
		name    string
		request string
		status  int
	}{
		{"header name with a space", "GET /healthz HTTP/1.1\r\nHost: battlemap.test\r\n" + secrets + "s3cret name: x\r\n\r\n", 400},
		{"folded header line", "GET /healthz HTTP/1.1\r\nHost: battlemap.test\r\n" + secrets + " s3cret-folded: x\r\n\r\n", 400},
		{"content length that is no number", "POST /healthz HTTP/1.1\r\nHost: battlemap.test\r\n" + secrets + "Content-Length: s3cret\r\n\r\n", 400},
		// The Bearer token is checked before the path: an invalid one is 401.
		{"path that does not exist", "GET /s3cret/<script> HTTP/1.1\r\nHost: battlemap.test\r\n" + secrets + "Connection: close\r\n\r\n", 401},
		{"path that does not exist, no token", "GET /s3cret/<script> HTTP/1.1\r\nHost: battlemap.test\r\nCookie: session=s3cret-cookie\r\nConnection: close\r\n\r\n", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := raw(t, addr, tt.request)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "script") {
				t.Errorf("the answer echoes the request: %s", body)
			}
		})
	}
}

// TestPageHeaders is the hardening issue's finding 11: every answer, the
// pages' first, carries a Content-Security-Policy, nosniff, a frame ban
// and a referrer policy; reads are open to other origins (CORS, for
// MapLibre pages elsewhere) and nothing else is; a method the server
// does not take, known to Fiber or not, is a 405 problem with Allow.
func TestPageHeaders(t *testing.T) {
	addr := serve(t, serverOver(t, pgtest.New(t), web.Config{}))
	const browser = "Accept: text/html\r\n"
	tests := []struct {
		name, request string
		status        int
		allow         string // the Allow header a 405 names
		cors          bool   // whether Access-Control-Allow-Origin is *
	}{
		{"the drill-down page", "GET / HTTP/1.1\r\n" + browser, 200, "", true},
		{"the wall", "GET /wall HTTP/1.1\r\n" + browser, 200, "", true},
		{"a tile", "GET /tiles/battlemap/5/25/13.mvt HTTP/1.1\r\n", 200, "", true},
		{"the style", "GET /style.json HTTP/1.1\r\nOrigin: https://elsewhere.example\r\n", 200, "", true},
		{"a missing page", "GET /nowhere HTTP/1.1\r\n", 404, "", true},
		{"an unknown method", "BREW /tiles/battlemap.json HTTP/1.1\r\n", 405, "GET, HEAD", false},
		{"a method Fiber knows on a read", "DELETE /collections/villages HTTP/1.1\r\n", 405, "GET, HEAD", false},
		{"a preflight", "OPTIONS /tiles/battlemap.json HTTP/1.1\r\nOrigin: https://elsewhere.example\r\nAccess-Control-Request-Method: GET\r\n", 405, "GET, HEAD", false},
		{"a read of the import", "GET /api/import/sites HTTP/1.1\r\n", 405, "POST", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := raw(t, addr, tt.request+"Host: battlemap.test\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			for _, h := range []struct{ name, want string }{
				{"X-Content-Type-Options", "nosniff"},
				{"X-Frame-Options", "DENY"},
				{"Referrer-Policy", "no-referrer"},
			} {
				if got := resp.Header.Get(h.name); got != h.want {
					t.Errorf("%s %q, want %q", h.name, got, h.want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
				!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "worker-src 'self' blob:") {
				t.Errorf("Content-Security-Policy %q, want self only, no framing, MapLibre's blob: workers", csp)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); (got == "*") != tt.cors {
				t.Errorf("Access-Control-Allow-Origin %q, want * only on reads (%v)", got, tt.cors)
			}
			if tt.status == 405 {
				if got := resp.Header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				if strings.Contains(string(body), "BREW") {
					t.Errorf("the problem echoes the method: %s", body)
				}
			}
		})
	}
}

// TestBodiesRefused is the hardening issue's findings 1 and 2 at the
// door (TestBodiesBoundMemory in cmd/battlemap measures the memory): a
// body sent where none belongs is 413 without being read, and the import
// takes one gzip layer at most, limited on the decoded bytes.
func TestBodiesRefused(t *testing.T) {
	const limit = 64 << 10
	pool := pgtest.New(t)
	addr := serve(t, serverOver(t, pool, web.Config{BodyLimit: limit, ImportEnabled: true}))
	token := adminToken(t, pool)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	inflating := gz(make([]byte, 4*limit)) // a few hundred bytes, four times the limit decoded
	tests := []struct {
		name, path string
		encoding   []string
		body       []byte
		status     int
	}{
		{"a body to /healthz", "/healthz", nil, []byte("{}"), 413},
		{"a body to a tile", "/tiles/battlemap/0/0/0.mvt", nil, []byte("x"), 413},
		{"gzip twice", "/api/import/sites", []string{"gzip, gzip"}, gz(inflating), 415},
		{"gzip in two headers", "/api/import/sites", []string{"gzip", "gzip"}, gz(inflating), 415},
		{"deflate", "/api/import/sites", []string{"deflate"}, inflating, 415},
		{"gzip over the limit decoded", "/api/import/sites", []string{"gzip"}, inflating, 413},
		{"gzip that is not gzip", "/api/import/sites", []string{"gzip"}, []byte("{}"), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+tt.path, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/geo+json")
			req.Header.Set("Authorization", "Bearer "+token)
			if tt.encoding != nil {
				req.Header["Content-Encoding"] = tt.encoding
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("status %d %s, want %d problem+json; body %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, body)
			}
		})
	}
}

// TestImportReportsSpeakGeoJSON is the other half of finding 10: the
// reasons an import report gives are in the file's terms, never Go's
// type names or a library's error text.
func TestImportReportsSpeakGeoJSON(t *testing.T) {
	pool := pgtest.New(t)
	addr := serve(t, serverOver(t, pool, web.Config{ImportEnabled: true}))
	const file = `{"type":"FeatureCollection","features":[
		{"type":"Feature","geometry":"here","properties":{}},
		{"type":"Feature","geometry":null,"properties":[1]},
		{"type":7,"geometry":null,"properties":{}},
		{"type":"Feature","geometry":{"type":"Point","coordinates":"x"},"properties":{}},
		{"type":"Feature","geometry":{"type":"Point","coordinates":[1]},"properties":{}},
		{"type":"Feature","geometry":{"type":"Blob","coordinates":[1,2]},"properties":{}},
		{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,2],[1]]},"properties":{}}]}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/import/sites", strings.NewReader(file))
	req.Header.Set("Content-Type", "application/geo+json")
	req.Header.Set("Authorization", "Bearer "+adminToken(t, pool))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Report struct {
			Rejected []struct{ Reason string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 400 {
		t.Fatalf("status %d (%v), want 400 with a report", resp.StatusCode, err)
	}
	if len(p.Report.Rejected) < 7 {
		t.Errorf("%d rejections, want one for each of the 7 features at least", len(p.Report.Rejected))
	}
	for _, r := range p.Report.Rejected {
		for _, leak := range []string{"Go ", "interface", "map[", "geom.", "json:", "geojson:", "float64", "stride"} {
			if strings.Contains(r.Reason, leak) {
				t.Errorf("reason %q speaks of %q", r.Reason, leak)
			}
		}
	}
}

// TestLoginLimitBehindProxy: sign-in failures are counted by the address
// a trusted proxy says in X-Real-IP, so that clients behind one proxy do
// not share its address's limit; from anyone else X-Real-IP is ignored,
// or it would let a guesser take a new address for every attempt.
func TestLoginLimitBehindProxy(t *testing.T) {
	pool := pgtest.New(t)
	tests := []struct {
		name    string
		trusted []string
		want    int // the status of a failure from one more address past the per-address limit
	}{
		{"through the trusted proxy: each client its own limit", []string{"127.0.0.1/32"}, http.StatusUnauthorized},
		{"from a client saying X-Real-IP itself: one address", nil, http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, serverOver(t, pool, web.Config{TrustedProxies: tt.trusted}))
			status := 0
			for i := range 21 {
				body := fmt.Sprintf(`{"name":"nobody%d","token":"bm_0000000000000000_wrong"}`, i)
				resp, _ := raw(t, addr, fmt.Sprintf("POST /api/login HTTP/1.1\r\nHost: battlemap.test\r\nX-Real-IP: 198.51.100.%d\r\n"+
					"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", i+1, len(body), body))
				status = resp.StatusCode
			}
			if status != tt.want {
				t.Errorf("the 21st failure, from its own X-Real-IP: %d, want %d", status, tt.want)
			}
		})
	}
}
