package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestAPICacheFollowsDataVersion asks, through the API cache, for answers
// that show 花茂村's poor population, changes it with plain SQL, and
// expects every answer to show the new figure: at once when versions are
// read per request, as soon as the notification arrives when they are
// heard. Before the change, a client's ETag earns a 304; after it, a 200
// with a new ETag.
func TestAPICacheFollowsDataVersion(t *testing.T) {
	paths := []string{
		"/collections/villages/items?township=520304116",
		"/collections/villages/items?township=520304116&f=csv",
		"/collections/villages/items/520304116203",
		"/api/regions/520304116203",
	}
	for _, mode := range []string{"query", "notify"} {
		t.Run(mode, func(t *testing.T) {
			pool := pgtest.New(t)
			ctx := context.Background()
			s := newServerWith(t, pool, 32<<20, pgtest.Versions(t, pool, mode))
			people := count(t, pool, `SELECT poor_population FROM villages WHERE code = '520304116203'`)
			figure := func(n int64) string { return `"poor_population":` + strconv.FormatInt(n, 10) }
			cell := func(n int64) string { return "," + strconv.FormatInt(n, 10) + "," }
			etags := map[string]string{}
			for _, p := range paths {
				resp, body := do(t, s, p, nil)
				etags[p] = resp.Header.Get("ETag")
				if resp.StatusCode != 200 || etags[p] == "" || resp.Header.Get("Cache-Control") != "no-cache" {
					t.Fatalf("GET %s: %d, ETag %q, Cache-Control %q; want 200 with an ETag and no-cache",
						p, resp.StatusCode, etags[p], resp.Header.Get("Cache-Control"))
				}
				if again, _ := do(t, s, p, map[string]string{"If-None-Match": etags[p]}); again.StatusCode != 304 {
					t.Errorf("GET %s with its ETag: %d, want 304", p, again.StatusCode)
				}
				if !strings.Contains(string(body), figure(people)) && !strings.Contains(string(body), cell(people)) {
					t.Errorf("GET %s does not show %d poor people: %s", p, people, body)
				}
			}
			if _, err := pool.Exec(ctx, `UPDATE villages SET poor_population = poor_population + 7 WHERE code = '520304116203'`); err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				var resp, body = do(t, s, p, map[string]string{"If-None-Match": etags[p]})
				for deadline := time.Now().Add(2 * time.Second); mode == "notify" && resp.StatusCode == 304 && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
					resp, body = do(t, s, p, map[string]string{"If-None-Match": etags[p]})
				}
				if resp.StatusCode != 200 || resp.Header.Get("ETag") == etags[p] {
					t.Errorf("GET %s after the change: %d with ETag %s, want 200 and a new ETag", p, resp.StatusCode, resp.Header.Get("ETag"))
				}
				if !strings.Contains(string(body), figure(people+7)) && !strings.Contains(string(body), cell(people+7)) {
					t.Errorf("GET %s after the change does not show %d poor people: %s", p, people+7, body)
				}
			}
		})
	}
}

// TestAPICacheAnswers: a cached answer is the same whatever the cache
// (gzip included), keeps its headers, depends on the host it was asked
// at, and errors are answered, not kept.
func TestAPICacheAnswers(t *testing.T) {
	pool := pgtest.New(t)
	cached, uncached := newServer(t, pool, 32<<20), newServer(t, pool, 0)
	const page = "/collections/sites/items?limit=3"
	_, want := do(t, uncached, page, nil)
	for i := range 2 { // a miss, then a hit
		resp, body := do(t, cached, page, nil)
		if !bytes.Equal(withoutTimeStamp(body), withoutTimeStamp(want)) || resp.Header.Get("Content-Type") != "application/geo+json" {
			t.Fatalf("request %d: %s %s, want the uncached answer %s", i, resp.Header.Get("Content-Type"), body, want)
		}
	}
	resp, zipped := do(t, cached, page, map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("with Accept-Encoding gzip: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	if unzipped, _ := io.ReadAll(zr); !bytes.Equal(withoutTimeStamp(unzipped), withoutTimeStamp(want)) {
		t.Errorf("gzipped answer differs: %s", unzipped)
	}

	const csvPage = "/collections/sites/items?limit=3&f=csv"
	for range 2 {
		resp, _ := do(t, cached, csvPage, nil)
		if !strings.Contains(resp.Header.Get("Link"), `rel="next"`) || !strings.Contains(resp.Header.Get("Content-Disposition"), "sites.csv") {
			t.Errorf("CSV page: Link %q, Content-Disposition %q; want both kept with the body", resp.Header.Get("Link"), resp.Header.Get("Content-Disposition"))
		}
	}

	_, a := do(t, cached, page, map[string]string{"Host": "a.example"})
	_, b := do(t, cached, page, map[string]string{"Host": "b.example"})
	if !strings.Contains(string(a), "http://a.example/") || !strings.Contains(string(b), "http://b.example/") {
		t.Errorf("links must follow the host asked at; got %.200s and %.200s", a, b)
	}

	for range 2 {
		if resp, _ := do(t, cached, "/api/regions/999999", nil); resp.StatusCode != 404 {
			t.Errorf("unknown region: %d, want 404 every time", resp.StatusCode)
		}
	}
}

// withoutTimeStamp drops an items page's timeStamp, the one member that
// differs between two answers made from the same data.
func withoutTimeStamp(body []byte) []byte {
	return regexp.MustCompile(`"timeStamp":"[^"]*"`).ReplaceAll(body, nil)
}
