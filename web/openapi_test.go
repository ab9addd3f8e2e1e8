package web_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web/ogc"
)

// TestAPIDefinition reads /api, the OpenAPI document the landing page
// links to, and holds it to the server: a path for every route but the
// pages (and no path without a route), and for each collection the
// parameters its items take.
func TestAPIDefinition(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	landing := fetchJSON(t, s, "/", 200, "application/json")
	if got := linkHref(landing, "service-desc", "application/vnd.oai.openapi+json;version=3.0"); got != "http://example.com/api" {
		t.Errorf("landing page service-desc link %q, want http://example.com/api", got)
	}
	resp, body := do(t, s, "/api", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.oai.openapi+json;version=3.0" {
		t.Fatalf("GET /api: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Servers) != 1 || doc.Servers[0].URL != "http://example.com" {
		t.Errorf("openapi %q, servers %+v", doc.OpenAPI, doc.Servers)
	}
	// Valid OpenAPI 3.0, by a validator that is not ours (web/package.json).
	file := filepath.Join(t.TempDir(), "api.json")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("node", "validate-openapi.mjs", file).CombinedOutput(); err != nil {
		t.Errorf("the API definition is not valid OpenAPI 3.0 (node validate-openapi.mjs; make build installs its package): %v\n%s", err, out)
	}

	// The routes as the document spells them: Fiber's :name is {name},
	// and the routes whose last segment carries more are written out.
	spelled := map[string]string{
		"/tiles/:layer/:z/:x/:y":                  "/tiles/{layer}/{z}/{x}/{y}.mvt",
		"/tiles/:layer/at/:at/:z/:x/:y":           "/tiles/{layer}/at/{at}/{z}/{x}/{y}.mvt",
		"/tiles/:file":                            "/tiles/{layer}.json",
		"/collections/:collection/items/:feature": "/collections/{collectionId}/items/{featureId}",
	}
	pages := []string{"/static/*", "/vendor/*", "/fonts/:fontstack/:range", "/wall", "/planner", "/login"}
	want := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == "HEAD" || slices.Contains(pages, r.Path) {
			continue
		}
		p, ok := spelled[r.Path]
		if !ok {
			p = r.Path
			for _, part := range strings.Split(r.Path, "/") {
				if name, ok := strings.CutPrefix(part, ":"); ok {
					p = strings.Replace(p, part, "{"+name+"}", 1)
				}
			}
		}
		p = strings.ReplaceAll(p, "{collection}", "{collectionId}")
		p = strings.ReplaceAll(p, "{feature}", "{featureId}")
		for _, c := range geo.Collections {
			want[strings.ToLower(r.Method)+" "+strings.ReplaceAll(p, "{collectionId}", c.ID)] = true
		}
	}
	if len(want) < 20 {
		t.Fatalf("only %d routes found: %v", len(want), want)
	}
	got := map[string]bool{}
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			got[method+" "+path] = true
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s %s: operationId %q missing or used twice", method, path, op.OperationID)
			}
			ids[op.OperationID] = true
			if op.Responses["200"] == nil {
				t.Errorf("%s %s: no 200 response", method, path)
			}
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("route %s is not in the API definition", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("the API definition has %s, which no route serves", k)
		}
	}

	for _, c := range geo.Collections {
		var names []string
		for _, p := range doc.Paths["/collections/"+c.ID+"/items"]["get"].Parameters {
			names = append(names, p.Name)
		}
		if !slices.Equal(names, ogc.ItemsParams(c)) {
			t.Errorf("%s items: documented parameters %v, want %v", c.ID, names, ogc.ItemsParams(c))
		}
	}
}

// TestAPIDefinitionEnums checks that the API definition lists the values
// of every enumerated property (and null) and of every enumerated filter,
// as the catalogue has them.
func TestAPIDefinitionEnums(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	_, body := do(t, s, "/api", nil)
	type enumSchema struct {
		Enum []any `json:"enum"`
	}
	type param struct {
		Name   string     `json:"name"`
		Schema enumSchema `json:"schema"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []param `json:"parameters"`
			Responses  map[string]struct {
				Content map[string]struct {
					Schema struct {
						Properties struct {
							Properties struct {
								Properties map[string]enumSchema `json:"properties"`
							} `json:"properties"`
						} `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	asAny := func(values []string) []any {
		out := []any{}
		for _, v := range values {
			out = append(out, v)
		}
		return out
	}
	for _, c := range geo.Collections {
		feature := doc.Paths["/collections/"+c.ID+"/items/{featureId}"]["get"].Responses["200"].Content["application/geo+json"].Schema
		props := feature.Properties.Properties.Properties
		for _, col := range c.Columns {
			var want []any
			if col.Enum != nil {
				want = append(asAny(col.Enum.Strings()), nil)
			}
			if got := props[col.Name].Enum; !slices.Equal(got, want) {
				t.Errorf("%s property %s: enum %v, want %v", c.ID, col.Name, got, want)
			}
		}
		params := doc.Paths["/collections/"+c.ID+"/items"]["get"].Parameters
		for _, f := range c.Filters {
			i := slices.IndexFunc(params, func(p param) bool { return p.Name == f.Param })
			var want []any
			if f.Values() != nil {
				want = asAny(f.Values())
			}
			if i < 0 || !slices.Equal(params[i].Schema.Enum, want) {
				t.Errorf("%s filter %s: not documented with enum %v", c.ID, f.Param, want)
			}
		}
	}
}
