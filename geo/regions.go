package geo

import (
	"context"
	"encoding/json"
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
	Level string `json:"level"` // one of RegionLevels
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
	// Figures are its region_figures, a JSON object written by the
	// database whose members are named as figureColumns lists them.
	Figures json.RawMessage `json:"figures"`
	// ProjectsByCategory and ProjectsByStatus count its projects; every
	// category and status is listed, 0 where it has none.
	ProjectsByCategory map[string]int `json:"projects_by_category"`
	ProjectsByStatus   map[string]int `json:"projects_by_status"`
}

// Region is one step of the drill-down: a region, the path to it from the
// top region, and its children with the same figures.
type Region struct {
	RegionSummary
	// Breadcrumb runs from the top region down to the region itself.
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
	Projects []json.RawMessage `json:"projects"`
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

// regionCode is a statistical code of the country, a province, a city or
// a county (6 digits), a township (9) or a village (12).
var regionCode = regexp.MustCompile(`^([0-9]{6}|[0-9]{9}|[0-9]{12})$`)

// IsRegionCode reports whether s has the form of a region's statistical
// code (6, 9 or 12 digits); whether a region has it is the data's to say.
func IsRegionCode(s string) bool { return regionCode.MatchString(s) }

// villageCodeLen is the length of a village's code, the only level whose
// code length is its own.
const villageCodeLen = 12

// bboxColumn is the bounding box of region g: of its boundary, or of its
// point when it has none. The box is made once and its corners read from
// it: ST_XMin and the others of a geometry each make its box, and a
// province's boundary (贵州: 21,000 points, 100 KB stored compressed)
// costs some 0.7 ms a time to read and measure.
const bboxColumn = `(SELECT ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)] FROM box3d(coalesce(g.boundary, g.point)) b)`

// breadcrumbColumn is the path from the top region down to region g, g
// included, as a JSON array of {code, name, level}. region_lineage
// (migrations/003_parents.sql) follows parent_code up: a code says
// nothing of where a region sits.
const breadcrumbColumn = `(SELECT json_agg(json_build_object('code', a.code, 'name', a.name, 'level', a.level) ORDER BY l.n)
	FROM unnest(region_lineage(g.code)) WITH ORDINALITY l (code, n) JOIN regions a ON a.code = l.code)`

// summaryColumns are what scanSummary reads, over summaryFrom.
const summaryColumns = "f.code, f.name, f.level, " + bboxColumn + ", f.poverty_status, f.exit_year, f.demonstration, to_json(figures)"

// summaryFrom is regionFrom with each region's figures as one record.
var summaryFrom = regionFrom + "\n" + lateralRecord("figures", figureColumns)

// The drill-down's SQL.
var (
	regionSQL   = "SELECT " + summaryColumns + ", " + breadcrumbColumn + "\nFROM " + summaryFrom + "\nWHERE f.code = $1"
	childrenSQL = "SELECT " + summaryColumns + "\nFROM " + summaryFrom + "\nWHERE f.parent_code = $1\nORDER BY f.code"
	// villageProjectsSQL lists the projects serving village $1, each the
	// properties of its feature in the projects collection.
	villageProjectsSQL = Projects.propertiesSQL("village")
)

// projectCountsSQL counts the projects of region $1 and of its children by
// category and status. Where a project counts is counted_in's to say
// (migrations/003_parents.sql), the definition refresh_rollups sums the
// figures by, so the counts add up to each region's projects figure.
// Walked from $1, it reaches only what lies under $1.
const projectCountsSQL = `
SELECT c.region_code, p.category, p.status, count(*)::int
FROM counted_in(ARRAY[$1::text]) c
JOIN projects p ON p.code = c.project_code
WHERE c.project_code IS NOT NULL AND c.region_code IN (SELECT code FROM regions WHERE code = $1 OR parent_code = $1)
GROUP BY c.region_code, p.category, p.status`

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
	if err := checkCode(code); err != nil {
		return nil, err
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
		r.Village = &VillageDetail{Projects: []json.RawMessage{}, Relocation: []Assignment{}}
		b.Queue(villageProjectsSQL, code).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var p json.RawMessage
				if err := rows.Scan(&p); err != nil {
					return err
				}
				r.Village.Projects = append(r.Village.Projects, p)
			}
			return rows.Err()
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

// TopRegion is a region at the top of the hierarchy, one without a
// parent: where a drill-down starts.
type TopRegion struct {
	RegionRef
	// BBox is minLon, minLat, maxLon, maxLat of its boundary, or of its
	// point when it has none.
	BBox []float64 `json:"bbox"`
}

// topRegionsSQL lists the regions without a parent, by code.
const topRegionsSQL = `
SELECT g.code, g.name, g.level, ` + bboxColumn + `
FROM regions g
WHERE g.parent_code IS NULL
ORDER BY g.code`

// rootRegionSQL reads region $1, or, when $1 is NULL, the first region
// without a parent by code.
const rootRegionSQL = `
SELECT g.code, g.name, g.level, ` + bboxColumn + `
FROM regions g
WHERE g.code = $1 OR ($1::text IS NULL AND g.parent_code IS NULL)
ORDER BY g.code
LIMIT 1`

// TopRegions lists the regions that have no parent, by code: the tops of
// the drill-down (the demo data has one, Zunyi; a national load one, the
// country). A database without regions has none, which is an empty list,
// not an error.
func TopRegions(ctx context.Context, db DB) ([]TopRegion, error) {
	rows, err := db.Query(ctx, topRegionsSQL)
	if err != nil {
		return nil, fmt.Errorf("top regions: %w", err)
	}
	tops, err := pgx.CollectRows(rows, scanTopRegion)
	if err != nil {
		return nil, fmt.Errorf("top regions: %w", err)
	}
	if tops == nil {
		tops = []TopRegion{}
	}
	return tops, nil
}

// RootRegion reads the region the pages open on: the region with code
// root, or, when root is "", the first region without a parent by code
// (so that data with several tops opens on the same one every time).
// ENotFound when there is no such region (no data yet, or a root the data
// lacks).
func RootRegion(ctx context.Context, db DB, root string) (*TopRegion, error) {
	arg := &root
	if root == "" {
		arg = nil
	}
	rows, err := db.Query(ctx, rootRegionSQL, arg)
	if err != nil {
		return nil, fmt.Errorf("root region: %w", err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanTopRegion)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && root != "":
		return nil, Errorf(ENotFound, "no region has the code %s, which the server was told to open on (--root)", root)
	case errors.Is(err, pgx.ErrNoRows):
		return nil, Errorf(ENotFound, "there are no regions yet")
	case err != nil:
		return nil, fmt.Errorf("root region: %w", err)
	}
	return &t, nil
}

// scanTopRegion reads a TopRegion from code, name, level and bbox.
func scanTopRegion(row pgx.CollectableRow) (TopRegion, error) {
	var t TopRegion
	err := row.Scan(&t.Code, &t.Name, &t.Level, &t.BBox)
	return t, err
}

// scanSummary reads summaryColumns from row, then any extra columns into
// extra.
func scanSummary(row pgx.Row, extra ...any) (RegionSummary, error) {
	s := RegionSummary{
		ProjectsByCategory: zeroCounts(ProjectCategories.Strings()),
		ProjectsByStatus:   zeroCounts(ProjectStatuses.Strings()),
	}
	dest := []any{&s.Code, &s.Name, &s.Level, &s.BBox, &s.Status, &s.ExitYear, &s.Demonstration, &s.Figures}
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
