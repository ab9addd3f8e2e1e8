package web_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// largePage is a page of 10,000 sites: far more than any answer made
// whole (about 4 MB of GeoJSON).
const largePage = "/collections/sites/items?limit=10000"

// addSites inserts n synthetic sites, on a grid over the city, so that
// the sites collection holds a page of any size.
func addSites(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO sites (code, name, type, county_code, geom, capacity_households, capacity_people, progress, status)
		SELECT '520302-T' || lpad(i::text, 5, '0'), '测试安置点' || i, 'town', '520302',
			ST_SetSRID(ST_MakePoint(106.5 + (i % 100) * 0.01, 27.5 + (i / 100) * 0.01), 4326), 10, 30, 0, 'planned'
		FROM generate_series(1, $1::int) i`, n)
	if err != nil {
		t.Fatal(err)
	}
}

// page is an items page as a client reads it.
type page struct {
	NumberMatched  *int64 `json:"numberMatched"` // nil when left out
	NumberReturned int64  `json:"numberReturned"`
	Links          []struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	} `json:"links"`
	Features []struct {
		ID string `json:"id"`
	} `json:"features"`
}

// fetch GETs url with the header pairs given, from a client that asks for
// no compression of its own accord.
func fetch(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp
}

// TestItemsStreamLargePage asks for a page of 10,000 features: it comes
// whole and right (every feature once, in id order, with the link to the
// next page, and without numberMatched: more match than geo.MaxMatched),
// streamed (chunked, without an ETag), gzipped when asked for, and the
// server allocates far less than the page while sending it.
func TestItemsStreamLargePage(t *testing.T) {
	pool := pgtest.New(t)
	addSites(t, pool, 10_000)
	all := ids(t, pool, featureIDs["sites"])
	base := listen(t, pool)

	check := func(t *testing.T, body io.Reader) {
		t.Helper()
		var p page
		if err := json.NewDecoder(body).Decode(&p); err != nil {
			t.Fatalf("the page is not JSON: %v", err)
		}
		var got []string
		for _, f := range p.Features {
			got = append(got, f.ID)
		}
		if len(all) <= geo.MaxMatched {
			t.Fatalf("%d sites: the page must hold more than geo.MaxMatched", len(all))
		}
		if p.NumberMatched != nil || p.NumberReturned != 10_000 || !slices.Equal(got, all[:10_000]) {
			t.Errorf("numberMatched %v, numberReturned %d, %d features; want none (more than %d match), 10000, the first 10000 sites in id order",
				p.NumberMatched, p.NumberReturned, len(got), geo.MaxMatched)
		}
		next := ""
		for _, l := range p.Links {
			if l.Rel == "next" {
				next = l.Href
			}
		}
		if u, err := url.Parse(next); err != nil || u.Query().Get("cursor") != all[9_999] {
			t.Errorf("next link %q, want the cursor %s", next, all[9_999])
		}
	}

	t.Run("whole and streamed", func(t *testing.T) {
		resp := fetch(t, base+largePage)
		if resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.Header.Get("ETag") != "" {
			t.Errorf("Content-Length %d, Transfer-Encoding %v, ETag %q; want a chunked answer without an ETag",
				resp.ContentLength, resp.TransferEncoding, resp.Header.Get("ETag"))
		}
		check(t, resp.Body)
	})
	t.Run("gzipped", func(t *testing.T) {
		resp := fetch(t, base+largePage, "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		check(t, zr)
	})
	t.Run("in constant memory", func(t *testing.T) {
		// The server runs in this process: what the process allocates
		// while the page passes is the server's, but for the client's
		// little. A server that held the page would allocate it all.
		// (The same page, asked for in other words, so that no cache
		// could answer it.)
		buf := make([]byte, 64<<10)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := io.CopyBuffer(io.Discard, fetch(t, base+largePage+"&cursor=0").Body, buf)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d bytes allocated to send a page of %d", alloc, n)
		if alloc > uint64(n)/4 {
			t.Errorf("the server allocated %d bytes to send a page of %d: more than a quarter of it", alloc, n)
		}
	})
}

// TestItemsStreamStops: a large page is sent as the database writes it,
// so that a client that reads slowly holds the page's statement open; a
// client that leaves ends the statement and frees its connection at
// once, and a request whose time runs out (its write timeout is the
// request timeout and a margin) is cut: the client sees a broken answer,
// never a short one that looks whole.
func TestItemsStreamStops(t *testing.T) {
	pool := pgtest.New(t)
	addSites(t, pool, 10_000)
	// The page's statement is the one that begins with the count (whether
	// it is counted or not): only the start of a long statement's text is
	// in pg_stat_activity.
	running := func() int64 {
		return count(t, pool, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'SELECT x.matched, %'`)
	}
	tests := []struct {
		name    string
		timeout time.Duration
		leave   bool // the client closes its connection after the first bytes
	}{
		{"client leaves", 30 * time.Second, true},
		{"request time runs out", time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveWithTimeout(t, pool, tt.timeout)
			conn := slowReader(t, addr)
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", largePage, addr)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, 16<<10)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the page's statement to be running while the client has read 16 KiB of it", func() bool { return running() == 1 })
			if tt.leave {
				conn.Close()
			}
			waitFor(t, "the statement to end and its connection to be free", func() bool {
				return running() == 0 && pool.Stat().AcquiredConns() == 0
			})
			if tt.leave {
				return
			}
			if _, err := io.Copy(io.Discard, resp.Body); err == nil {
				t.Error("the page cut short by the timeout reads as whole")
			}
		})
	}
}

// serveWithTimeout serves the app over pool on a loopback port, with the
// API cache off, until the test ends, and returns its address.
func serveWithTimeout(t *testing.T, pool *pgxpool.Pool, timeout time.Duration) string {
	t.Helper()
	s := web.New(web.Config{RequestTimeout: timeout, BodyLimit: 1 << 20}, pool, tiles.NewService(tiles.Config{}, pool),
		slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.App().Listener(ln)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// slowReader connects to addr with a small receive buffer, which keeps the
// server from writing far ahead of what the client has read. It is closed
// when the test ends.
func slowReader(t *testing.T, addr string) net.Conn {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	conn, err := dialer.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitFor polls cond until it holds, for at most 15 seconds: half the
// longest request timeout of the tests, so that what a test with that
// timeout waits for cannot be the timeout's doing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
	}
}
