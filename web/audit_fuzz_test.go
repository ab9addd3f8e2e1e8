package web

import (
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// FuzzParseAudit feeds the audit's query parser arbitrary query strings:
// it must never panic, and what it takes is within its bounds.
func FuzzParseAudit(f *testing.F) {
	for _, seed := range []string{
		"", "region=520322&actor=zhang&since=2026-11-01", "since=2026-11-01T08:00:00%2B08:00", "table=villages,regions&row=520322001001",
		"limit=0", "limit=501", "cursor=-1", "table=secrets", "region=52", "a=1&a=2", "%zz", "since=2026-13-01",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseAudit(raw)
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("parseAudit(%q): %v, want EInvalid", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > auditMaxLimit || q.Before < 0 {
			t.Fatalf("parseAudit(%q) = %+v: out of bounds", raw, q)
		}
	})
}
