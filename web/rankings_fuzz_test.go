package web

import (
	"net/url"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// FuzzParseRankings feeds the rankings' query parser arbitrary query
// strings: it must never panic, refuse only with EInvalid, and what it
// takes has a format of json or csv, a moment not after now, and reads
// back the same once written as a query again.
func FuzzParseRankings(f *testing.F) {
	for _, seed := range []string{
		"", // every default
		"by=county&measure=people_out&at=2016-06-30", // the wall's
		"by=unit&measure=disbursement&f=csv",         // the export
		"at=2016-03-31T18:00:00%2B08:00",             // a moment, not a day
		"by=village", "measure=height", "at=2999-01-01", "f=xml", "year=2016", "by=county&by=unit", "%zz", "at=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseRankings(raw)
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("parseRankings(%q): %v, want EInvalid", raw, err)
			}
			return
		}
		if q.Format != ogc.FormatJSON && q.Format != ogc.FormatCSV || q.At != nil && q.At.After(time.Now()) {
			t.Fatalf("parseRankings(%q) = %+v", raw, q)
		}
		v := url.Values{"f": {q.Format}}
		for k, s := range map[string]string{"by": q.By, "measure": q.Measure} {
			if s != "" {
				v.Set(k, s)
			}
		}
		if q.At != nil {
			v.Set("at", geo.FormatMoment(*q.At))
		}
		again, err := parseRankings(v.Encode())
		if err != nil || again.By != q.By || again.Measure != q.Measure || again.Format != q.Format ||
			(again.At == nil) != (q.At == nil) || q.At != nil && !again.At.Equal(*q.At) {
			t.Fatalf("parseRankings(%q) = %+v, but its query %q reads %+v, %v", raw, q, v.Encode(), again, err)
		}
	})
}
