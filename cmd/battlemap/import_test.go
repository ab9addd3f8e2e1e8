package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/geo/terrain"
)

// siteCSV is one valid new relocation site.
const siteCSV = "code,name,type,county_code,capacity_households,capacity_people,progress,status,lon,lat\n" +
	"520302-S90,新建安置点,rural,520302,100,400,50,planned,106.9,27.64\n"

// runImport runs battlemap with args and env and returns its exit
// status, stdout and stderr.
func runImport(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if xerr, ok := err.(*exec.ExitError); ok {
		code = xerr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// writeFile writes content to name in a temporary directory and returns
// its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportUsage checks that a wrong import command line ends with
// status 2 and one line saying what is wrong, before any database is
// opened.
func TestImportUsage(t *testing.T) {
	csv := writeFile(t, "sites.csv", siteCSV)
	txt := writeFile(t, "sites.txt", siteCSV)
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no layer", []string{"import", csv}, nil, "--layer"},
		{"unknown layer", []string{"import", "--layer", "rivers", csv}, nil, "--layer"},
		{"a DEM and a layer", []string{"import", "--dem", csv, "--layer", "sites"}, nil, "--dem FILE.tif"},
		{"a DEM and a file", []string{"import", "--dem", csv, csv}, nil, "--dem FILE.tif"},
		{"no such DEM", []string{"import", "--dem", csv + ".missing.tif"}, nil, "cannot read the DEM"},
		{"no file", []string{"import", "--layer", "sites"}, nil, "usage: battlemap import"},
		{"two files", []string{"import", "--layer", "sites", csv, csv}, nil, "usage: battlemap import"},
		{"format not in the name", []string{"import", "--layer", "sites", txt}, nil, "cannot tell the format"},
		{"no such file", []string{"import", "--layer", "sites", csv + ".missing.csv"}, nil, "cannot read the import file"},
		{"enable-import that is not a boolean", []string{"serve"}, []string{"BATTLEMAP_ENABLE_IMPORT=maybe"}, "BATTLEMAP_ENABLE_IMPORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A database that cannot be reached: usage errors come first.
			env := append([]string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}, tt.env...)
			code, _, stderr := runImport(t, env, tt.args...)
			msg := strings.TrimSpace(stderr)
			if code != 2 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("got status %d, stderr %q; want 2 and one line mentioning %q", code, msg, tt.want)
			}
		})
	}
}

// TestImportCommand imports a good file (status 0, the report on stdout,
// progress in the log) and a bad one (status 1, the report of its
// rejections, nothing written).
func TestImportCommand(t *testing.T) {
	pool := pgtest.New(t)
	env := []string{"DATABASE_URL=" + pool.Config().ConnString()}
	count := func() int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'import'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name     string
		file     string
		content  string
		status   int
		inserted float64
		rejected int
	}{
		{"good CSV", "sites.csv", siteCSV, 0, 1, 0},
		{"GeoJSON with the extension in capitals", "SITES.GEOJSON", `{"type":"FeatureCollection","features":[` +
			`{"type":"Feature","geometry":{"type":"Point","coordinates":[106.91,27.65]},"properties":{"code":"520302-S91",` +
			`"name":"又一个安置点","type":"town","county_code":"520302","capacity_households":10,"capacity_people":40,` +
			`"progress":0,"status":"planned"}}]}`, 0, 1, 0},
		{"rejected CSV", "sites.csv", strings.Replace(siteCSV, "planned", "lost", 1), 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count()
			code, stdout, stderr := runImport(t, env, "import", "--layer", "sites", writeFile(t, tt.file, tt.content))
			if code != tt.status {
				t.Fatalf("status %d, want %d; stderr:\n%s", code, tt.status, stderr)
			}
			var rep struct {
				Layer    string
				Inserted float64
				Rejected []struct{ Line int }
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout)
			}
			if rep.Layer != "sites" || rep.Inserted != tt.inserted || len(rep.Rejected) != tt.rejected {
				t.Errorf("report %s, want %v inserted and %d rejected", stdout, tt.inserted, tt.rejected)
			}
			if tt.rejected > 0 && rep.Rejected[0].Line != 2 {
				t.Errorf("rejection at line %d, want 2", rep.Rejected[0].Line)
			}
			// stderr is no terminal: the progress comes as log lines, a
			// line at each phase.
			if want := `msg="import: progress" phase=committing`; tt.status == 0 && !strings.Contains(stderr, want) {
				t.Errorf("stderr %q, want a progress line %s", stderr, want)
			}
			wantAudits := before
			if tt.status == 0 {
				wantAudits++
			}
			if got := count(); got != wantAudits {
				t.Errorf("import audit rows: got %d, want %d", got, wantAudits)
			}
		})
	}
}

// TestImportDEMCommand imports a GeoTIFF DEM (status 0, the report on
// stdout, the terrain replaced) and a file that is none (status 1, a
// line saying what is wrong, nothing written).
func TestImportDEMCommand(t *testing.T) {
	pool := pgtest.New(t)
	env := []string{"DATABASE_URL=" + pool.Config().ConnString()}
	g := &terrain.Grid{Width: 50, Height: 40, OriginX: 680_000, OriginY: 3_080_000, Cell: 200, EPSG: 32648, NoData: -9999,
		Values: make([]float32, 50*40)}
	for i := range g.Values {
		g.Values[i] = 1234
	}
	var tif bytes.Buffer
	if err := g.WriteGeoTIFF(&tif); err != nil {
		t.Fatal(err)
	}
	tiles := func() (n int) {
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM terrain WHERE ST_Width(rast) = 50`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	code, stderr := 0, ""
	if code, _, stderr = runImport(t, env, "import", "--dem", writeFile(t, "dem.txt", "not a tiff")); code != 1 ||
		!strings.Contains(stderr, "must be a GeoTIFF") || tiles() != 0 {
		t.Errorf("a text file: status %d, stderr %q, %d tiles; want 1, a line saying it must be a GeoTIFF, the terrain kept", code, stderr, tiles())
	}
	code, stdout, stderr := runImport(t, env, "import", "--dem", writeFile(t, "dem.tif", tif.String()))
	var rep struct {
		Layer string
		Tiles int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Layer != "terrain" || rep.Tiles != 1 || tiles() != 1 {
		t.Errorf("a DEM: status %d, stdout %s, stderr %s; want 0 and a report of the one tile stored", code, stdout, stderr)
	}
}
