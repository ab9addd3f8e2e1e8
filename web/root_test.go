package web_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// TestRoot: GET /api/regions names the region the pages open on: the
// server's root (--root) when it has one, else the first region without
// a parent by code, whatever the data holds; null for a root the data
// lacks.
func TestRoot(t *testing.T) {
	tests := []struct {
		name, root string
		load       func(testing.TB, *pgxpool.Pool)
		want       any // the root's code, or nil
	}{
		{"the demo: Zunyi", "", nil, "520300"},
		{"two cities: the first by code", "", func(t testing.TB, p *pgxpool.Pool) { pgtest.AddSecondCity(t, p) }, "520300"},
		{"two cities, the second named", pgtest.SecondCity.City, func(t testing.TB, p *pgxpool.Pool) { pgtest.AddSecondCity(t, p) }, pgtest.SecondCity.City},
		{"a county named", "520302", nil, "520302"},
		{"a province and the country above: the country", "", func(t testing.TB, p *pgxpool.Pool) { pgtest.AddProvince(t, p) }, "100000"},
		{"a root the data lacks", "990000", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.New(t)
			if tt.load != nil {
				tt.load(t, pool)
			}
			s := web.New(web.Config{RequestTimeout: 10 * time.Second, BodyLimit: 1 << 20, Root: tt.root}, pool,
				tiles.NewService(tiles.Config{}, pool), slog.New(slog.NewTextHandler(io.Discard, nil)))
			body := fetchJSON(t, s, "/api/regions", 200, jsonType)
			var got any
			if r, ok := body["root"].(map[string]any); ok {
				got = r["code"]
				if len(r["bbox"].([]any)) != 4 || r["name"] == "" {
					t.Errorf("root %v lacks a bbox or a name", r)
				}
			}
			if got != tt.want {
				t.Errorf("root %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNationalDrillDown: with a province and the country above Zunyi and
// a second city, the drill-down runs from the country down to a village,
// one level a step, and each region's figures are the sums of its
// children's.
func TestNationalDrillDown(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	s := newServer(t, pool, 0)
	path := []string{"100000", "520000", "520300", "520304", "520304116", "520304116203"}
	for i, code := range path[:len(path)-1] {
		r := fetchJSON(t, s, "/api/regions/"+code, 200, jsonType)
		var sum, found int64
		for _, c := range r["children"].([]any) {
			c := c.(map[string]any)
			sum += number(t, c["figures"].(map[string]any)["poor_population"], "poor_population")
			if c["code"] == path[i+1] {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%s: children lack %s", code, path[i+1])
		}
		if got := number(t, r["figures"].(map[string]any)["poor_population"], "poor_population"); got != sum {
			t.Errorf("%s: poor people %d, want its children's sum %d", code, got, sum)
		}
		if crumbs := r["breadcrumb"].([]any); len(crumbs) != i+1 || fmt.Sprint(crumbs[0].(map[string]any)["code"]) != "100000" {
			t.Errorf("%s: breadcrumb %v, want %d steps from the country", code, crumbs, i+1)
		}
	}
	rankings := fetchJSON(t, s, "/api/regions/520000/rankings?by=county", 200, jsonType)
	if rows, _ := rankings["rows"].([]any); len(rows) != 15 {
		t.Errorf("the province's counties ranked: %d, want Zunyi's 14 and the second city's 1", len(rows))
	}
}
