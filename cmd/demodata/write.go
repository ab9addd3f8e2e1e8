package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/zunyi/battlemap/cmd/internal/gazetteer"
)

// Header rows of the CSV files. The loader's staging tables have these
// columns, and COPY … HEADER MATCH checks them.
var (
	townshipsHeader       = []string{"code", "name", "county_code", "lon", "lat", "poverty_status", "exit_year", "demonstration"}
	villagesHeader        = []string{"code", "name", "township_code", "county_code", "lon", "lat", "poverty_status", "exit_year", "poor_households", "poor_population", "population", "demonstration", "pairing_level", "pairing_unit", "cooperatives"}
	sitesHeader           = []string{"code", "name", "type", "county_code", "township_code", "lon", "lat", "capacity_households", "capacity_people", "moved_in_households", "moved_in_people", "progress", "status", "planned_completion"}
	projectsHeader        = []string{"code", "name", "category", "fund_use", "county_code", "village_code", "wkt", "funds_planned", "funds_disbursed", "completion", "status", "start_date", "end_date"}
	assignmentsHeader     = []string{"village_code", "site_code", "households", "people"}
	hazardZonesHeader     = []string{"code", "name", "kind", "risk_level", "county_code", "wkt"}
	roadsHeader           = []string{"code", "name", "class", "county_code", "wkt"}
	servicesHeader        = []string{"code", "name", "kind", "county_code", "township_code", "lon", "lat"}
	historyVillagesHeader = []string{"date", "code", "poverty_status", "exit_year", "poor_households", "poor_population"}
	historySitesHeader    = []string{"date", "code", "moved_in_households", "moved_in_people", "progress", "status"}
	historyProjectsHeader = []string{"date", "code", "funds_disbursed", "completion", "status"}
	targetsHeader         = []string{"region_code", "year", "poor_people_out", "villages_exit", "relocation_people"}
)

// writeDataset writes every output file into dir, creating it if needed.
func writeDataset(dir string, ds *dataset) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		body func() ([]byte, error)
	}{
		{"counties.geojson", func() ([]byte, error) { return countiesJSON(ds.Counties) }},
		{"townships.csv", func() ([]byte, error) { return csvBytes(townshipsHeader, townshipRows(ds)) }},
		{"villages.csv", func() ([]byte, error) { return csvBytes(villagesHeader, villageRows(ds)) }},
		{"sites.csv", func() ([]byte, error) { return csvBytes(sitesHeader, siteRows(ds)) }},
		{"projects.csv", func() ([]byte, error) { return csvBytes(projectsHeader, projectRows(ds)) }},
		{"assignments.csv", func() ([]byte, error) { return csvBytes(assignmentsHeader, assignmentRows(ds)) }},
		{"hazard_zones.csv", func() ([]byte, error) { return csvBytes(hazardZonesHeader, hazardZoneRows(ds)) }},
		{"roads.csv", func() ([]byte, error) { return csvBytes(roadsHeader, roadRows(ds)) }},
		{"services.csv", func() ([]byte, error) { return csvBytes(servicesHeader, serviceRows(ds)) }},
		{"history_villages.csv", func() ([]byte, error) { return csvBytes(historyVillagesHeader, historyVillageRows(ds)) }},
		{"history_sites.csv", func() ([]byte, error) { return csvBytes(historySitesHeader, historySiteRows(ds)) }},
		{"history_projects.csv", func() ([]byte, error) { return csvBytes(historyProjectsHeader, historyProjectRows(ds)) }},
		{"targets.csv", func() ([]byte, error) { return csvBytes(targetsHeader, targetRows(ds)) }},
	}
	for _, f := range files {
		b, err := f.body()
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// csvBytes writes a header and rows, the rows sorted by their first
// column and then the rest (assignments, the histories by date and code,
// and the targets repeat a first column).
func csvBytes(header []string, rows [][]string) ([]byte, error) {
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// townshipRows formats the rows of townships.csv, in the header's column order.
func townshipRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Townships))
	for _, t := range ds.Townships {
		rows = append(rows, []string{
			t.Code, t.Name, t.CountyCode, lonText(t.Seat), latText(t.Seat),
			t.Poverty, optInt(t.ExitYear), boolText(t.Demonstration),
		})
	}
	return rows
}

// villageRows formats the rows of villages.csv, in the header's column order.
func villageRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Villages))
	for _, v := range ds.Villages {
		rows = append(rows, []string{
			v.Code, v.Name, v.TownshipCode, v.CountyCode, lonText(v.Point), latText(v.Point),
			v.Poverty, optInt(v.ExitYear), strconv.Itoa(v.PoorHouseholds), strconv.Itoa(v.PoorPopulation),
			strconv.Itoa(v.Population), boolText(v.Demonstration), v.PairingLevel, v.PairingUnit,
			strconv.Itoa(v.Cooperatives),
		})
	}
	return rows
}

// siteRows formats the rows of sites.csv, in the header's column order.
func siteRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Sites))
	for _, s := range ds.Sites {
		rows = append(rows, []string{
			s.Code, s.Name, s.Type, s.CountyCode, s.TownshipCode, lonText(s.Point), latText(s.Point),
			strconv.Itoa(s.CapacityHouseholds), strconv.Itoa(s.CapacityPeople),
			strconv.Itoa(s.MovedInHouseholds), strconv.Itoa(s.MovedInPeople),
			strconv.Itoa(s.Progress), s.Status, s.PlannedCompletion,
		})
	}
	return rows
}

// projectRows formats the rows of projects.csv, in the header's column order.
func projectRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Projects))
	for _, p := range ds.Projects {
		rows = append(rows, []string{
			p.Code, p.Name, p.Category, p.FundUse, p.CountyCode, p.VillageCode, p.WKT,
			strconv.Itoa(p.FundsPlanned), strconv.Itoa(p.FundsDisbursed), strconv.Itoa(p.Completion),
			p.Status, p.StartDate, p.EndDate,
		})
	}
	return rows
}

// assignmentRows formats the rows of assignments.csv, in the header's column order.
func assignmentRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Assignments))
	for _, a := range ds.Assignments {
		rows = append(rows, []string{a.VillageCode, a.SiteCode, strconv.Itoa(a.Households), strconv.Itoa(a.People)})
	}
	return rows
}

// hazardZoneRows formats the rows of hazard_zones.csv, in the header's column order.
func hazardZoneRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.HazardZones))
	for _, h := range ds.HazardZones {
		rows = append(rows, []string{h.Code, h.Name, h.Kind, h.RiskLevel, h.CountyCode, h.WKT})
	}
	return rows
}

// roadRows formats the rows of roads.csv, in the header's column order.
func roadRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Roads))
	for _, r := range ds.Roads {
		rows = append(rows, []string{r.Code, r.Name, r.Class, r.CountyCode, r.WKT})
	}
	return rows
}

// serviceRows formats the rows of services.csv, in the header's column order.
func serviceRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.Services))
	for _, s := range ds.Services {
		rows = append(rows, []string{s.Code, s.Name, s.Kind, s.CountyCode, s.TownshipCode, lonText(s.Point), latText(s.Point)})
	}
	return rows
}

// historyVillageRows formats the rows of history_villages.csv.
func historyVillageRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.History.Villages))
	for _, v := range ds.History.Villages {
		rows = append(rows, []string{
			v.Date.Format(time.DateOnly), v.Code, v.Poverty, optInt(v.ExitYear),
			strconv.Itoa(v.PoorHouseholds), strconv.Itoa(v.PoorPopulation),
		})
	}
	return rows
}

// historySiteRows formats the rows of history_sites.csv.
func historySiteRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.History.Sites))
	for _, s := range ds.History.Sites {
		rows = append(rows, []string{
			s.Date.Format(time.DateOnly), s.Code, strconv.Itoa(s.MovedInHouseholds), strconv.Itoa(s.MovedInPeople),
			strconv.Itoa(s.Progress), s.Status,
		})
	}
	return rows
}

// historyProjectRows formats the rows of history_projects.csv.
func historyProjectRows(ds *dataset) [][]string {
	rows := make([][]string, 0, len(ds.History.Projects))
	for _, p := range ds.History.Projects {
		rows = append(rows, []string{
			p.Date.Format(time.DateOnly), p.Code, strconv.Itoa(p.FundsDisbursed), strconv.Itoa(p.Completion), p.Status,
		})
	}
	return rows
}

// targetRows formats the rows of targets.csv: a figure not set is empty,
// which COPY reads as NULL.
func targetRows(ds *dataset) [][]string {
	figure := func(v int) string {
		if v == noTarget {
			return ""
		}
		return strconv.Itoa(v)
	}
	rows := make([][]string, 0, len(ds.History.Targets))
	for _, t := range ds.History.Targets {
		rows = append(rows, []string{
			t.RegionCode, strconv.Itoa(t.Year), figure(t.PoorPeopleOut), figure(t.VillagesExit), figure(t.RelocationPeople),
		})
	}
	return rows
}

// lonText and latText write a coordinate with six decimals, about 0.1 m.
func lonText(p orb.Point) string { return strconv.FormatFloat(p[0], 'f', 6, 64) }
func latText(p orb.Point) string { return strconv.FormatFloat(p[1], 'f', 6, 64) }

// optInt writes 0 as the empty string, which COPY reads as NULL.
func optInt(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

// boolText writes a flag as 1 or 0.
func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// countiesJSON writes the county boundaries as a GeoJSON
// FeatureCollection by hand, one feature per line, so that the bytes are
// fixed: coordinates in the shortest form that reads back exactly (they
// are on ECharts' 1/1024° grid, so nothing is lost), properties in a
// fixed order.
func countiesJSON(counties []gazetteer.County) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i, c := range counties {
		if i > 0 {
			b.WriteByte(',')
		}
		code, err := json.Marshal(c.Code)
		if err != nil {
			return nil, err
		}
		name, err := json.Marshal(c.Name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "\n"+`{"type":"Feature","properties":{"code":%s,"name":%s},"geometry":{"type":"MultiPolygon","coordinates":`, code, name)
		writeMultiPolygon(&b, c.Shape)
		b.WriteString("}}")
	}
	b.WriteString("\n]}\n")
	return b.Bytes(), nil
}

// writeMultiPolygon writes GeoJSON MultiPolygon coordinates.
func writeMultiPolygon(b *bytes.Buffer, mp orb.MultiPolygon) {
	var parts []string
	for _, poly := range mp {
		var rings []string
		for _, ring := range poly {
			pts := make([]string, len(ring))
			for k, p := range ring {
				pts[k] = "[" + strconv.FormatFloat(p[0], 'f', -1, 64) + "," + strconv.FormatFloat(p[1], 'f', -1, 64) + "]"
			}
			rings = append(rings, "["+strings.Join(pts, ",")+"]")
		}
		parts = append(parts, "["+strings.Join(rings, ",")+"]")
	}
	b.WriteString("[" + strings.Join(parts, ",") + "]")
}
