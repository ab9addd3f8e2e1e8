package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
	"github.com/zunyi/battlemap/geo"
)

// fixtureSrc is a tiny synthetic source tree in the packages' layout (made
// up codes under province 99, squares for boundaries): see
// testdata/README.md.
const fixtureSrc = "testdata/src"

// readFixture reads the fixture's boundaries and lists.
func readFixture(t *testing.T) ([]shapeFile, lists) {
	t.Helper()
	files, err := readShapes(fixtureSrc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := readLists(fixtureSrc, "")
	if err != nil {
		t.Fatal(err)
	}
	return files, l
}

func TestBuildHierarchy(t *testing.T) {
	files, l := readFixture(t)
	h, err := buildHierarchy(files, l, "")
	if err != nil {
		t.Fatal(err)
	}
	codes := func(rs []region) (out []string) {
		for _, r := range rs {
			out = append(out, r.Code+" "+r.Name+" ← "+r.Parent)
		}
		return out
	}
	var counties []region
	for _, c := range h.Counties {
		counties = append(counties, c.region)
	}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"provinces padded to six digits under the country", codes(h.Provinces), []string{"990000 测试省 ← 100000"}},
		{"cities: listed, named after the province when unnamed, made when missing", codes(h.Cities), []string{
			"990100 甲市 ← 990000",
			"990200 测试省市辖区 ← 990000",
			"990400 测试省直辖县级行政区划 ← 990000",
		}},
		{"counties: by code, by name in a file without ids, by name stem", codes(counties), []string{
			"990101 甲一区 ← 990100",
			"990102 甲二县 ← 990100",
			"990181 乙丙市 ← 990100",
			"990201 丙区 ← 990200",
			"990202 丁县 ← 990200",
			"990401 己县 ← 990400",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.got) != len(tt.want) {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
			for i := range tt.got {
				if tt.got[i] != tt.want[i] {
					t.Errorf("row %d: got %q, want %q", i, tt.got[i], tt.want[i])
				}
			}
		})
	}
	if len(h.Townships) != 13 || len(h.Villages) != 78 {
		t.Errorf("got %d townships and %d villages, want 13 and 78", len(h.Townships), len(h.Villages))
	}
	for _, c := range h.Counties {
		if c.Shape.Code != c.Code || c.Shape.Name != c.Name || len(c.Shape.Shape) == 0 {
			t.Errorf("county %s: boundary %s %s with %d polygons", c.Code, c.Shape.Code, c.Shape.Name, len(c.Shape.Shape))
		}
	}
	want := skipped{
		CountiesWithoutShape: 2, // 990171, a development zone; 990402, whose boundary is empty
		CountiesWithCityCode: 1, // 990500
		Townships:            3, Villages: 18,
		ShapesWithoutCounty: 2, // 710101 and the empty one
		MatchedByName:       3, // 丙区, 丁县, 乙丙县 → 乙丙市
		CitiesAdded:         1, // 9904
		OrphanTownships:     1, OrphanVillages: 1,
	}
	if h.Skipped != want {
		t.Errorf("got skipped %+v, want %+v", h.Skipped, want)
	}

	one, err := buildHierarchy(files, l, "98")
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Counties)+len(one.Provinces)+len(one.Villages) != 0 {
		t.Errorf("-province 98: got %d counties, want none", len(one.Counties))
	}
}

func TestNameStem(t *testing.T) {
	for in, want := range map[string]string{
		"神木县":  "神木",
		"神木市":  "神木",
		"城区":   "城区", // a stem of one character says too little
		"盘县":   "盘县",
		"红花岗区": "红花岗",
		"仁怀":   "仁怀",
	} {
		if got := nameStem(in); got != want {
			t.Errorf("nameStem(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestVillageFigures(t *testing.T) {
	statuses := map[string]int{}
	for i := range 20000 {
		v := villageOf(fmt.Sprintf("52%010d", i), "测试村")
		f := villageFigures(v, townshipOf(v, "测试镇"), "测试县")
		statuses[f.Poverty]++
		checkFigures(t, v.Code, f)
	}
	for _, s := range []string{statusNone, statusNotExited, statusExited} {
		if statuses[s] == 0 {
			t.Errorf("no village of status %s in 20,000", s)
		}
	}
	for _, name := range []string{"测试社区", "测试居民委员会"} {
		v := villageOf("520100000001", name)
		if f := villageFigures(v, townshipOf(v, "测试镇"), "测试县"); f.Poverty != statusNone {
			t.Errorf("community %s: got status %s, want none", name, f.Poverty)
		}
	}
}

// villageOf and townshipOf make a village and its township from a code.
func villageOf(code, name string) gazetteer.Village {
	return gazetteer.Village{Code: code, Name: name, TownshipCode: code[:9], CountyCode: code[:6]}
}

func townshipOf(v gazetteer.Village, name string) gazetteer.Township {
	return gazetteer.Township{Code: v.TownshipCode, Name: name, CountyCode: v.CountyCode}
}

// checkFigures checks a village's figures against the villages' CHECK
// constraints and the exit standard (migrations/001, 017).
func checkFigures(t *testing.T, code string, f figures) {
	t.Helper()
	switch {
	case f.Population <= 0 || f.PoorPeople < 0 || f.PoorHouseholds < 0:
		t.Errorf("village %s: negative or empty figures %+v", code, f)
	case f.PoorPeople > f.Population:
		t.Errorf("village %s: %d poor people of %d", code, f.PoorPeople, f.Population)
	case f.PoorHouseholds > f.PoorPeople || (f.PoorPeople > 0) != (f.PoorHouseholds > 0):
		t.Errorf("village %s: %d poor households for %d poor people", code, f.PoorHouseholds, f.PoorPeople)
	case (f.ExitYear != 0) != (f.Poverty == statusExited):
		t.Errorf("village %s: exit year %d with status %s", code, f.ExitYear, f.Poverty)
	case f.Poverty == statusExited && float64(f.PoorPeople)/float64(f.Population) >= 0.03:
		t.Errorf("village %s: exited with incidence %d/%d", code, f.PoorPeople, f.Population)
	case (f.PairingLevel == "") != (f.PairingUnit == ""):
		t.Errorf("village %s: pairing level %q with unit %q", code, f.PairingLevel, f.PairingUnit)
	}
}

// TestCatalogue holds the files' columns and values to the catalogue the
// importer checks them by: every column of villages.csv but the point is
// a field of the villages table, every required field is a column, and
// the statuses and pairing levels written are its enumerations' values.
func TestCatalogue(t *testing.T) {
	fields := map[string]bool{}
	for _, f := range geo.VillageTable.Fields {
		fields[f.Name] = true
		if f.Required && !slices.Contains(villagesHeader, f.Name) {
			t.Errorf("required field %s is no column of %s", f.Name, villagesFile)
		}
	}
	for _, c := range villagesHeader {
		if !fields[c] && c != "lon" && c != "lat" {
			t.Errorf("column %s of %s is no field of the villages table", c, villagesFile)
		}
	}
	for _, s := range []string{statusNone, statusNotExited, statusExited} {
		if !geo.PovertyStatuses.Has(s) {
			t.Errorf("poverty status %q is not in the catalogue", s)
		}
	}
	for _, l := range []string{pairingCity, pairingCounty} {
		if !geo.PairingLevels.Has(l) {
			t.Errorf("pairing level %q is not in the catalogue", l)
		}
	}
}
