package geo

import (
	"testing"
	"time"
)

// TestLagBehind turns a replica's replay position into time behind the
// primary, from samples of the primary's position.
func TestLagBehind(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []positionSample{{at(0), 100}, {at(250), 200}, {at(500), 200}, {at(750), 600}}
	now := at(800)
	tests := []struct {
		name    string
		samples []positionSample
		replay  int64
		want    time.Duration
	}{
		{"no samples yet", nil, 0, 0},
		{"at the newest position", samples, 600, 0},
		{"past the newest (read after it)", samples, 650, 0},
		{"halfway between two samples", samples, 400, 800*time.Millisecond - 625*time.Millisecond},
		{"at a position the primary held a while: since it left it", samples, 200, 800*time.Millisecond - 500*time.Millisecond},
		{"before the oldest sample: at least since then", samples, 50, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lagBehind(tt.samples, tt.replay, now); got != tt.want {
				t.Errorf("lagBehind(%d) = %s, want %s", tt.replay, got, tt.want)
			}
		})
	}
}
