package web_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// catalogueAnswer is the body of /api/catalogue, as the pages read it.
type catalogueAnswer struct {
	Enums       []enumAnswer `json:"enums"`
	Collections []struct {
		ID         string `json:"id"`
		Properties []struct {
			Name        string `json:"name"`
			Type        string `json:"type"`
			Description string `json:"description"`
			Unit        string `json:"unit"`
			Enum        string `json:"enum"`
		} `json:"properties"`
	} `json:"collections"`
}

// enumAnswer is an enumeration in /api/catalogue.
type enumAnswer struct {
	Name   string          `json:"name"`
	Title  string          `json:"title"`
	Values []geo.EnumValue `json:"values"`
}

// readCatalogue GETs /api/catalogue and decodes it.
func readCatalogue(t *testing.T, s *web.Server) catalogueAnswer {
	t.Helper()
	resp, body := do(t, s, "/api/catalogue", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/catalogue: %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var cat catalogueAnswer
	if err := json.Unmarshal(body, &cat); err != nil {
		t.Fatalf("GET /api/catalogue: %v", err)
	}
	return cat
}

// TestCatalogue checks /api/catalogue, what the pages label with: every
// enumeration with each value's label and colour, every collection with
// its properties, and an ETag to revalidate with.
func TestCatalogue(t *testing.T) {
	s := newServer(t, pgtest.New(t), 32<<20)
	cat := readCatalogue(t, s)

	enums := append(slices.Clone(geo.Enums), geo.RankingEnums...)
	if len(cat.Enums) != len(enums) {
		t.Errorf("%d enumerations served, the catalogue has %d", len(cat.Enums), len(enums))
	}
	for _, e := range enums {
		i := slices.IndexFunc(cat.Enums, func(got enumAnswer) bool { return got.Name == e.Name })
		if i < 0 {
			t.Errorf("enumeration %s is not served", e.Name)
			continue
		}
		if got := cat.Enums[i]; got.Title != e.Title || !slices.Equal(got.Values, e.Values) {
			t.Errorf("enumeration %s: got %q %+v, want %q %+v", e.Name, got.Title, got.Values, e.Title, e.Values)
		}
		for _, v := range e.Values {
			if v.Label == "" {
				t.Errorf("%s %s has no label", e.Name, v.Value)
			}
		}
	}

	if len(cat.Collections) != len(geo.Collections) {
		t.Fatalf("%d collections served, want %d", len(cat.Collections), len(geo.Collections))
	}
	for i, c := range geo.Collections {
		got := cat.Collections[i]
		if got.ID != c.ID || len(got.Properties) != len(c.Columns) {
			t.Errorf("collection %d: got %s with %d properties, want %s with %d", i, got.ID, len(got.Properties), c.ID, len(c.Columns))
			continue
		}
		for j, col := range c.Columns {
			p := got.Properties[j]
			enum := ""
			if col.Enum != nil {
				enum = col.Enum.Name
			}
			if p.Name != col.Name || p.Type != col.Type || p.Description != col.Description || p.Unit != col.Unit || p.Enum != enum {
				t.Errorf("%s property %d: got %+v, want %s %s %q %q enum %q", c.ID, j, p, col.Name, col.Type, col.Description, col.Unit, enum)
			}
		}
	}

	resp, _ := do(t, s, "/api/catalogue", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q: want a tag to revalidate with", etag, resp.Header.Get("Cache-Control"))
	}
	if resp, _ := do(t, s, "/api/catalogue", map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match the current ETag: got %d, want 304", resp.StatusCode)
	}
}

// TestLegendFollowsCatalogue checks that each categorical scheme of
// /legend.json names an enumeration of /api/catalogue and has a class per
// value, with the value's label and colour, in the enumeration's order;
// the villages are coloured by their poverty status.
func TestLegendFollowsCatalogue(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	enums := map[string][]geo.EnumValue{}
	for _, e := range readCatalogue(t, s).Enums {
		enums[e.Name] = e.Values
	}
	var legend struct {
		Schemes []struct {
			ID      string            `json:"id"`
			Kind    string            `json:"kind"`
			Enum    string            `json:"enum"`
			Classes []geo.EnumValue   `json:"classes"`
			Props   map[string]string `json:"properties"`
		} `json:"schemes"`
	}
	_, body := do(t, s, "/legend.json", nil)
	if err := json.Unmarshal(body, &legend); err != nil {
		t.Fatalf("/legend.json: %v", err)
	}
	statusScheme := ""
	for _, sc := range legend.Schemes {
		if sc.Kind != "categorical" {
			continue
		}
		values, ok := enums[sc.Enum]
		if !ok {
			t.Errorf("categorical scheme %s names enumeration %q, which the catalogue lacks", sc.ID, sc.Enum)
			continue
		}
		if !slices.Equal(sc.Classes, values) {
			t.Errorf("scheme %s: classes %+v, want the values of %s %+v", sc.ID, sc.Classes, sc.Enum, values)
		}
		if sc.Props["villages"] == "status" {
			statusScheme = sc.Enum
		}
	}
	if statusScheme != geo.PovertyStatuses.Name {
		t.Errorf("the villages' status is coloured by enumeration %q, want %s", statusScheme, geo.PovertyStatuses.Name)
	}
}
