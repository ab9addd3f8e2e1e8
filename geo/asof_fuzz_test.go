package geo

import (
	"testing"
	"time"
)

// FuzzParseMoment: any at= a client sends is either refused as EInvalid
// or read as a moment no later than now, which FormatMoment writes back
// in a form that reads as the same moment (links and cache keys carry it).
func FuzzParseMoment(f *testing.F) {
	for _, s := range []string{"2016-03-31", "2016-03-31T18:00:00+08:00", "2016-03-31T10:00:00.123456789Z",
		"0000-01-01", "9999-12-31", "2016-02-30", "", "today", "2016-03-31T24:00:00Z"} {
		f.Add(s)
	}
	now := time.Date(2026, time.November, 28, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoment(s, now)
		if err != nil {
			if ErrorCode(err) != EInvalid {
				t.Fatalf("ParseMoment(%q): %v, not an EInvalid error", s, err)
			}
			return
		}
		if m.After(now) {
			t.Fatalf("ParseMoment(%q) = %s, after now (%s)", s, m, now)
		}
		back, err := ParseMoment(FormatMoment(m), now)
		if err != nil || !back.Equal(m) {
			t.Fatalf("ParseMoment(%q) = %s, written %q, read back %s (%v)", s, m, FormatMoment(m), back, err)
		}
	})
}
