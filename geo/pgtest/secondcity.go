package pgtest

import (
	"context"
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// SecondCity is a made-up city that AddSecondCity loads beside Zunyi: one
// county, one township, one village, one relocation site and one project,
// with codes of another prefecture (5204…), so that tests can show that
// nothing is bound to Zunyi's codes.
var SecondCity = struct {
	City, County, Township, Village, Site, Project string
	// The village's figures, rolled up unchanged into every region above it.
	Population, PoorHouseholds, PoorPopulation int
	// The assignment of the village to the site.
	RelocationHouseholds, RelocationPeople int
	// The site's capacity and the project's funds.
	SiteCapacityPeople, FundsPlanned int
}{
	City: "520400", County: "520402", Township: "520402001", Village: "520402001001",
	Site: "520402-S01", Project: "520402-P001",
	Population: 1200, PoorHouseholds: 40, PoorPopulation: 150,
	RelocationHouseholds: 10, RelocationPeople: 35,
	SiteCapacityPeople: 300, FundsPlanned: 2_000_000,
}

// AddSecondCity loads SecondCity into db, south-west of Zunyi so that no
// shape overlaps it, one statement per table as an editor would make
// them, so that each statement's triggers refresh the rollups as an
// edit's do.
func AddSecondCity(t testing.TB, db geo.DB) {
	t.Helper()
	c := SecondCity
	steps := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO regions (code, name, level, boundary, point)
		  VALUES ($1, '测试市', 'city', ST_Multi(ST_MakeEnvelope(105.0, 25.8, 105.6, 26.2, 4326)), ST_Point(105.3, 26.0, 4326))`,
			[]any{c.City}},
		{`INSERT INTO regions (code, name, level, parent_code, boundary, point)
		  VALUES ($1, '测试区', 'county', $2, ST_Multi(ST_MakeEnvelope(105.0, 25.8, 105.6, 26.2, 4326)), ST_Point(105.3, 26.0, 4326))`,
			[]any{c.County, c.City}},
		{`INSERT INTO regions (code, name, level, parent_code, boundary, point)
		  VALUES ($1, '测试镇', 'township', $2, ST_Multi(ST_MakeEnvelope(105.1, 25.9, 105.4, 26.1, 4326)), ST_Point(105.2, 26.0, 4326))`,
			[]any{c.Township, c.County}},
		{`INSERT INTO regions (code, name, level, parent_code, point, poverty_status)
		  VALUES ($1, '测试村村民委员会', 'village', $2, ST_Point(105.25, 26.05, 4326), 'not_exited')`,
			[]any{c.Village, c.Township}},
		{`INSERT INTO villages (code, population, poor_households, poor_population) VALUES ($1, $2, $3, $4)`,
			[]any{c.Village, c.Population, c.PoorHouseholds, c.PoorPopulation}},
		{`INSERT INTO sites (code, name, type, county_code, township_code, geom, capacity_households, capacity_people, progress, status)
		  VALUES ($1, '测试安置点', 'town', $2, $3, ST_Point(105.2, 26.0, 4326), 100, $4, 40, 'under_construction')`,
			[]any{c.Site, c.County, c.Township, c.SiteCapacityPeople}},
		{`INSERT INTO relocation_assignments (village_code, site_code, households, people) VALUES ($1, $2, $3, $4)`,
			[]any{c.Village, c.Site, c.RelocationHouseholds, c.RelocationPeople}},
		{`INSERT INTO projects (code, name, category, fund_use, county_code, village_code, geom, funds_planned, completion, status)
		  VALUES ($1, '测试村通组路', 'road', 'public_facilities', $2, $3, ST_Point(105.26, 26.05, 4326), $4, 30, 'under_construction')`,
			[]any{c.Project, c.County, c.Village, c.FundsPlanned}},
	}
	for _, s := range steps {
		if _, err := db.Exec(context.Background(), s.sql, s.args...); err != nil {
			t.Fatalf("pgtest: second city: %v\n%s", err, s.sql)
		}
	}
}

// AddProvince loads SecondCity (AddSecondCity) and puts it and Zunyi
// under a province (520000, 贵州省) under the country (100000), as a
// national load files them.
func AddProvince(t testing.TB, db geo.DB) {
	t.Helper()
	AddSecondCity(t, db)
	for _, sql := range []string{
		`INSERT INTO regions (code, name, level, boundary, point)
		 VALUES ('100000', '中华人民共和国', 'country', ST_Multi(ST_MakeEnvelope(73, 18, 135, 54, 4326)), ST_Point(104, 35, 4326))`,
		`INSERT INTO regions (code, name, level, parent_code, boundary, point)
		 VALUES ('520000', '贵州省', 'province', '100000', ST_Multi(ST_MakeEnvelope(103.5, 24.5, 109.6, 29.3, 4326)), ST_Point(106.7, 26.6, 4326))`,
		`UPDATE regions SET parent_code = '520000' WHERE code IN ('520300', '` + SecondCity.City + `')`,
	} {
		if _, err := db.Exec(context.Background(), sql); err != nil {
			t.Fatalf("pgtest: province: %v\n%s", err, sql)
		}
	}
}
