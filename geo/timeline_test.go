package geo_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
)

func TestNewPeriod(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, geo.DataZone)
	begins := time.Date(2016, 1, 1, 0, 0, 0, 0, geo.DataZone)
	for _, c := range []struct {
		name, from, to, step string
		begins               time.Time
		bounds               []string // the days the steps start on, then the day after the last
		err                  string
	}{
		{name: "months cut by the period", from: "2016-01-15", to: "2016-03-10",
			bounds: []string{"2016-01-15", "2016-02-01", "2016-03-01", "2016-03-11"}},
		{name: "the published half year", from: "2016-01-01", to: "2016-06-30",
			bounds: []string{"2016-01-01", "2016-02-01", "2016-03-01", "2016-04-01", "2016-05-01", "2016-06-01", "2016-07-01"}},
		{name: "ISO weeks from a Wednesday to a Tuesday", from: "2016-02-03", to: "2016-02-16", step: "week",
			bounds: []string{"2016-02-03", "2016-02-08", "2016-02-15", "2016-02-17"}},
		{name: "a week from a Sunday", from: "2016-02-07", to: "2016-02-08", step: "week",
			bounds: []string{"2016-02-07", "2016-02-08", "2016-02-09"}},
		{name: "days", from: "2016-02-28", to: "2016-03-01", step: "day",
			bounds: []string{"2016-02-28", "2016-02-29", "2016-03-01", "2016-03-02"}},
		{name: "December into January", from: "2016-12-31", to: "2017-01-01",
			bounds: []string{"2016-12-31", "2017-01-01", "2017-01-02"}},
		{name: "defaults: this year to today", begins: begins,
			bounds: []string{"2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01",
				"2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01", "2026-11-29"}},
		{name: "default from: the day the history begins", to: "2026-11-28", step: "week",
			begins: time.Date(2026, 11, 20, 16, 0, 0, 0, geo.DataZone), bounds: []string{"2026-11-20", "2026-11-23", "2026-11-29"}},
		{name: "default from: to's day when the history begins after it", to: "2026-11-10",
			begins: time.Date(2026, 11, 20, 16, 0, 0, 0, geo.DataZone), bounds: []string{"2026-11-10", "2026-11-11"}},
		{name: "400 days", from: "2016-01-01", to: "2017-02-03", step: "day", bounds: nil},
		{name: "401 days", from: "2016-01-01", to: "2017-02-04", step: "day", err: "more than 400 steps"},
		{name: "backwards", from: "2016-03-01", to: "2016-02-01", err: "from must not come after to"},
		{name: "tomorrow", to: "2026-11-29", err: "in the future"},
		{name: "unknown step", step: "quarter", err: "step"},
		{name: "not a day", from: "2016-1-1", err: "from"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := geo.NewPeriod(c.from, c.to, c.step, now, c.begins)
			if c.err != "" {
				if geo.ErrorCode(err) != geo.EInvalid || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("NewPeriod: %v, want EInvalid naming %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range p.Bounds() {
				if b.Location() != geo.DataZone || b.Hour() != 0 {
					t.Errorf("bound %s is not a day's start in CST", b)
				}
				got = append(got, b.Format(time.DateOnly))
			}
			if c.bounds == nil {
				if len(got)-1 != geo.MaxSteps {
					t.Errorf("%d steps, want %d", len(got)-1, geo.MaxSteps)
				}
				return
			}
			if !slices.Equal(got, c.bounds) {
				t.Errorf("bounds %v, want %v", got, c.bounds)
			}
		})
	}
}
