package main

import (
	"strings"
	"testing"
)

// TestParseFlagsNational checks that the national scenario gets exactly
// one national database, and only it, and that the recorded command
// never holds a database URL.
func TestParseFlagsNational(t *testing.T) {
	const demo, nat = "postgres://u:secret@/demo", "postgres://u:secret@/national"
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for none
	}{
		{"data set", []string{"-scenario", "national", "-national-data", "/tmp/national"}, ""},
		{"loaded database", []string{"-scenario", "national", "-national-database-url", nat}, ""},
		{"neither", []string{"-scenario", "national"}, "needs -national-data"},
		{"both", []string{"-scenario", "national", "-national-data", "/tmp/national", "-national-database-url", nat}, "give one"},
		{"without the scenario", []string{"-scenario", "tiles", "-national-data", "/tmp/national"}, "are for -scenario national"},
		{"the demo's database", []string{"-scenario", "national", "-national-database-url", demo}, "give each its own"},
		{"default list", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, command, err := parseFlags(append([]string{"-database-url", demo}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(command, "secret") {
				t.Errorf("the command %q holds a URL", command)
			}
			if tt.args == nil && strings.Contains(strings.Join(cfg.scenarios, ","), "national") {
				t.Errorf("the default list %v holds the national scenario", cfg.scenarios)
			}
		})
	}
}
