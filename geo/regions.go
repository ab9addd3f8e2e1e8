package geo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RegionRef names a region.
type RegionRef struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Level string `json:"level"` // city, county, township or village
}

// RegionSummary is a region with its figures rolled up from everything
// inside it.
type RegionSummary struct {
	RegionRef
	// BBox is minLon, minLat, maxLon, maxLat of its boundary, or of its
	// point for a village without one.
	BBox []float64 `json:"bbox"`
	// Status, ExitYear and Demonstration are the region's own: a township
	// or a village can be a poverty unit or a demonstration point itself.
	Status        string `json:"status"`
	ExitYear      *int16 `json:"exit_year"`
	Demonstration bool   `json:"demonstration"`
	// Figures are its region_figures, named as figureColumns lists them.
	Figures Record `json:"figures"`
	// ProjectsByCategory and ProjectsByStatus count its projects; every
	// category and status is listed, 0 where it has none.
	ProjectsByCategory map[string]int `json:"projects_by_category"`
	ProjectsByStatus   map[string]int `json:"projects_by_status"`
}

// Region is one step of the drill-down: a region, the path to it from the
// city, and its children with the same figures.
type Region struct {
	RegionSummary
	// Breadcrumb runs from the city down to the region itself.
	Breadcrumb []RegionRef `json:"breadcrumb"`
	// Children are the regions one level down, by code; none for a village.
	Children []RegionSummary `json:"children"`
	// Village is what only a village has; nil for other levels.
	Village *VillageDetail `json:"village,omitempty"`
}

// VillageDetail is what the drill-down shows of a village beyond figures.
type VillageDetail struct {
	// Projects are the projects serving the village, with the properties
	// of the projects collection.
	Projects []Record `json:"projects"`
	// Relocation lists where the village's relocated people move.
	Relocation []Assignment `json:"relocation"`
}

// Assignment is the households and people of a village assigned to move
// to a relocation site.
type Assignment struct {
	SiteCode   string `json:"site_code"`
	SiteName   string `json:"site_name"`
	SiteType   string `json:"site_type"`
	SiteStatus string `json:"site_status"`
	Households int32  `json:"households"`
	People     int32  `json:"people"`
}

// regionCode is a statistical code of a city or county (6 digits), a
// township (9) or a village (12).
var regionCode = regexp.MustCompile(`^([0-9]{6}|[0-9]{9}|[0-9]{12})$`)

// maxVillageProjects bounds the projects a village's drill-down lists;
// the most any village has is a handful.
const maxVillageProjects = 10_000

// villageCodeLen is the length of a village's code, the only level whose
// code length is its own.
const villageCodeLen = 12

// bboxColumn is the bounding box of region g: of its boundary, or of its
// point when it has none.
const bboxColumn = `ARRAY[ST_XMin(coalesce(g.boundary, g.point)), ST_YMin(coalesce(g.boundary, g.point)),
	ST_XMax(coalesce(g.boundary, g.point)), ST_YMax(coalesce(g.boundary, g.point))]`

// levelOrder ranks region g's level from the city (1) down to villages (4).
const levelOrder = `array_position(ARRAY['city', 'county', 'township', 'village'], g.level)`

// breadcrumbColumn is the path from the city down to region g, g included,
// as a JSON array of {code, name, level}. Codes are hierarchical (the
// schema rejects a region whose parent is not its code's prefix), so the
// ancestors are the regions whose codes are g's prefixes: no recursion.
const breadcrumbColumn = `(SELECT json_agg(json_build_object('code', a.code, 'name', a.name, 'level', a.level)
		ORDER BY array_position(ARRAY['city', 'county', 'township', 'village'], a.level))
	FROM regions a WHERE a.code IN (left(g.code, 4) || '00', left(g.code, 6), left(g.code, 9), g.code))`

// summaryColumns are what scanSummary reads, over regionFrom.
var summaryColumns = "f.code, f.name, f.level, " + bboxColumn + ", f.poverty_status, f.exit_year, f.demonstration, " +
	selectList(figureColumns)

// The drill-down's SQL.
var (
	regionSQL   = "SELECT " + summaryColumns + ", " + breadcrumbColumn + "\nFROM " + regionFrom + "\nWHERE f.code = $1"
	childrenSQL = "SELECT " + summaryColumns + "\nFROM " + regionFrom + "\nWHERE f.parent_code = $1\nORDER BY f.code"
)

// projectCountsSQL counts the projects of region $1 and of its children by
// category and status. A project counts where region_rollups counts it:
// in its village and that village's township when it serves one, and in
// its county and city always.
const projectCountsSQL = `
SELECT r.code, p.category, p.status, count(*)::int
FROM regions r
JOIN projects p ON starts_with(coalesce(p.village_code, p.county_code),
	CASE WHEN r.level = 'city' THEN left(r.code, 4) ELSE r.code END)
WHERE r.code = $1 OR r.parent_code = $1
GROUP BY r.code, p.category, p.status`

// assignmentsSQL lists where the people of village $1 move.
const assignmentsSQL = `
SELECT a.site_code, s.name, s.type, s.status, a.households, a.people
FROM relocation_assignments a JOIN sites s ON s.code = a.site_code
WHERE a.village_code = $1
ORDER BY a.site_code`

// DrillDown reads one drill-down step: the region with statistical code
// code, its breadcrumb, its figures and its children's, and for a village
// its projects and relocation assignments, all from one snapshot. A
// malformed code is EInvalid; a code no region has is ENotFound.
func DrillDown(ctx context.Context, db DB, code string) (*Region, error) {
	if !regionCode.MatchString(code) {
		return nil, Errorf(EInvalid, "code must be a statistical code of 6 (city, county), 9 (township) or 12 (village) digits (got %s)", Quote(code))
	}
	r := &Region{Children: []RegionSummary{}}
	type count struct {
		code, category, status string
		n                      int
	}
	var counts []count
	b := snapshot(db)
	b.Queue(regionSQL, code).QueryRow(func(row pgx.Row) error {
		var err error
		r.RegionSummary, err = scanSummary(row, &r.Breadcrumb)
		return err
	})
	b.Queue(childrenSQL, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s, err := scanSummary(rows)
			if err != nil {
				return err
			}
			r.Children = append(r.Children, s)
		}
		return rows.Err()
	})
	b.Queue(projectCountsSQL, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var c count
			if err := rows.Scan(&c.code, &c.category, &c.status, &c.n); err != nil {
				return err
			}
			counts = append(counts, c)
		}
		return rows.Err()
	})
	if len(code) == villageCodeLen {
		r.Village = &VillageDetail{Projects: []Record{}, Relocation: []Assignment{}}
		projects := Projects
		// Every project of the village: far fewer than the limit.
		sel := projects.Select(maxVillageProjects).with("village", code)
		b.Queue(projects.pageSQL, sel.pageArgs()...).Query(func(rows pgx.Rows) error {
			fs, err := projects.scanFeatures(rows)
			for _, f := range fs {
				r.Village.Projects = append(r.Village.Projects, f.Properties)
			}
			return err
		})
		b.Queue(assignmentsSQL, code).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var a Assignment
				if err := rows.Scan(&a.SiteCode, &a.SiteName, &a.SiteType, &a.SiteStatus, &a.Households, &a.People); err != nil {
					return err
				}
				r.Village.Relocation = append(r.Village.Relocation, a)
			}
			return rows.Err()
		})
	}
	err := send(ctx, db, b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "no region has the code %s", code)
	}
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", code, err)
	}
	summaries := map[string]*RegionSummary{r.Code: &r.RegionSummary}
	for i := range r.Children {
		summaries[r.Children[i].Code] = &r.Children[i]
	}
	for _, c := range counts {
		summaries[c.code].ProjectsByCategory[c.category] += c.n
		summaries[c.code].ProjectsByStatus[c.status] += c.n
	}
	return r, nil
}

// scanSummary reads summaryColumns from row, then any extra columns into
// extra.
func scanSummary(row pgx.Row, extra ...any) (RegionSummary, error) {
	s := RegionSummary{
		Figures:            Record{Columns: figureColumns, Values: make([]any, len(figureColumns))},
		ProjectsByCategory: zeroCounts(ProjectCategories.Strings()),
		ProjectsByStatus:   zeroCounts(ProjectStatuses.Strings()),
	}
	dest := []any{&s.Code, &s.Name, &s.Level, &s.BBox, &s.Status, &s.ExitYear, &s.Demonstration}
	for i := range s.Figures.Values {
		dest = append(dest, &s.Figures.Values[i])
	}
	return s, row.Scan(append(dest, extra...)...)
}

func zeroCounts(keys []string) map[string]int {
	m := make(map[string]int, len(keys))
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// selectList is the SELECT list of cols, each named for its column.
func selectList(cols []Column) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c.sql + " AS " + pgx.Identifier{c.Name}.Sanitize()
	}
	return strings.Join(sel, ", ")
}
