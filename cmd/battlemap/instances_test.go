package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestTwoInstancesStayConsistent runs two battlemap processes over one
// database, as the server's own role: a PATCH through A reaches an event
// stream open on B within two seconds, and B, asked right after the
// PATCH's answer, serves neither the tile (bytes and ETag) nor the
// feature as they were before it, though it had both cached. Before the
// PATCH and after it, A and B answer the same requests alike (sameAnswers).
func TestTwoInstancesStayConsistent(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + pgtest.AppURL(t, pool)}
	a := startServer(t, env, "--log-level", "error")
	b := startServer(t, env, "--log-level", "error")
	a.waitReady(t, 30*time.Second)
	b.waitReady(t, 30*time.Second)
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "admin", Role: account.Admin}); err != nil {
		t.Fatal(err)
	}
	token, err := account.Create(ctx, pool, "admin", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	var village string
	var lon, lat float64
	if err := pool.QueryRow(ctx, `SELECT r.code, ST_X(r.point), ST_Y(r.point) FROM regions r
WHERE r.level = 'village' AND r.poverty_status = 'not_exited' ORDER BY r.code LIMIT 1`).Scan(&village, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	tl := maptile.At(orb.Point{lon, lat}, 12)
	tile := fmt.Sprintf("/tiles/villages/%d/%d/%d.mvt", tl.Z, tl.X, tl.Y)
	item := "/collections/villages/items/" + village
	get := func(s *server, path string) ([]byte, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body, resp.Header.Get("ETag")
	}
	paths := []string{tile, item, "/collections/villages/items?bbox=106.8,27.6,107.0,27.8&limit=5", "/collections",
		"/api/regions", "/api/regions/520300", "/api/search?q=" + village, "/tiles/villages.json", "/style.json", "/legend.json",
		"/api/regions/520300/funds", "/api/version"}
	sameAnswers(t, a, b, paths)
	tileBefore, tileETag := get(b, tile)
	itemBefore, _ := get(b, item)
	get(b, tile) // now from B's cache

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, "http://"+b.addr+"/api/events", nil)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	arrived := make(chan time.Time, 10)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"feature" : "`+village+`"`) ||
				strings.Contains(sc.Text(), `"feature":"`+village+`"`) {
				arrived <- time.Now()
			}
		}
	}()

	_, etag := get(a, item)
	status, body := a.exitVillage(t, item, etag, token)
	committed := time.Now()
	if status != http.StatusOK {
		t.Fatalf("PATCH through A: %d %s", status, body)
	}
	if tileAfter, etag := get(b, tile); bytes.Equal(tileAfter, tileBefore) || etag == tileETag {
		t.Errorf("B served the tile of %s as it was before the PATCH committed through A (ETag %s, before %s)", village, etag, tileETag)
	}
	if itemAfter, _ := get(b, item); bytes.Equal(itemAfter, itemBefore) || !bytes.Contains(itemAfter, []byte(`"exited"`)) {
		t.Errorf("B served the village as it was before the PATCH: %s", itemAfter)
	}
	select {
	case at := <-arrived:
		t.Logf("PATCH through A → event on B: %s", at.Sub(committed))
	case <-time.After(2 * time.Second):
		t.Error("no event for the village on B's stream within 2 s of the PATCH through A")
	}
	sameAnswers(t, a, b, paths)
	a.stop(t)
	b.stop(t)
}

// pageTime is the time a page of features says it was read (OGC API's
// timeStamp): the one part of an answer that is the instance's own.
var pageTime = regexp.MustCompile(`"timeStamp":"[^"]*"`)

// sameAnswers asks a and b for each of paths, gzipped as browsers ask
// and under one Host as a reverse proxy in front of both would, and
// fails unless both answer with the same status, the same header but for
// Date (and a page's ETag when its timeStamp differs), and the same bytes
// but for a page's timeStamp.
func sameAnswers(t *testing.T, a, b *server, paths []string) {
	t.Helper()
	fetch := func(s *server, path string) (int, http.Header, []byte, []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+path, nil)
		req.Host = "map.example.org"
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		resp.Header.Del("Date")
		return resp.StatusCode, resp.Header, pageTime.ReplaceAll(body, []byte(`"timeStamp":"…"`)), pageTime.Find(body)
	}
	for _, p := range paths {
		sa, ha, ba, ta := fetch(a, p)
		sb, hb, bb, tb := fetch(b, p)
		// A page's ETag is its bytes', its timeStamp with them: pages
		// the two read in different seconds are rightly tagged apart.
		if !bytes.Equal(ta, tb) {
			ha.Del("ETag")
			hb.Del("ETag")
		}
		if sa != sb || !bytes.Equal(ba, bb) || fmt.Sprint(ha) != fmt.Sprint(hb) {
			t.Errorf("GET %s: A and B differ:\nA %d %v\n%.300s\nB %d %v\n%.300s", p, sa, ha, ba, sb, hb, bb)
		}
	}
}
