package web

import (
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo"
)

func TestParseSearch(t *testing.T) {
	tests := []struct {
		raw       string
		wantQ     string
		wantLimit int
		mention   string // non-empty: must fail naming this
	}{
		{"q=%E8%8A%B1%E8%8C%82%E6%9D%91", "花茂村", geo.DefaultSearchLimit, ""},
		{"q=+5203+&limit=50", "5203", 50, ""},
		{"q=", "", 0, "q must"},
		{"q=+++", "", 0, "q must"},
		{"limit=5", "", 0, "q must"},
		{"q=" + strings.Repeat("村", geo.MaxSearchRunes+1), "", 0, "q must be at most"},
		{"q=%01x", "", 0, "q must be text"},
		{"q=x&limit=0", "", 0, "limit"},
		{"q=x&limit=51", "", 0, "limit"},
		{"q=x&page=2", "", 0, `"page"`},
		{"q=x&at=2016-13-01", "", 0, "a moment is a day"},
		{"q=x&at=9999-01-01", "", 0, "in the future"},
		{"q=x&at=2016-03-31", "x", geo.DefaultSearchLimit, ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, _, err := parseSearch(tt.raw)
			if tt.mention != "" {
				if geo.ErrorCode(err) != geo.EInvalid || !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("parseSearch(%q): got %v, want an %s error mentioning %q", tt.raw, err, geo.EInvalid, tt.mention)
				}
				return
			}
			if err != nil || q.Q != tt.wantQ || q.Limit != tt.wantLimit {
				t.Errorf("parseSearch(%q) = %+v, %v; want q %q limit %d", tt.raw, q, err, tt.wantQ, tt.wantLimit)
			}
		})
	}
}
