package geo

import (
	"slices"
	"strings"
)

// This file is battlemap's catalogue: what the map knows of each
// collection, its properties and their enumerations, written once. The
// OGC collections, the tile layers, the importer, the legend and style,
// the API definition and the pages derive from it; the schema's CHECK
// constraints stay as the last guard, and tests hold the two together.

// Column is one property of a collection's features, or one rolled-up
// figure of a region, and the SQL expression that yields it.
type Column struct {
	Name string
	// Type is the JSON Schema type of its values: "string", "integer",
	// "number" or "boolean". Any value may also be null.
	Type        string
	Description string
	sql         string
}

// Filter is a query parameter that narrows a collection's features to
// those whose property compares so with the value given.
type Filter struct {
	Param       string
	Description string
	kind        kind
	column      string // SQL expression compared with the value
	op          string // SQL comparison operator
}

// Type is the JSON Schema type of the filter's values.
func (f Filter) Type() string {
	switch f.kind.sqlType {
	case "boolean":
		return "boolean"
	case "integer":
		return "integer"
	}
	return "string"
}

// Allowed says in words what values the filter takes.
func (f Filter) Allowed() string { return f.kind.allowed }

// Values are the values an enumerated filter takes, nil for other filters.
func (f Filter) Values() []string { return f.kind.values }

// Enum is an enumeration: the values a stored field may take, each with
// its Chinese label and, where the map colours features by it, its legend
// colour. Constraint names the schema's CHECK constraint that allows the
// same values (a test reads it from pg_constraint and compares).
type Enum struct {
	// Name identifies the enumeration, in the catalogue served to pages.
	Name string
	// Title names it in Chinese, for legends and forms.
	Title      string
	Constraint string
	Values     []EnumValue
}

// EnumValue is one value of an enumeration.
type EnumValue struct {
	Value string `json:"value"`
	Label string `json:"label"`
	// Color is its legend colour (#RRGGBB), "" where the map does not
	// colour by it. Categorical colours are Okabe & Ito's palette, which
	// stays distinguishable with the common colour-vision deficiencies.
	Color string `json:"color,omitempty"`
}

// Strings are e's values, in order.
func (e *Enum) Strings() []string {
	out := make([]string, len(e.Values))
	for i, v := range e.Values {
		out[i] = v.Value
	}
	return out
}

// The enumerations of the stored fields.
var (
	RegionLevels = &Enum{Name: "region_level", Title: "行政层级", Constraint: "regions_level_known", Values: []EnumValue{
		{Value: "city", Label: "市"}, {Value: "county", Label: "县（区、市）"},
		{Value: "township", Label: "乡镇（街道）"}, {Value: "village", Label: "村（社区）"},
	}}
	PovertyStatuses = &Enum{Name: "poverty_status", Title: "贫困状态", Constraint: "regions_poverty_status_known", Values: []EnumValue{
		{Value: "none", Label: "非贫困村", Color: "#8C96A0"},
		{Value: "not_exited", Label: "未出列", Color: "#D55E00"},
		{Value: "exited", Label: "已出列", Color: "#009E73"},
	}}
	PairingLevels = &Enum{Name: "pairing_level", Title: "包保层级", Constraint: "villages_pairing_level_known", Values: []EnumValue{
		{Value: "city", Label: "市级包保"}, {Value: "county", Label: "县级包保"},
	}}
	SiteTypes = &Enum{Name: "site_type", Title: "安置方式", Constraint: "sites_type_known", Values: []EnumValue{
		{Value: "urban", Label: "城镇安置"}, {Value: "town", Label: "集镇安置"}, {Value: "rural", Label: "集中安置"},
	}}
	SiteStatuses = &Enum{Name: "site_status", Title: "安置点状态", Constraint: "sites_status_known", Values: []EnumValue{
		{Value: "planned", Label: "计划"}, {Value: "under_construction", Label: "在建"},
		{Value: "completed", Label: "已完工"}, {Value: "occupied", Label: "已入住"},
	}}
	ProjectStatuses = &Enum{Name: "project_status", Title: "项目状态", Constraint: "projects_status_known", Values: []EnumValue{
		{Value: "planned", Label: "计划"}, {Value: "under_construction", Label: "在建"}, {Value: "completed", Label: "已完工"},
	}}
	// ProjectCategories are what a project builds: the city's 水、电、路、
	// 讯、房、寨, industry, training, other. To add a category, add it here
	// and to the CHECK constraint projects_category_known in a migration.
	ProjectCategories = &Enum{Name: "project_category", Title: "项目类别", Constraint: "projects_category_known", Values: []EnumValue{
		{Value: "water", Label: "水"}, {Value: "power", Label: "电"}, {Value: "road", Label: "路"},
		{Value: "telecom", Label: "讯"}, {Value: "housing", Label: "房"}, {Value: "renovation", Label: "寨"},
		{Value: "industry", Label: "产业"}, {Value: "training", Label: "培训"}, {Value: "other", Label: "其他"},
	}}
	// ProjectFundUses are the "33112" split of the special funds.
	ProjectFundUses = &Enum{Name: "fund_use", Title: "资金用途（33112）", Constraint: "projects_fund_use_known", Values: []EnumValue{
		{Value: "industry", Label: "产业发展"}, {Value: "cooperative", Label: "合作社"},
		{Value: "interest_subsidy", Label: "贴息"}, {Value: "training", Label: "培训"},
		{Value: "public_facilities", Label: "公益设施"},
	}}
)

// Enums are every enumeration of the catalogue.
var Enums = []*Enum{RegionLevels, PovertyStatuses, PairingLevels, SiteTypes, SiteStatuses, ProjectStatuses, ProjectCategories, ProjectFundUses}

// figureColumns are a region's figures rolled up from everything inside
// it, read from region_figures (alias f), where they are defined. County
// and township features carry them all; the drill-down shows them.
var figureColumns = []Column{
	{"villages", "integer", "villages and communities", "f.villages"},
	{"villages_not_exited", "integer", "poverty villages not yet exited (未出列)", "f.villages_not_exited"},
	{"villages_exited", "integer", "poverty villages exited (已出列)", "f.villages_exited"},
	{"villages_none", "integer", "villages never registered as poverty villages", "f.villages - f.villages_not_exited - f.villages_exited"},
	{"villages_demonstration", "integer", "demonstration villages", "f.villages_demonstration"},
	{"share_exited", "number", "exited ÷ all poverty villages (0–1)", "f.share_exited"},
	{"population", "integer", "registered population", "f.population"},
	{"poor_households", "integer", "registered poor households", "f.poor_households"},
	{"poor_population", "integer", "registered poor people", "f.poor_population"},
	{"poverty_incidence", "number", "poor people ÷ population (0–1)", "f.poverty_incidence"},
	{"cooperatives", "integer", "cooperatives", "f.cooperatives"},
	{"relocation_households", "integer", "households assigned to move out", "f.relocation_households"},
	{"relocation_people", "integer", "people assigned to move out", "f.relocation_people"},
	{"sites", "integer", "relocation sites in the region", "f.sites"},
	{"site_capacity_people", "integer", "people the region's sites are planned for", "f.site_capacity_people"},
	{"site_moved_in_people", "integer", "people moved into the region's sites", "f.site_moved_in_people"},
	{"site_progress_avg", "number", "average construction progress of the region's sites (%)", "round(f.site_progress_avg::numeric, 1)::float8"},
	{"projects", "integer", "funded projects", "f.projects"},
	{"projects_completed", "integer", "projects completed", "f.projects_completed"},
	{"completion_avg", "number", "average project completion (%)", "round(f.completion_avg::numeric, 1)::float8"},
	{"funds_planned", "integer", "special funds planned (yuan)", "f.funds_planned"},
	{"funds_disbursed", "integer", "special funds disbursed (yuan)", "f.funds_disbursed"},
}

// figures picks figureColumns by name.
func figures(names ...string) []Column {
	cols := make([]Column, len(names))
	for i, n := range names {
		j := slices.IndexFunc(figureColumns, func(c Column) bool { return c.Name == n })
		if j < 0 {
			panic("geo: no figure column " + n)
		}
		cols[i] = figureColumns[j]
	}
	return cols
}

// regionColumns are what every region feature carries first: its code and
// name, its parents' codes, and its own poverty status.
func regionColumns(parents ...Column) []Column {
	return slices.Concat(
		[]Column{{"code", "string", "statistical code", "f.code"}, {"name", "string", "name", "f.name"}},
		parents,
		[]Column{
			{"status", "string", "poverty status of the region itself: " + strings.Join(PovertyStatuses.Strings(), ", "), "f.poverty_status"},
			{"exit_year", "integer", "year it exited poverty", "f.exit_year"},
			{"demonstration", "boolean", "a demonstration point", "f.demonstration"},
		})
}

// Filters shared by several collections.
func countyFilter(column string) Filter {
	return Filter{Param: "county", Description: "in this county", kind: codeKind(6, "county"), column: column, op: "="}
}

func townshipFilter(column string) Filter {
	return Filter{Param: "township", Description: "in this township", kind: codeKind(9, "township"), column: column, op: "="}
}

func statusFilter(e *Enum, column string) Filter {
	return Filter{Param: "status", Description: "with this status", kind: enumKind(e.Strings()...), column: column, op: "="}
}

var demonstrationFilter = Filter{Param: "demonstration", Description: "demonstration points (true) or the others (false)",
	kind: boolKind, column: "f.demonstration", op: "="}

// percentFilters are name_lt and name_gte on a 0–100 column.
func percentFilters(name, column string) []Filter {
	return []Filter{
		{Param: name + "_lt", Description: name + " below this percentage", kind: percentKind, column: column, op: "<"},
		{Param: name + "_gte", Description: name + " at or above this percentage", kind: percentKind, column: column, op: ">="},
	}
}

// regionFrom is a level's regions with their figures.
const regionFrom = `region_figures f JOIN regions g ON g.code = f.code`

// The feature collections served.
var (
	// Counties are the county polygons with their rolled-up figures.
	Counties = &Collection{
		ID: "counties", Title: "Counties (县/区/市)",
		Description:  "County boundaries with the figures rolled up from their villages, relocation sites and projects",
		GeometryType: "MultiPolygon",
		Columns:      slices.Concat(regionColumns(), figureColumns),
		Filters:      []Filter{statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from:         regionFrom, where: `f.level = 'county'`, key: "f.code", geom: "g.boundary",
	}
	// Townships are the township polygons with their rolled-up figures.
	Townships = &Collection{
		ID: "townships", Title: "Townships (乡/镇/街道)",
		Description:  "Township boundaries with the figures rolled up from their villages, relocation sites and projects",
		GeometryType: "MultiPolygon",
		Columns: slices.Concat(regionColumns(Column{"county_code", "string", "county", "f.parent_code"}),
			figureColumns),
		Filters: []Filter{countyFilter("f.parent_code"), statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from:    regionFrom, where: `f.level = 'township'`, key: "f.code", geom: "g.boundary",
	}
	// Villages are the villages and communities with their registry figures.
	Villages = &Collection{
		ID: "villages", Title: "Villages and communities (村/社区)",
		Description:  "Villages and communities with their poverty status and registry figures",
		GeometryType: "Point",
		Columns: slices.Concat(
			regionColumns(Column{"township_code", "string", "township", "v.township_code"},
				Column{"county_code", "string", "county", "v.county_code"}),
			[]Column{
				{"pairing_level", "string", "paired-assistance (包保) level: city or county", "v.pairing_level"},
				{"pairing_unit", "string", "paired-assistance unit", "v.pairing_unit"},
			},
			figures("population", "poor_households", "poor_population", "poverty_incidence", "cooperatives",
				"relocation_households", "relocation_people", "projects", "projects_completed", "completion_avg",
				"funds_planned", "funds_disbursed")),
		Filters: []Filter{countyFilter("v.county_code"), townshipFilter("v.township_code"),
			statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from: regionFrom + ` JOIN villages v ON v.code = f.code`, where: "true", key: "f.code", geom: "g.point",
	}
	// Sites are the relocation sites.
	Sites = &Collection{
		ID: "sites", Title: "Relocation sites (易地扶贫搬迁安置点)",
		Description:  "Relocation sites: capacity, people moved in, construction progress",
		GeometryType: "Point",
		Columns: []Column{
			{"code", "string", "site code", "s.code"},
			{"name", "string", "site name", "s.name"},
			{"type", "string", strings.Join(SiteTypes.Strings(), ", "), "s.type"},
			{"status", "string", strings.Join(SiteStatuses.Strings(), ", "), "s.status"},
			{"progress", "integer", "construction progress (%)", "s.progress"},
			{"capacity_households", "integer", "planned households", "s.capacity_households"},
			{"capacity_people", "integer", "planned people", "s.capacity_people"},
			{"moved_in_households", "integer", "households moved in", "s.moved_in_households"},
			{"moved_in_people", "integer", "people moved in", "s.moved_in_people"},
			{"county_code", "string", "county", "s.county_code"},
			{"township_code", "string", "township", "s.township_code"},
			{"planned_completion", "string", "planned completion date", "s.planned_completion::text"},
		},
		Filters: slices.Concat([]Filter{
			countyFilter("s.county_code"), townshipFilter("s.township_code"),
			{Param: "type", Description: "of this type", kind: enumKind(SiteTypes.Strings()...), column: "s.type", op: "="},
			statusFilter(SiteStatuses, "s.status"),
		}, percentFilters("progress", "s.progress")),
		from: "sites s", where: "true", key: "s.code", geom: "s.geom",
	}
	// Projects are the funded poverty-alleviation projects.
	Projects = &Collection{
		ID: "projects", Title: "Projects (扶贫项目)",
		Description:  "Funded poverty-alleviation projects: points, or lines for roads and pipes",
		GeometryType: "Geometry",
		Columns: []Column{
			{"code", "string", "project code", "p.code"},
			{"name", "string", "project name", "p.name"},
			{"category", "string", strings.Join(ProjectCategories.Strings(), ", "), "p.category"},
			{"fund_use", "string", `"33112" fund use: ` + strings.Join(ProjectFundUses.Strings(), ", "), "p.fund_use"},
			{"status", "string", strings.Join(ProjectStatuses.Strings(), ", "), "p.status"},
			{"completion", "integer", "completion (%)", "p.completion"},
			{"funds_planned", "integer", "special funds planned (yuan)", "p.funds_planned"},
			{"funds_disbursed", "integer", "special funds disbursed (yuan)", "p.funds_disbursed"},
			{"county_code", "string", "county", "p.county_code"},
			{"village_code", "string", "village, if it serves one", "p.village_code"},
			{"start_date", "string", "start date", "p.start_date::text"},
			{"end_date", "string", "end date", "p.end_date::text"},
		},
		Filters: slices.Concat([]Filter{
			countyFilter("p.county_code"), townshipFilter("left(p.village_code, 9)"),
			{Param: "village", Description: "serving this village", kind: codeKind(12, "village"), column: "p.village_code", op: "="},
			{Param: "category", Description: "of this category", kind: enumKind(ProjectCategories.Strings()...), column: "p.category", op: "="},
			{Param: "fund_use", Description: `with this "33112" fund use`, kind: enumKind(ProjectFundUses.Strings()...), column: "p.fund_use", op: "="},
			statusFilter(ProjectStatuses, "p.status"),
		}, percentFilters("completion", "p.completion")),
		Dates: "start_date…end_date",
		from:  "projects p", where: "true", key: "p.code", geom: "p.geom",
		start: "p.start_date", end: "p.end_date",
	}
)

// Collections are the feature collections served, in the order listed.
var Collections = []*Collection{Counties, Townships, Villages, Sites, Projects}
