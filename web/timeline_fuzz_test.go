package web

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
)

// FuzzParseTimeline feeds the timeline's query parser arbitrary query
// strings: it must never panic, refuse only with EInvalid, and a period
// it takes must be whole days up to today, cut into at most
// geo.MaxSteps steps that begin where steps of its kind begin.
func FuzzParseTimeline(f *testing.F) {
	for _, seed := range []string{
		"",                              // every default
		"from=2016-01-01&to=2016-06-30", // the published half year
		"from=2016-02-03&to=2016-02-16&step=week", // weeks cut at both ends
		"from=2016-03-05&to=2016-03-05&step=day",  // one day
		"from=2016-01-01&to=2017-12-31&step=day",  // too many steps
		"to=2016-12-31",                           // from defaults to January 1
		"from=2016-03-01&to=2016-02-01",           // backwards
		"step=year", "from=2016-13-01", "to=2099-01-01", "from=0001-01-01&step=week", "x=1", "step=day&step=day", "%zz",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 28, 15, 4, 5, 0, geo.DataZone)
	begins := time.Date(2016, 1, 1, 0, 0, 0, 0, geo.DataZone)
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseTimeline(raw, now, begins)
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("parseTimeline(%q): %v, want EInvalid", raw, err)
			}
			return
		}
		midnight := func(t time.Time) bool {
			t = t.In(geo.DataZone)
			return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
		}
		if !slices.Contains(geo.Steps, p.Step) || p.From.After(p.To) || p.To.After(now) || !midnight(p.From) || !midnight(p.To) {
			t.Fatalf("parseTimeline(%q) = %+v: not a period of whole days up to today", raw, p)
		}
		b := p.Bounds()
		if len(b) < 2 || len(b)-1 > geo.MaxSteps || !b[0].Equal(p.From) || !b[len(b)-1].Equal(p.End()) {
			t.Fatalf("parseTimeline(%q): bounds %v of %+v", raw, b, p)
		}
		for i, x := range b[1 : len(b)-1] {
			x = x.In(geo.DataZone)
			aligned := midnight(x) && x.After(b[i])
			switch p.Step {
			case geo.StepMonth:
				aligned = aligned && x.Day() == 1
			case geo.StepWeek:
				aligned = aligned && x.Weekday() == time.Monday
			}
			if !aligned {
				t.Fatalf("parseTimeline(%q): bound %d, %s, does not begin a %s after %s", raw, i+1, x, p.Step, b[i])
			}
		}
	})
}

// FuzzParseTarget feeds a target's body parser arbitrary bytes: it must
// never panic, refuse only with EInvalid, and what it takes has no
// negative figure and reads back the same once written as JSON.
func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{
		`{"poor_people_out": 202000, "villages_exit": 40, "relocation_people": 12000}`,
		`{"poor_people_out": null}`, `{}`, `null`, `[]`, `"x"`, `{"poor_people_out": -1}`, `{"poor_people_out": 1.5}`,
		`{"poor_people_out": "3"}`, `{"poor_people_out": 1e3}`, `{"goal": 1}`, `{"villages_exit": 2147483648}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseTarget(body)
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("parseTarget(%q): %v, want EInvalid", body, err)
			}
			return
		}
		for _, v := range []*int32{got.PoorPeopleOut, got.VillagesExit, got.RelocationPeople} {
			if v != nil && *v < 0 {
				t.Fatalf("parseTarget(%q) = %+v: a negative figure", body, got)
			}
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseTarget(again)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("parseTarget(%q) = %+v, written %s, reads back %+v (%v)", body, got, again, back, err)
		}
	})
}
