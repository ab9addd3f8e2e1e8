package geo

import (
	"slices"
	"strings"
	"testing"
)

// TestExitChecks: what a standard and a return's figures may be, field
// by field, before the database is asked.
func TestExitChecks(t *testing.T) {
	share := func(x float64) *float64 { return &x }
	n := func(x int64) *int64 { return &x }
	for _, c := range []struct {
		name   string
		err    error
		fields []string
	}{
		{"the village standard", ExitStandard{"village", 0.03, nil, "2020-12-31"}.Check(), nil},
		{"the township standard", ExitStandard{"township", 0.03, share(0.9), "2020-12-31"}.Check(), nil},
		{"all villages exited, at most 100%", ExitStandard{"county", 1, share(1), "2100-12-31"}.Check(), nil},
		{"five decimals", ExitStandard{"village", 0.02345, nil, "2020-12-31"}.Check(), nil},
		{"six decimals", ExitStandard{"village", 0.023456, nil, "2020-12-31"}.Check(), []string{"max_incidence"}},
		{"no incidence", ExitStandard{"village", 0, nil, "2020-12-31"}.Check(), []string{"max_incidence"}},
		{"over 100%", ExitStandard{"village", 1.01, nil, "2020-12-31"}.Check(), []string{"max_incidence"}},
		{"a village's share", ExitStandard{"village", 0.03, share(0.9), "2020-12-31"}.Check(), []string{"min_villages_exited"}},
		{"a township without share", ExitStandard{"township", 0.03, nil, "2020-12-31"}.Check(), []string{"min_villages_exited"}},
		{"a negative share", ExitStandard{"county", 0.03, share(-0.1), "2020-12-31"}.Check(), []string{"min_villages_exited"}},
		{"a city", ExitStandard{"city", 0.03, share(0.9), "2020-12-31"}.Check(), []string{"level"}},
		{"no day", ExitStandard{"village", 0.03, nil, "2020-02-30"}.Check(), []string{"policies_until"}},
		{"a day out of range", ExitStandard{"village", 0.03, nil, "1999-12-31"}.Check(), []string{"policies_until"}},
		{"a village's return", ReturnFigures{n(3), n(9)}.check("village"), nil},
		{"a township's return", ReturnFigures{}.check("township"), nil},
		{"a village without figures", ReturnFigures{}.check("village"), []string{"poor_households", "poor_population"}},
		{"a county with figures", ReturnFigures{nil, n(9)}.check("county"), []string{"poor_population"}},
		{"no poor people", ReturnFigures{n(0), n(0)}.check("village"), []string{"poor_households", "poor_population"}},
		{"more households than people", ReturnFigures{n(9), n(3)}.check("village"), []string{"poor_households"}},
		{"a reason at the limit", checkReason(strings.Repeat("理", MaxReasonRunes)), nil},
		{"a reason too long", checkReason(strings.Repeat("理", MaxReasonRunes+1)), []string{"reason"}},
		{"a reason with NUL", checkReason("a\x00b"), []string{"reason"}},
		{"a reason not UTF-8", checkReason("\xff"), []string{"reason"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.fields == nil {
				if c.err != nil {
					t.Fatalf("refused: %v", c.err)
				}
				return
			}
			e, ok := c.err.(*Error)
			if !ok || e.Code != EInvalid {
				t.Fatalf("got %v, want EInvalid naming %v", c.err, c.fields)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.fields) {
				t.Errorf("fields %v, want %v", got, c.fields)
			}
		})
	}
}
