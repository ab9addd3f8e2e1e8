package geo_test

import (
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// FuzzParseParams feeds the suitability parameters' parser arbitrary
// values for each parameter: it must never panic; what it takes is a
// finite number within the parameter's bounds (whole where it must be),
// with weights that are not all 0; what it refuses is EInvalid and names
// a parameter; and what it takes reads back the same from its Query.
func FuzzParseParams(f *testing.F) {
	for _, seed := range []string{
		"", // every default
		"w_slope=0&w_road=0&w_service=0&w_people=0", // weights all 0
		"max_slope=15&reach=8000&people_full=500",
		"max_slope=61", "reach=499.9", "w_people=1e2", "w_people=1e3", "road_range=.5e3",
		"w_slope=0x1p4", "w_slope=Inf", "w_slope=NaN", "w_slope=1_0", "w_slope=", "w_slope=-0",
		"n=2.5", "n=20", "n=21", "spacing=500", "spacing=1e309",
	} {
		f.Add(seed)
	}
	params := append(append([]geo.Param{}, geo.SuitabilityParams...), geo.CandidateParams...)
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		given := map[string]string{}
		for k, vs := range values {
			given[k] = vs[0]
		}
		v, err := geo.ParseParams(params, given)
		if err != nil {
			var e *geo.Error
			if geo.ErrorCode(err) != geo.EInvalid || !errors.As(err, &e) || len(e.Fields) == 0 {
				t.Fatalf("ParseParams(%q): %v, want EInvalid naming a parameter", raw, err)
			}
			return
		}
		sum := 0.0
		for _, p := range params {
			x, ok := v[p.Name]
			switch {
			case !ok:
				t.Fatalf("ParseParams(%q) lacks %s", raw, p.Name)
			case math.IsNaN(x) || math.IsInf(x, 0) || x < p.Min || x > p.Max:
				t.Fatalf("ParseParams(%q): %s = %v, outside %v…%v", raw, p.Name, x, p.Min, p.Max)
			case p.Integer && x != math.Trunc(x):
				t.Fatalf("ParseParams(%q): %s = %v, want a whole number", raw, p.Name, x)
			}
			if strings.HasPrefix(p.Name, "w_") {
				sum += x
			}
		}
		if sum <= 0 {
			t.Fatalf("ParseParams(%q) took weights that are all 0", raw)
		}
		back, err := url.ParseQuery(v.Query(geo.SuitabilityParams, geo.CandidateParams))
		if err != nil {
			t.Fatalf("Query of %v: %v", v, err)
		}
		again := map[string]string{}
		for k, vs := range back {
			again[k] = vs[0]
		}
		w, err := geo.ParseParams(params, again)
		if err != nil {
			t.Fatalf("ParseParams(Query(%v)): %v", v, err)
		}
		for k, x := range v {
			if w[k] != x {
				t.Fatalf("round trip of %s: %v, then %v", k, x, w[k])
			}
		}
	})
}
