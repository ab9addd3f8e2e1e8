package web

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// FuzzRegistryBodies feeds the bodies of an exit, a return to poverty
// and an exit standard arbitrary bytes, each to its parser: none may
// panic or refuse with anything but EInvalid, and what one takes reads
// back the same once written as JSON again.
func FuzzRegistryBodies(f *testing.F) {
	for _, seed := range []string{
		`{"exit_year": 2016}`, `{"exit_year": 2016, "reason": "县级验收通过"}`, // an exit, an override's reason
		`{"reason": "因病返贫", "poor_households": 3, "poor_population": 9}`, // a village's return
		`{"reason": "因灾返贫"}`, // a township's return
		`{"max_incidence": 0.03, "min_villages_exited": 0.9, "policies_until": "2020-12-31"}`,
		`{"max_incidence": 0.02, "min_villages_exited": null, "policies_until": "2021-06-30"}`,
		`{"exit_year": 2016, "exit_year": 2017}`, // a member twice
		`{"Exit_Year": 2016}`,                    // a name in another case
		`{"exit_year": "2016"}`, `{"exit_year": 2016.0}`, `{"exit_year": 1e3}`, `{"poor_population": -1}`,
		`{"max_incidence": 1e400}`, `{"reason": "\ud800"}`, `{"exit_year": 2016} x`, `[]`, `null`, `{`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name string, got any, err error, again func([]byte) (any, error), written any) {
			if err != nil {
				if geo.ErrorCode(err) != geo.EInvalid {
					t.Fatalf("%s(%q): %v, want EInvalid", name, body, err)
				}
				return
			}
			data, err := json.Marshal(written)
			if err != nil {
				t.Fatal(err)
			}
			back, err := again(data)
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("%s(%q) = %+v, written %s, reads back %+v (%v)", name, body, got, data, back, err)
			}
		}
		e, err := parseExit(body)
		check("parseExit", e, err, func(b []byte) (any, error) { return parseExit(b) }, e)
		r, err := parseReturn(body)
		check("parseReturn", r, err, func(b []byte) (any, error) { return parseReturn(b) }, r)
		s, err := parseExitStandard(body)
		check("parseExitStandard", s, err, func(b []byte) (any, error) { return parseExitStandard(b) }, map[string]any{
			"max_incidence": s.MaxIncidence, "min_villages_exited": s.MinVillagesExited, "policies_until": s.PoliciesUntil})
	})
}
