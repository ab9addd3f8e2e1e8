package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/geo/terrain"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// importBodyLimit is the test servers' body limit, small enough to exceed.
const importBodyLimit = 64 << 10

// startImportServer serves a server with imports enabled or not on a
// loopback port until the test ends, and returns its address. It listens
// for real rather than using app.Test, which reports an oversized body as
// its own error instead of returning the 413 a client gets.
func startImportServer(t *testing.T, pool *pgxpool.Pool, enabled bool) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := tiles.NewService(tiles.Config{}, pool)
	return serve(t, web.New(web.Config{RequestTimeout: 10 * time.Second, BodyLimit: importBodyLimit, ImportEnabled: enabled}, pool, ts, log))
}

// postImport sends body to url as contentType with the Bearer token (none
// when "") and decodes the JSON answer.
func postImport(t *testing.T, url, token, contentType, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatalf("POST %s: body is not JSON: %v", url, err)
	}
	return resp, answer
}

// importState sums up the map data and the audit log, to tell whether a
// request changed anything.
func importState(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `
SELECT (SELECT md5(string_agg(md5(s::text), '' ORDER BY code)) FROM sites s)
       || ' v' || (SELECT version FROM data_version) || ' audit ' || (SELECT count(*) FROM audit_log)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	siteProps = `"code":"520302-S90","name":"新建安置点","type":"rural","county_code":"520302",` +
		`"capacity_households":100,"capacity_people":400,"progress":50,"status":"planned"`
	siteGeoJSON = `{"type":"FeatureCollection","features":[{"type":"Feature",` +
		`"geometry":{"type":"Point","coordinates":[106.9,27.64]},"properties":{` + siteProps + `}}]}`
	siteCSV = "code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
		"520302-S91,新建安置点,rural,520302,100,400,50,planned,106.9,27.64\n"
)

// TestImportDisabled checks that the endpoint answers 404 until it is
// enabled, and writes nothing.
func TestImportDisabled(t *testing.T) {
	pool := pgtest.New(t)
	addr := startImportServer(t, pool, false)
	token := adminToken(t, pool)
	before := importState(t, pool)
	resp, body := postImport(t, "http://"+addr+"/api/import/sites", token, "application/geo+json", siteGeoJSON)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(body["detail"].(string), "import is disabled") {
		t.Errorf("got %d %s %v, want 404 problem+json saying import is disabled", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if after := importState(t, pool); after != before {
		t.Errorf("map data changed: %s, want %s", after, before)
	}
}

// TestImportEndpoint checks the enabled endpoint's answers: the report on
// success, problem+json otherwise, with the database unchanged.
func TestImportEndpoint(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		status      int
		changes     bool
	}{
		{"GeoJSON", "/api/import/sites", "application/geo+json", siteGeoJSON, http.StatusOK, true},
		{"GeoJSON as plain JSON", "/api/import/sites", "application/json; charset=utf-8", siteGeoJSON, http.StatusOK, true},
		{"CSV", "/api/import/sites", "text/csv; charset=utf-8", siteCSV, http.StatusOK, true},
		{"rejected feature", "/api/import/sites", "application/geo+json", strings.Replace(siteGeoJSON, `"planned"`, `"lost"`, 1),
			http.StatusBadRequest, false},
		{"truncated JSON", "/api/import/sites", "application/geo+json", siteGeoJSON[:len(siteGeoJSON)-10], http.StatusBadRequest, false},
		{"unknown layer", "/api/import/rivers", "application/geo+json", siteGeoJSON, http.StatusNotFound, false},
		{"wrong content type", "/api/import/sites", "text/plain", siteCSV, http.StatusUnsupportedMediaType, false},
		{"no content type", "/api/import/sites", "", siteCSV, http.StatusUnsupportedMediaType, false},
	}
	pool := pgtest.New(t)
	addr := startImportServer(t, pool, true)
	token := adminToken(t, pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := importState(t, pool)
			resp, body := postImport(t, "http://"+addr+tt.path, token, tt.contentType, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tt.status)
			}
			if changed := importState(t, pool) != before; changed != tt.changes {
				t.Errorf("map data changed: %v, want %v", changed, tt.changes)
			}
			ct := resp.Header.Get("Content-Type")
			if tt.status == http.StatusOK {
				if !strings.HasPrefix(ct, "application/json") || body["layer"] != "sites" || body["received"] != float64(1) {
					t.Errorf("got %s %v, want a JSON report of one site received", ct, body)
				}
				return
			}
			if ct != "application/problem+json" || body["status"] != float64(tt.status) || body["detail"] == "" {
				t.Errorf("got %s %v, want problem+json with status %d and a detail", ct, body, tt.status)
			}
			if tt.status == http.StatusBadRequest {
				rejected, _ := body["report"].(map[string]any)["rejected"].([]any)
				if len(rejected) == 0 || rejected[0].(map[string]any)["reason"] == "" {
					t.Errorf("body %v, want a report listing the rejections with reasons", body)
				}
			}
		})
	}
}

// TestImportBodyTooLarge checks that a body over the limit is refused with
// 413 problem+json before it is read. It sends the request's head and the
// first 16 KiB of the body (the server reads a little over 8 KiB before a
// handler runs, since bodies are streamed): the server answers and closes the
// connection at once, so a client still writing the body may see a broken
// pipe instead of the answer.
func TestImportBodyTooLarge(t *testing.T) {
	pool := pgtest.New(t)
	token := adminToken(t, pool)
	before := importState(t, pool)
	conn, err := net.Dial("tcp", startImportServer(t, pool, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/import/sites HTTP/1.1\r\nHost: battlemap\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n",
		token, importBodyLimit+1)
	conn.Write(make([]byte, 16<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" ||
		body["status"] != float64(http.StatusRequestEntityTooLarge) {
		t.Errorf("got %d %s %v, want 413 problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if after := importState(t, pool); after != before {
		t.Errorf("map data changed: %s, want %s", after, before)
	}
}

// demTIFF is a GeoTIFF DEM of 100 × 100 terrain cells near the city's
// centre (or, with away, far outside the city), rising eastwards.
func demTIFF(t *testing.T, away bool) string {
	t.Helper()
	g := &terrain.Grid{Width: 100, Height: 100, OriginX: 680_000, OriginY: 3_080_000, Cell: 200, EPSG: 32648, NoData: -9999,
		Values: make([]float32, 100*100)}
	if away {
		g.OriginX, g.OriginY = 200_000, 5_000_000
	}
	for i := range g.Values {
		g.Values[i] = float32(900 + 5*(i%100))
	}
	var b strings.Builder
	if err := g.WriteGeoTIFF(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestImportDEM posts GeoTIFF DEMs to /api/import/terrain: an admin's
// replaces the terrain and answers the report; a bad file is a 4xx
// problem naming what is wrong, and so is a county user's (403); none of
// those changes the terrain.
func TestImportDEM(t *testing.T) {
	pool := pgtest.New(t)
	// The server's own role, under which row-level security holds.
	addr := startImportServer(t, pgtest.AsApp(t, pool), true)
	admin := adminToken(t, pool)
	county := tokenFor(t, pool, "zhang", account.County, "520302")
	good := demTIFF(t, false)
	terrainState := func() string {
		t.Helper()
		var s string
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(md5(string_agg(md5(rast::text), '' ORDER BY rid)), '')
			FROM terrain`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name, token, contentType, body string
		status                         int
		detail                         string
	}{
		{"not a TIFF", admin, "image/tiff", "elevation\n1000\n", http.StatusBadRequest, "must be a GeoTIFF"},
		{"truncated", admin, "image/tiff", good[:500], http.StatusBadRequest, "GDAL cannot read the DEM"},
		{"outside the city", admin, "image/tiff", demTIFF(t, true), http.StatusBadRequest, "outside the city"},
		{"as CSV", admin, "text/csv", good, http.StatusUnsupportedMediaType, "image/tiff"},
		{"a county user's", county, "image/tiff", good, http.StatusForbidden, "outside what you may change"},
		{"an admin's", admin, "image/tiff", good, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := terrainState()
			resp, body := postImport(t, "http://"+addr+"/api/import/terrain", tt.token, tt.contentType, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tt.status)
			}
			changed := terrainState() != before
			if tt.status != http.StatusOK {
				detail, _ := body["detail"].(string)
				if resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(detail, tt.detail) || changed {
					t.Errorf("got %s %v (terrain changed: %v), want problem+json whose detail says %q, nothing changed",
						resp.Header.Get("Content-Type"), body, changed, tt.detail)
				}
				return
			}
			if body["layer"] != "terrain" || body["tiles"] != float64(1) || body["width"] != float64(100) || !changed {
				t.Errorf("report %v (terrain changed: %v), want one tile of 100 × 100 cells stored", body, changed)
			}
			var elevation float64
			if err := pool.QueryRow(context.Background(), `SELECT elevation FROM terrain_at(
				ST_Transform(ST_SetSRID(ST_MakePoint(680000 + 200 * 42 + 100, 3080000 - 200 * 7 - 100), 32648), 4326))`).
				Scan(&elevation); err != nil || elevation != 900+5*42 {
				t.Errorf("elevation of cell (42, 7): %v (%v), want %d", elevation, err, 900+5*42)
			}
		})
	}
}
