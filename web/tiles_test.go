package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// do sends a request with headers through the app and returns the
// response and its whole body.
func do(t *testing.T, s *web.Server, path string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if h, ok := headers["Host"]; ok {
		req.Host = h
	}
	resp, err := s.App().Test(req, 10_000)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

const cityTile = "/tiles/battlemap/8/204/107.mvt"

func TestTileResponse(t *testing.T) {
	s := newServer(t, pgtest.New(t), 32<<20)
	resp, body := do(t, s, cityTile, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("got %d %q, want 200 application/vnd.mapbox-vector-tile", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-z]+"$`).MatchString(etag) {
		t.Errorf("ETag %q, want a strong quoted tag", etag)
	}
	if resp.Header.Get("Cache-Control") == "" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("Cache-Control %q, Vary %q: want both set", resp.Header.Get("Cache-Control"), resp.Header.Get("Vary"))
	}
	if _, err := mvt.Unmarshal(body); err != nil {
		t.Errorf("body does not decode as MVT: %v", err)
	}

	t.Run("gzip when accepted", func(t *testing.T) {
		resp, gz := do(t, s, cityTile, map[string]string{"Accept-Encoding": "gzip, deflate"})
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
		}
		r, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(r)
		if !bytes.Equal(plain, body) {
			t.Errorf("gunzipped body differs from the plain tile")
		}
		if resp.Header.Get("ETag") != etag {
			t.Errorf("ETag differs between encodings: %q vs %q", resp.Header.Get("ETag"), etag)
		}
	})
	t.Run("no gzip when refused", func(t *testing.T) {
		resp, _ := do(t, s, cityTile, map[string]string{"Accept-Encoding": "gzip;q=0, identity"})
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Content-Encoding %q, want none", resp.Header.Get("Content-Encoding"))
		}
	})
	t.Run("304 for a known ETag", func(t *testing.T) {
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			resp, body := do(t, s, cityTile, map[string]string{"If-None-Match": inm})
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match %s: got %d with %d bytes, want 304 and no body", inm, resp.StatusCode, len(body))
			}
		}
		if resp, _ := do(t, s, cityTile, map[string]string{"If-None-Match": `"stale"`}); resp.StatusCode != 200 {
			t.Errorf("stale ETag: got %d, want 200", resp.StatusCode)
		}
	})
	t.Run("204 for an empty tile", func(t *testing.T) {
		resp, body := do(t, s, "/tiles/battlemap/14/0/0.mvt", nil)
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("got %d with %d bytes, want 204", resp.StatusCode, len(body))
		}
	})
}

// TestTileBadRequests: malformed tile paths are 400, paths beyond what
// is served are 404, both as problem+json naming the fault.
func TestTileBadRequests(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		path   string
		status int
		detail string
	}{
		{"/tiles/battlemap/-1/0/0.mvt", 400, "z"},
		{"/tiles/battlemap/3/8/0.mvt", 400, "x"},
		{"/tiles/battlemap/3/0/8.mvt", 400, "y"},
		{"/tiles/battlemap/23/0/0.mvt", 400, "z"},
		{"/tiles/battlemap/a/0/0.mvt", 400, "z"},
		{"/tiles/battlemap/3/0/0.png", 400, "extension"},
		{"/tiles/battlemap/3/0/0", 400, "extension"},
		{"/tiles/battlemap/15/0/0.mvt", 404, "zoom 14"},
		{"/tiles/rivers/3/0/0.mvt", 404, "rivers"},
		{"/tiles/rivers.json", 404, "rivers"},
		{"/tiles/battlemap.xml", 404, "battlemap.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := do(t, s, tt.path, nil)
			var p map[string]any
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q is not JSON", body)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("got %d %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
			}
			if d, _ := p["detail"].(string); !strings.Contains(d, tt.detail) {
				t.Errorf("detail %q does not mention %q", d, tt.detail)
			}
		})
	}
}

// TestTileJSONAndStyle checks TileJSON's shape and that the style only
// draws layers the tiles have, with colours the legend lists.
func TestTileJSONAndStyle(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	resp, body := do(t, s, "/tiles/battlemap.json", nil)
	var tj tiles.TileJSON
	if err := json.Unmarshal(body, &tj); err != nil || resp.StatusCode != 200 {
		t.Fatalf("TileJSON: %d %v", resp.StatusCode, err)
	}
	if tj.TileJSON != "3.0.0" || len(tj.Tiles) != 1 || tj.Tiles[0] != "http://example.com/tiles/battlemap/{z}/{x}/{y}.mvt" {
		t.Errorf("TileJSON %+v: want version 3.0.0 and the request's host in the tile URL", tj)
	}
	if tj.Bounds[0] < 105 || tj.Bounds[2] > 109 || tj.Bounds[1] < 27 || tj.Bounds[3] > 30 || tj.MaxZoom != 14 {
		t.Errorf("bounds %v, maxzoom %d: want Zunyi's and 14", tj.Bounds, tj.MaxZoom)
	}
	layers := map[string]bool{}
	for _, vl := range tj.VectorLayers {
		layers[vl.ID] = len(vl.Fields) > 0
	}
	for _, want := range []string{"counties", "townships", "villages", "sites", "projects", "flows"} {
		if !layers[want] {
			t.Errorf("vector_layers lacks %s (or its fields)", want)
		}
	}

	_, styleBody := do(t, s, "/style.json", nil)
	var style struct {
		Version int                       `json:"version"`
		Sources map[string]map[string]any `json:"sources"`
		Layers  []map[string]any          `json:"layers"`
	}
	if err := json.Unmarshal(styleBody, &style); err != nil || style.Version != 8 {
		t.Fatalf("style: version %d, %v", style.Version, err)
	}
	if url, _ := style.Sources["battlemap"]["url"].(string); url != "http://example.com/tiles/battlemap.json" {
		t.Errorf("style source url %q, want this server's TileJSON", url)
	}
	// Each source's own TileJSON lists the layers the style may draw from it.
	sourceLayers := map[string]map[string]bool{"battlemap": layers}
	for name := range style.Sources {
		if name == "battlemap" {
			continue
		}
		_, body := do(t, s, "/tiles/"+name+".json", nil)
		var stj tiles.TileJSON
		if err := json.Unmarshal(body, &stj); err != nil {
			t.Fatalf("TileJSON of source %s: %v", name, err)
		}
		sourceLayers[name] = map[string]bool{}
		for _, vl := range stj.VectorLayers {
			sourceLayers[name][vl.ID] = len(vl.Fields) > 0
		}
	}
	for _, l := range style.Layers {
		if sl, ok := l["source-layer"].(string); ok && !sourceLayers[l["source"].(string)][sl] {
			t.Errorf("style layer %v draws source-layer %q, which the TileJSON of %v does not list", l["id"], sl, l["source"])
		}
	}
	_, legendBody := do(t, s, "/legend.json", nil)
	colour := regexp.MustCompile(`#[0-9A-Fa-f]{6}`)
	inLegend := map[string]bool{}
	for _, c := range colour.FindAllString(string(legendBody), -1) {
		inLegend[strings.ToUpper(c)] = true
	}
	for _, c := range colour.FindAllString(string(styleBody), -1) {
		if !inLegend[strings.ToUpper(c)] {
			t.Errorf("style colour %s is not in the legend", c)
		}
	}
	if strings.Contains(string(styleBody), "://") && strings.Count(string(styleBody), "http://example.com") != strings.Count(string(styleBody), "://") {
		t.Errorf("style refers to a host other than this server")
	}
}

// TestTileChangeSeenThroughCache: after a direct SQL update, a client
// revalidating with its old ETag gets the new tile, not a 304: at once
// when versions are read per lookup, as soon as the notification arrives
// when they are heard. A tile not yet changed is a cache hit (304 on its
// ETag) before.
func TestTileChangeSeenThroughCache(t *testing.T) {
	for _, mode := range []string{"query", "notify"} {
		t.Run(mode, func(t *testing.T) {
			pool := pgtest.New(t)
			s := newServerWith(t, pool, 32<<20, pgtest.Versions(t, pool, mode))
			resp, _ := do(t, s, cityTile, nil)
			old := resp.Header.Get("ETag")
			if resp, _ := do(t, s, cityTile, map[string]string{"If-None-Match": old}); resp.StatusCode != 304 {
				t.Fatalf("unchanged tile: got %d, want 304", resp.StatusCode)
			}
			if _, err := pool.Exec(context.Background(), `UPDATE villages SET poor_population = poor_population + 1 WHERE code = '520304116203'`); err != nil {
				t.Fatal(err)
			}
			resp, _ = do(t, s, cityTile, map[string]string{"If-None-Match": old})
			for deadline := time.Now().Add(2 * time.Second); mode == "notify" && resp.StatusCode == 304 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				resp, _ = do(t, s, cityTile, map[string]string{"If-None-Match": old})
			}
			if resp.StatusCode != 200 || resp.Header.Get("ETag") == old {
				t.Errorf("after the update: got %d with ETag %s, want 200 with a new ETag", resp.StatusCode, resp.Header.Get("ETag"))
			}
		})
	}
}
