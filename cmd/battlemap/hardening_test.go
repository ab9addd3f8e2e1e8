package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// peakMemoryLimit is the most resident memory (VmHWM) battlemap serve may
// reach under the attacks below; it idles at about 40 MB, and its body
// limit is 64 MiB.
const peakMemoryLimit = 200 << 20

// gzipOf compresses what r reads; applied to its own output it makes a
// small body that inflates to gigabytes.
func gzipOf(r io.Reader) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	io.Copy(zw, r) // neither reader nor buffer fails
	zw.Close()
	return buf.Bytes()
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// peakRSS is the process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f := procStatus(t, pid, "VmHWM")
	kb, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || len(f) != 2 || f[1] != "kB" {
		t.Fatalf("VmHWM %q: want a number of kB", f)
	}
	return kb << 10
}

// procStatus is the fields of the line of /proc/pid/status named name.
func procStatus(t *testing.T, pid int, name string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return f
			}
		}
	}
	t.Fatalf("no %s line in /proc/%d/status", name, pid)
	return nil
}

// TestBodiesBoundMemory is the hardening issue's findings 1 and 2, tried
// on the real binary: a decompression bomb sent to the import and large
// bodies sent to an endpoint that takes none must leave the process's
// peak memory bounded, and be refused with the status named in each
// case. On the old server a 2 KB "gzip, gzip" body made it allocate
// 4 GB, and eight 60 MiB POSTs to /healthz took it to 574 MB.
func TestBodiesBoundMemory(t *testing.T) {
	pool := pgtest.New(t)
	s := startServer(t, []string{"DATABASE_URL=" + pool.Config().ConnString()}, "--enable-import", "--log-level", "error")
	s.waitReady(t, 30*time.Second)
	ctx := context.Background()
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "admin", Role: account.Admin}); err != nil {
		t.Fatal(err)
	}
	token, err := account.Create(ctx, pool, "admin", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}

	once := gzipOf(io.LimitReader(zeros{}, 1<<30)) // about 1 MB that inflates to 1 GiB
	twice := gzipOf(bytes.NewReader(once))         // about 2 KB that inflates to 1 GiB
	large := bytes.Repeat([]byte("x"), 60<<20)
	tests := []struct {
		name     string
		path     string
		encoding []string
		body     []byte
		parallel int
		status   []int // nil: the server may close the connection before the client has written it all
	}{
		{"gzip twice to the import", "/api/import/sites", []string{"gzip, gzip"}, twice, 1, []int{http.StatusUnsupportedMediaType}},
		{"gzip in two headers to the import", "/api/import/sites", []string{"gzip", "gzip"}, twice, 1, []int{http.StatusUnsupportedMediaType}},
		{"deflate to the import", "/api/import/sites", []string{"deflate"}, twice, 1, []int{http.StatusUnsupportedMediaType}},
		{"gzip inflating to 1 GiB to the import", "/api/import/sites", []string{"gzip"}, once, 4,
			// One import runs at a time; the others wait for it (503).
			[]int{http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable}},
		{"eight 60 MiB bodies to /healthz", "/healthz", nil, large, 8, nil},
		{"eight 60 MiB bodies to a tile", "/tiles/battlemap/0/0/0.mvt", nil, large, 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for i := 0; i < tt.parallel; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+tt.path, bytes.NewReader(tt.body))
					req.Header.Set("Content-Type", "application/geo+json")
					req.Header.Set("Authorization", "Bearer "+token)
					if tt.encoding != nil {
						req.Header["Content-Encoding"] = tt.encoding
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						if tt.status != nil {
							t.Errorf("POST %s: %v", tt.path, err)
						}
						return
					}
					defer resp.Body.Close()
					io.Copy(io.Discard, resp.Body)
					if tt.status != nil && !slices.Contains(tt.status, resp.StatusCode) {
						t.Errorf("POST %s: status %d, want one of %v", tt.path, resp.StatusCode, tt.status)
					}
					if resp.StatusCode < 400 {
						t.Errorf("POST %s: status %d, want a refusal", tt.path, resp.StatusCode)
					}
				}()
			}
			wg.Wait()
			peak := peakRSS(t, s.cmd.Process.Pid)
			if peak > peakMemoryLimit {
				t.Errorf("peak memory %d MB, want under %d MB", peak>>20, peakMemoryLimit>>20)
			}
			t.Logf("peak memory so far: %d MB", peak>>20)
		})
	}
	s.stop(t)
}
