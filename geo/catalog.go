package geo

import (
	"math"
	"regexp"
	"slices"
	"strings"
)

// This file is battlemap's catalogue: what the map knows of each
// collection, its properties and their enumerations, and of each table
// that can be imported, its stored fields and the rules between them,
// written once. The OGC collections, the tile layers, the importer and the
// demo loader, the legend and style, the API definition and the pages
// derive from it; the schema's constraints (CHECKs, and foreign keys for
// where regions lie) stay as the last guard, and the tests in
// catalog_test.go hold the two together.
//
// To add a project category (or any value of an enumeration): add it to
// its Enum below, with its Chinese label (and colour, if the map colours
// by it), and to the enumeration's CHECK constraint in a new migration.
// Everything else follows.
//
// To add a stored field: a Field of its Table below, and its column in a
// new migration. The importer takes it, and sites and projects features
// carry it (a village's properties are picked by name); the demo loader
// writes through the same upserts, so the demo files (cmd/demodata) and
// their staging tables (geo/demo/sql.go) must hold it too.

// Column is one property of a collection's features, or one rolled-up
// figure of a region, and the SQL expression that yields it.
type Column struct {
	Name string
	// Type is the JSON Schema type of its values: "string", "integer",
	// "number" or "boolean". Any value may also be null.
	Type        string
	Description string
	// Unit is what its numbers count or measure, as the pages write it
	// after a figure: 人, 户, 个, 元 or %; "" for text, flags, years and
	// ratios (0–1).
	Unit string
	// Enum is the enumeration its values come from, for their labels and
	// colours; nil when they are not enumerated.
	Enum *Enum
	// Label names it in Chinese, for the pages; "" where the pages name
	// it by the stored field it reads (Field.Label).
	Label string
	sql   string
}

// Field is a stored field of a table that can be imported: a column of
// the schema, named the same in import files and in the demo data. What
// it takes mirrors the column's type and CHECK constraints (a test
// compares them), so that the importer can name the feature and the
// field at fault before the database would refuse the whole file.
type Field struct {
	// Name is the column's name and the field's in import files.
	Name string
	// Label names the field in Chinese, for forms.
	Label       string
	Kind        FieldKind
	Description string
	// Unit is as in Column.
	Unit string
	// Required fields must be given; an absent field is stored as Default.
	Required bool
	// Default is what an absent field stores: nil (NULL), an int64 or a
	// bool, as the column's own default would.
	Default any
	// Enum, for text, is the enumeration of the values allowed.
	Enum *Enum
	// Digits, for text, makes the field a statistical code of exactly
	// that many digits.
	Digits int
	// Min and Max, for integers, are the bounds the column's type and
	// CHECK constraints allow.
	Min, Max int64
	// Ref is the level (one of RegionLevels) of the region the code in
	// this field names, which must exist before the import; for
	// "village", a village in the registry.
	Ref string
	// FromCode > 0 makes an absent field the first FromCode digits of
	// the row's code: statistical codes are hierarchical, so that is
	// where a new village most likely lies. It is a default for input
	// only; what is stored is a column, and nothing reads codes for it.
	FromCode int
	// In names the table holding the column when it is not the Table's
	// own: a village's name and status are its regions row.
	In string
	// Column names the column when it is not named as the field: a
	// village's township is its regions row's parent_code.
	Column string
}

// StoredIn is the column that stores f: Column, or else its name.
func (f *Field) StoredIn() string {
	if f.Column != "" {
		return f.Column
	}
	return f.Name
}

// FieldKind is what a stored field holds, and how import files spell it.
type FieldKind int

// The kinds of stored fields.
const (
	TextField    FieldKind = iota // text, not empty; see Enum and Digits
	IntegerField                  // a whole number from Min to Max
	BooleanField                  // true or false (1 or 0)
	DateField                     // a day, YYYY-MM-DD, in the years 0001 to 9999 (RFC 3339's)
)

// JSONType is the JSON Schema type of k's values (a date is a string).
func (k FieldKind) JSONType() string {
	switch k {
	case IntegerField:
		return "integer"
	case BooleanField:
		return "boolean"
	}
	return "string"
}

// Rule is a constraint of the schema between two fields of one row. The
// importer applies it to each feature first, so that it can say which
// feature breaks it and why.
type Rule struct {
	Kind RuleKind
	A, B string
	// When, for PresentIff, is the value of B that requires A; "" means
	// B being given at all.
	When string
	// Constraint names the constraint the rule mirrors: a CHECK, or for
	// Within the foreign key that holds the two codes to the hierarchy.
	Constraint string
}

// RuleKind is how a Rule relates its two fields.
type RuleKind int

// The kinds of rules.
const (
	AtMost      RuleKind = iota // A ≤ B, when both are given
	Within                      // region A lies in region B, following parent_code up (never the codes' digits), when both are given
	PresentIff                  // A is given if and only if B is When (with When "": if B is given)
	CodeOfLevel                 // code A has the form of the codes of level B (LevelCodeProblem)
	ParentOf                    // region A is of the level above level B; given unless level B may be a top (the database checks it)
)

// Bounds of integer fields that only their column's type limits.
const (
	maxInteger = math.MaxInt32 // integer
	maxBigint  = math.MaxInt64 // bigint
)

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

// Enum is the enumeration an enumerated filter's values come from, with
// their labels; nil for other filters.
func (f Filter) Enum() *Enum { return f.kind.enum }

// Values are the values an enumerated filter takes, nil for other filters.
func (f Filter) Values() []string {
	if f.kind.enum == nil {
		return nil
	}
	return f.kind.enum.Strings()
}

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
	// Share is the part of the whole the value is meant to take (0–1),
	// where a rule sets one: the "33112" split of the special funds. 0
	// where none does.
	Share float64 `json:"share,omitempty"`
}

// Strings are e's values, in order.
func (e *Enum) Strings() []string {
	out := make([]string, len(e.Values))
	for i, v := range e.Values {
		out[i] = v.Value
	}
	return out
}

// List writes e's values for a message: "a, b, c".
func (e *Enum) List() string { return strings.Join(e.Strings(), ", ") }

// Label is value's Chinese label; value itself when e has no such value.
func (e *Enum) Label(value string) string {
	for _, v := range e.Values {
		if v.Value == value {
			return v.Label
		}
	}
	return value
}

// Without is e less the values given: the values a field takes that its
// column's enumeration has more of (a region layer's levels, which
// villages are not). Its constraint is e's, which allows more.
func (e *Enum) Without(values ...string) *Enum {
	w := *e
	w.Values = slices.DeleteFunc(slices.Clone(e.Values), func(v EnumValue) bool { return slices.Contains(values, v.Value) })
	return &w
}

// levelCodes are the forms of each level's statistical codes, as the
// constraint regions_code_matches_level has them: the country 100000, a
// province two digits and 0000, a city four digits and 00, a county six
// digits, a township nine, a village twelve.
var levelCodes = map[string]*regexp.Regexp{
	"country": regexp.MustCompile(`^100000$`), "province": regexp.MustCompile(`^[0-9]{2}0000$`),
	"city": regexp.MustCompile(`^[0-9]{4}00$`), "county": regexp.MustCompile(`^[0-9]{6}$`),
	"township": regexp.MustCompile(`^[0-9]{9}$`), "village": regexp.MustCompile(`^[0-9]{12}$`),
}

// LevelCodeProblem says why code cannot be the code of a region of level
// (one of RegionLevels), or "" when it can.
func LevelCodeProblem(level, code string) string {
	re, ok := levelCodes[level]
	switch {
	case !ok:
		return "no level " + level
	case !re.MatchString(code):
		return "is not the code of a " + level + ": want " + map[string]string{
			"country": "100000", "province": "two digits and 0000", "city": "four digits and 00",
			"county": "six digits", "township": "nine digits", "village": "twelve digits"}[level]
	}
	return ""
}

// Has reports whether value is one of e's values.
func (e *Enum) Has(value string) bool {
	return slices.ContainsFunc(e.Values, func(v EnumValue) bool { return v.Value == value })
}

// The enumerations of the stored fields.
var (
	// RegionLevels are the levels of the hierarchy, from the top down.
	// The country and the province are optional above a city: a city, a
	// province or the country may be a top region (one without a parent).
	RegionLevels = &Enum{Name: "region_level", Title: "行政层级", Constraint: "regions_level_known", Values: []EnumValue{
		{Value: "country", Label: "全国"}, {Value: "province", Label: "省"},
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
	// ProjectFundUses are the "33112" split of the special funds: 30% to
	// industry, 30% to cooperatives, 10% to interest subsidies, 10% to
	// training, 20% to public facilities (each value's Share).
	ProjectFundUses = &Enum{Name: "fund_use", Title: "资金用途（33112）", Constraint: "projects_fund_use_known", Values: []EnumValue{
		{Value: "industry", Label: "产业发展", Share: 0.30}, {Value: "cooperative", Label: "合作社", Share: 0.30},
		{Value: "interest_subsidy", Label: "贴息", Share: 0.10}, {Value: "training", Label: "培训", Share: 0.10},
		{Value: "public_facilities", Label: "公益设施", Share: 0.20},
	}}
	// HazardKinds are the kinds of geological hazard a hazard zone
	// (地质灾害隐患区) is exposed to.
	HazardKinds = &Enum{Name: "hazard_kind", Title: "灾害类型", Constraint: "hazard_zones_kind_known", Values: []EnumValue{
		{Value: "landslide", Label: "滑坡"}, {Value: "collapse", Label: "崩塌"},
		{Value: "debris_flow", Label: "泥石流"}, {Value: "subsidence", Label: "地面塌陷"},
	}}
	// HazardRiskLevels colour the hazard zones on the map.
	HazardRiskLevels = &Enum{Name: "risk_level", Title: "险情等级", Constraint: "hazard_zones_risk_level_known", Values: []EnumValue{
		{Value: "high", Label: "高", Color: "#D55E00"},
		{Value: "medium", Label: "中", Color: "#E69F00"},
		{Value: "low", Label: "低", Color: "#F0E442"},
	}}
	// RoadClasses are the administrative classes of roads, from the
	// expressways down to the village roads (通村路).
	RoadClasses = &Enum{Name: "road_class", Title: "道路等级", Constraint: "roads_class_known", Values: []EnumValue{
		{Value: "expressway", Label: "高速公路", Color: "#E69F00"},
		{Value: "national", Label: "国道", Color: "#D55E00"},
		{Value: "provincial", Label: "省道", Color: "#F0E442"},
		{Value: "county", Label: "县道", Color: "#56B4E9"},
		{Value: "township", Label: "乡道", Color: "#009E73"},
		{Value: "village", Label: "村道", Color: "#8C96A0"},
	}}
	// ServiceKinds are the public services near which a relocation site
	// should lie.
	ServiceKinds = &Enum{Name: "service_kind", Title: "公共服务", Constraint: "services_kind_known", Values: []EnumValue{
		{Value: "school", Label: "学校", Color: "#0072B2"},
		{Value: "clinic", Label: "卫生院（室）", Color: "#CC79A7"},
		{Value: "market", Label: "集市", Color: "#E69F00"},
	}}
)

// The enumerations of the rankings (geo/rankings.go), which no stored
// field takes, so no CHECK constraint guards and Enums does not list.
var (
	// RankingGroupings are what a ranking ranks.
	RankingGroupings = &Enum{Name: "ranking_by", Title: "排名对象", Values: []EnumValue{
		{Value: ByCounty, Label: "县（区、市）"}, {Value: ByTownship, Label: "乡镇（街道）"}, {Value: ByUnit, Label: "包保单位"},
	}}
	// RankingMeasures are what a ranking ranks by, the default first.
	RankingMeasures = &Enum{Name: "ranking_measure", Title: "考核指标", Values: []EnumValue{
		{Value: MeasureExits, Label: "出列进度"}, {Value: MeasurePeopleOut, Label: "脱贫人数"},
		{Value: MeasureCompletion, Label: "项目完成度"}, {Value: MeasureDisbursement, Label: "资金拨付率"},
	}}
	// RankingEnums are the rankings' enumerations.
	RankingEnums = []*Enum{RankingGroupings, RankingMeasures}
)

// Enums are every enumeration of the catalogue.
var Enums = []*Enum{RegionLevels, PovertyStatuses, PairingLevels, SiteTypes, SiteStatuses, ProjectStatuses, ProjectCategories, ProjectFundUses,
	HazardKinds, HazardRiskLevels, RoadClasses, ServiceKinds, FlagRuleCodes, FlagSeverities, FlagSubjects, RegistryEventKinds, ExitLevels}

// The tables of map data that can be imported. The demo data loads
// through the same SQL (Table.UpsertSQL), so its files name the same
// fields.
var (
	// RegionTable is the hierarchy above the villages: the country, the
	// provinces, cities, counties and townships, each with its boundary
	// (a point on it is the region's point). Villages, which carry the
	// registry's figures, come with VillageTable. A file may hold a
	// region and its parent: the parent is written in the same statement.
	RegionTable = &Table{
		Name: "regions", Geometries: []string{"Polygon", "MultiPolygon"}, LiesIn: "parent_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "statistical code: 100000 for the country, 6 digits for a province (..0000), a city (..00) or a county, 9 for a township"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "name"},
			{Name: "level", Label: "行政层级", Kind: TextField, Required: true, Enum: RegionLevels.Without("village"), Description: "level in the hierarchy"},
			{Name: "parent_code", Label: "上级区域", Kind: TextField, Description: "code of the region it lies in, one level up; none for a top region (the country, or a province or city without one above it)"},
			{Name: "poverty_status", Label: "贫困状态", Kind: TextField, Required: true, Enum: PovertyStatuses, Description: "poverty status"},
			{Name: "exit_year", Label: "退出年份", Kind: IntegerField, Min: 2000, Max: 2100, Description: "year it exited poverty"},
			{Name: "demonstration", Label: "示范点", Kind: BooleanField, Default: false, Description: "a demonstration point"},
		},
		Rules: []Rule{
			{Kind: CodeOfLevel, A: "code", B: "level", Constraint: "regions_code_matches_level"},
			{Kind: ParentOf, A: "parent_code", B: "level", Constraint: "regions_parent_level_fkey"},
			{Kind: PresentIff, A: "exit_year", B: "poverty_status", When: "exited", Constraint: "regions_exit_year_iff_exited"},
		},
		writes: []write{{table: "regions", geom: "boundary", multi: true, pointOn: "point"}},
	}
	// VillageTable is the villages' poverty registry. A village's name,
	// point, status and demonstration flag are its own regions row, which
	// the registry row refers to, so it is written first; its figures are
	// its villages row.
	VillageTable = &Table{
		Name: "villages", Geometries: []string{"Point"}, LiesIn: "township_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Digits: 12, Description: "statistical code"},
			{Name: "township_code", Label: "所属乡镇", Kind: TextField, Digits: 9, Ref: "township", FromCode: 9, In: "regions", Column: "parent_code",
				Description: "township it lies in; if not given, the township its code begins with"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, In: "regions", Description: "name"},
			{Name: "poverty_status", Label: "贫困状态", Kind: TextField, Required: true, Enum: PovertyStatuses, In: "regions", Description: "poverty status"},
			{Name: "exit_year", Label: "出列年份", Kind: IntegerField, Min: 2000, Max: 2100, In: "regions", Description: "year it exited poverty"},
			{Name: "population", Label: "户籍人口", Kind: IntegerField, Required: true, Max: maxInteger, Unit: "人", Description: "registered population"},
			{Name: "poor_households", Label: "贫困户", Kind: IntegerField, Required: true, Max: maxInteger, Unit: "户", Description: "registered poor households"},
			{Name: "poor_population", Label: "贫困人口", Kind: IntegerField, Required: true, Max: maxInteger, Unit: "人", Description: "registered poor people"},
			{Name: "demonstration", Label: "示范点", Kind: BooleanField, Default: false, In: "regions", Description: "a demonstration point"},
			{Name: "pairing_level", Label: "包保层级", Kind: TextField, Enum: PairingLevels, Description: "paired-assistance (包保) level"},
			{Name: "pairing_unit", Label: "包保单位", Kind: TextField, Description: "paired-assistance unit"},
			{Name: "cooperatives", Label: "合作社", Kind: IntegerField, Max: maxInteger, Default: int64(0), Unit: "个", Description: "cooperatives"},
		},
		Rules: []Rule{
			{Kind: AtMost, A: "poor_population", B: "population", Constraint: "villages_poor_within_population"},
			{Kind: AtMost, A: "poor_households", B: "poor_population", Constraint: "villages_households_within_people"},
			{Kind: PresentIff, A: "exit_year", B: "poverty_status", When: "exited", Constraint: "regions_exit_year_iff_exited"},
			{Kind: PresentIff, A: "pairing_unit", B: "pairing_level", Constraint: "villages_pairing_unit_with_level"},
		},
		writes: []write{
			// A new region is a village; its parent is the township
			// field, which an update moves it to (villages'
			// township_code and county_code follow in the database).
			{table: "regions", geom: "point", created: []derived{{"level", "'village'"}}},
			{table: "villages"},
		},
	}
	// SiteTable is the relocation sites.
	SiteTable = &Table{
		Name: "sites", Geometries: []string{"Point"}, LiesIn: "county_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "site code"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "site name"},
			{Name: "type", Label: "安置方式", Kind: TextField, Required: true, Enum: SiteTypes, Description: "how people are resettled"},
			{Name: "status", Label: "状态", Kind: TextField, Required: true, Enum: SiteStatuses, Description: "construction status"},
			{Name: "progress", Label: "建设进度", Kind: IntegerField, Required: true, Max: 100, Unit: "%", Description: "construction progress (%)"},
			{Name: "capacity_households", Label: "规划户数", Kind: IntegerField, Required: true, Max: maxInteger, Unit: "户", Description: "planned households"},
			{Name: "capacity_people", Label: "规划人数", Kind: IntegerField, Required: true, Max: maxInteger, Unit: "人", Description: "planned people"},
			{Name: "moved_in_households", Label: "已入住户数", Kind: IntegerField, Max: maxInteger, Default: int64(0), Unit: "户", Description: "households moved in"},
			{Name: "moved_in_people", Label: "已入住人数", Kind: IntegerField, Max: maxInteger, Default: int64(0), Unit: "人", Description: "people moved in"},
			{Name: "county_code", Label: "所属县", Kind: TextField, Required: true, Digits: 6, Ref: "county", Description: "county"},
			{Name: "township_code", Label: "所属乡镇", Kind: TextField, Digits: 9, Ref: "township", Description: "township"},
			{Name: "planned_completion", Label: "计划完工", Kind: DateField, Description: "planned completion date"},
		},
		Rules: []Rule{
			{Kind: AtMost, A: "moved_in_households", B: "capacity_households", Constraint: "sites_moved_in_households_range"},
			{Kind: AtMost, A: "moved_in_people", B: "capacity_people", Constraint: "sites_moved_in_people_range"},
			{Kind: Within, A: "township_code", B: "county_code", Constraint: "sites_township_in_county"},
		},
		writes: []write{{table: "sites", geom: "geom"}},
	}
	// ProjectTable is the funded projects.
	ProjectTable = &Table{
		Name: "projects", Geometries: []string{"Point", "LineString"}, LiesIn: "county_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "project code"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "project name"},
			{Name: "category", Label: "类别", Kind: TextField, Required: true, Enum: ProjectCategories, Description: "what it builds"},
			{Name: "fund_use", Label: "资金用途", Kind: TextField, Required: true, Enum: ProjectFundUses, Description: `"33112" fund use`},
			{Name: "status", Label: "状态", Kind: TextField, Required: true, Enum: ProjectStatuses, Description: "project status"},
			{Name: "completion", Label: "完成度", Kind: IntegerField, Required: true, Max: 100, Unit: "%", Description: "completion (%)"},
			{Name: "funds_planned", Label: "计划资金", Kind: IntegerField, Required: true, Max: maxBigint, Unit: "元", Description: "special funds planned (yuan)"},
			{Name: "funds_disbursed", Label: "已拨付资金", Kind: IntegerField, Max: maxBigint, Default: int64(0), Unit: "元", Description: "special funds disbursed (yuan)"},
			{Name: "county_code", Label: "所属县", Kind: TextField, Required: true, Digits: 6, Ref: "county", Description: "county"},
			{Name: "village_code", Label: "所属村", Kind: TextField, Digits: 12, Ref: "village", Description: "village, if it serves one"},
			{Name: "start_date", Label: "开工日期", Kind: DateField, Description: "start date"},
			{Name: "end_date", Label: "完工日期", Kind: DateField, Description: "end date"},
		},
		Rules: []Rule{
			{Kind: AtMost, A: "funds_disbursed", B: "funds_planned", Constraint: "projects_funds_disbursed_range"},
			{Kind: AtMost, A: "start_date", B: "end_date", Constraint: "projects_dates_ordered"},
			{Kind: Within, A: "village_code", B: "county_code", Constraint: "projects_village_in_county"},
		},
		writes: []write{{table: "projects", geom: "geom"}},
	}
)

// The factor tables, which locating a relocation site weighs: where the
// ground is unsafe, how to get there, what services are near. Their
// geometries are stored as multi-geometries, so a feature may be a single
// one or several.
var (
	// HazardZoneTable is the geological hazard zones (地质灾害隐患区).
	HazardZoneTable = &Table{
		Name: "hazard_zones", Geometries: []string{"Polygon", "MultiPolygon"}, LiesIn: "county_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "hazard zone code"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "hazard zone name"},
			{Name: "kind", Label: "灾害类型", Kind: TextField, Required: true, Enum: HazardKinds, Description: "kind of hazard"},
			{Name: "risk_level", Label: "险情等级", Kind: TextField, Required: true, Enum: HazardRiskLevels, Description: "risk level"},
			{Name: "county_code", Label: "所属县", Kind: TextField, Required: true, Digits: 6, Ref: "county", Description: "county"},
		},
		writes: []write{{table: "hazard_zones", geom: "geom", multi: true}},
	}
	// RoadTable is the road network.
	RoadTable = &Table{
		Name: "roads", Geometries: []string{"LineString", "MultiLineString"}, LiesIn: "county_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "road code"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "road name"},
			{Name: "class", Label: "道路等级", Kind: TextField, Required: true, Enum: RoadClasses, Description: "road class"},
			{Name: "county_code", Label: "所属县", Kind: TextField, Required: true, Digits: 6, Ref: "county", Description: "county"},
		},
		writes: []write{{table: "roads", geom: "geom", multi: true}},
	}
	// ServiceTable is the public services: schools, clinics, markets.
	ServiceTable = &Table{
		Name: "services", Geometries: []string{"Point"}, LiesIn: "county_code",
		Fields: []Field{
			{Name: "code", Label: "代码", Kind: TextField, Required: true, Description: "service code"},
			{Name: "name", Label: "名称", Kind: TextField, Required: true, Description: "service name"},
			{Name: "kind", Label: "类型", Kind: TextField, Required: true, Enum: ServiceKinds, Description: "kind of service"},
			{Name: "county_code", Label: "所属县", Kind: TextField, Required: true, Digits: 6, Ref: "county", Description: "county"},
			{Name: "township_code", Label: "所属乡镇", Kind: TextField, Digits: 9, Ref: "township", Description: "township"},
		},
		Rules: []Rule{
			{Kind: Within, A: "township_code", B: "county_code", Constraint: "services_township_in_county"},
		},
		writes: []write{{table: "services", geom: "geom"}},
	}
)

// Tables are the tables that can be imported, in the order listed.
var Tables = []*Table{RegionTable, VillageTable, SiteTable, ProjectTable, HazardZoneTable, RoadTable, ServiceTable}

// AssignmentTable is the relocation assignments: the households and
// people of a village that are to move to a site. Planners create,
// change and delete them one at a time (the assignments collection); they
// are not imported, so the table has no writes and no code: an
// assignment's id is its village and site (AssignmentID).
var AssignmentTable = &Table{
	Name: "relocation_assignments",
	Fields: []Field{
		{Name: "village_code", Label: "迁出村", Kind: TextField, Required: true, Digits: 12, Ref: "village", Description: "village the people move out of"},
		{Name: "site_code", Label: "安置点", Kind: TextField, Required: true, Description: "site they move to"},
		{Name: "households", Label: "搬迁户数", Kind: IntegerField, Required: true, Min: 1, Max: maxInteger, Unit: "户", Description: "households to move"},
		{Name: "people", Label: "搬迁人数", Kind: IntegerField, Required: true, Min: 1, Max: maxInteger, Unit: "人", Description: "people to move"},
	},
	Rules: []Rule{
		{Kind: AtMost, A: "households", B: "people", Constraint: "relocation_assignments_households_within_people"},
	},
}

// storedColumns are the properties that read fields of t as they are
// stored, from the table aliased alias: the fields named, or all of
// them when none is named, in t's order.
func storedColumns(t *Table, alias string, names ...string) []Column {
	var cols []Column
	for _, f := range t.Fields {
		if len(names) > 0 && !slices.Contains(names, f.Name) {
			continue
		}
		c := Column{Name: f.Name, Type: f.Kind.JSONType(), Description: f.Description, Unit: f.Unit, Enum: f.Enum,
			sql: alias + "." + f.Name}
		if f.Kind == DateField {
			c.sql += "::text" // YYYY-MM-DD, as files give it, whatever the session's DateStyle
		}
		if f.Enum != nil {
			c.Description += ": " + strings.Join(f.Enum.Strings(), ", ")
		}
		cols = append(cols, c)
	}
	if len(names) > 0 && len(cols) != len(names) {
		panic("geo: " + t.Name + " lacks a field of " + strings.Join(names, ", "))
	}
	return cols
}

// figureColumns are a region's figures rolled up from everything inside
// it, read from region_figures or rollup_figures (alias f), where they are
// defined (migrations/011_figures_for_tiles.sql). County and township
// features carry them all; the drill-down shows them.
var figureColumns = []Column{
	{Name: "villages", Label: "村（社区）", Type: "integer", Unit: "个", Description: "villages and communities", sql: "f.villages"},
	{Name: "villages_not_exited", Label: "未出列贫困村", Type: "integer", Unit: "个", Description: "poverty villages not yet exited (未出列)", sql: "f.villages_not_exited"},
	{Name: "villages_exited", Label: "已出列贫困村", Type: "integer", Unit: "个", Description: "poverty villages exited (已出列)", sql: "f.villages_exited"},
	{Name: "villages_none", Label: "非贫困村", Type: "integer", Unit: "个", Description: "villages never registered as poverty villages",
		sql: "f.villages - f.villages_not_exited - f.villages_exited"},
	{Name: "villages_demonstration", Label: "示范村", Type: "integer", Unit: "个", Description: "demonstration villages", sql: "f.villages_demonstration"},
	{Name: "share_exited", Label: "贫困村出列率", Type: "number", Description: "exited ÷ all poverty villages (0–1)", sql: "f.share_exited"},
	{Name: "population", Label: "户籍人口", Type: "integer", Unit: "人", Description: "registered population", sql: "f.population"},
	{Name: "poor_households", Label: "贫困户", Type: "integer", Unit: "户", Description: "registered poor households", sql: "f.poor_households"},
	{Name: "poor_population", Label: "贫困人口", Type: "integer", Unit: "人", Description: "registered poor people", sql: "f.poor_population"},
	{Name: "poverty_incidence", Label: "贫困发生率", Type: "number", Description: "poor people ÷ population (0–1)", sql: "f.poverty_incidence"},
	{Name: "cooperatives", Label: "合作社", Type: "integer", Unit: "个", Description: "cooperatives", sql: "f.cooperatives"},
	{Name: "relocation_households", Label: "搬迁户数", Type: "integer", Unit: "户", Description: "households assigned to move out", sql: "f.relocation_households"},
	{Name: "relocation_people", Label: "搬迁人口", Type: "integer", Unit: "人", Description: "people assigned to move out", sql: "f.relocation_people"},
	{Name: "sites", Label: "安置点", Type: "integer", Unit: "个", Description: "relocation sites in the region", sql: "f.sites"},
	{Name: "site_capacity_people", Label: "安置点规划人数", Type: "integer", Unit: "人", Description: "people the region's sites are planned for", sql: "f.site_capacity_people"},
	{Name: "site_moved_in_people", Label: "安置点入住人数", Type: "integer", Unit: "人", Description: "people moved into the region's sites", sql: "f.site_moved_in_people"},
	{Name: "site_progress_avg", Label: "安置点平均建设进度", Type: "number", Unit: "%", Description: "average construction progress of the region's sites (%)",
		sql: "round(f.site_progress_avg::numeric, 1)::float8"},
	{Name: "projects", Label: "项目", Type: "integer", Unit: "个", Description: "funded projects", sql: "f.projects"},
	{Name: "projects_completed", Label: "完工项目", Type: "integer", Unit: "个", Description: "projects completed", sql: "f.projects_completed"},
	{Name: "completion_avg", Label: "平均项目完成度", Type: "number", Unit: "%", Description: "average project completion (%)", sql: "round(f.completion_avg::numeric, 1)::float8"},
	{Name: "funds_planned", Label: "计划资金", Type: "integer", Unit: "元", Description: "special funds planned (yuan)", sql: "f.funds_planned"},
	{Name: "funds_disbursed", Label: "拨付资金", Type: "integer", Unit: "元", Description: "special funds disbursed (yuan)", sql: "f.funds_disbursed"},
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
		[]Column{
			{Name: "code", Type: "string", Description: "statistical code", sql: "f.code"},
			{Name: "name", Type: "string", Description: "name", sql: "f.name"},
		},
		parents,
		[]Column{
			{Name: "status", Type: "string", Enum: PovertyStatuses, sql: "f.poverty_status",
				Description: "poverty status of the region itself: " + strings.Join(PovertyStatuses.Strings(), ", ")},
			{Name: "exit_year", Type: "integer", Description: "year it exited poverty", sql: "f.exit_year"},
			{Name: "demonstration", Type: "boolean", Description: "a demonstration point", sql: "f.demonstration"},
		})
}

// regionCollection is the regions of level, counties or above, with
// their figures read from from (rollupFrom or regionFrom): their polygons,
// the columns every region has and every figure.
func regionCollection(level, id, title, description, from string) *Collection {
	return &Collection{
		ID: id, Title: title, Description: description,
		GeometryType: "MultiPolygon",
		Columns:      slices.Concat(regionColumns(), figureColumns),
		Filters:      []Filter{statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from:         from, where: `f.level = '` + level + `'`, key: "f.code", geom: "g.boundary",
	}
}

// parentColumn is the code of a region's parent at level (county or
// township), read from sql.
func parentColumn(level, sql string) Column {
	return Column{Name: level + "_code", Type: "string", Description: level, sql: sql}
}

// Filters shared by several collections.
func countyFilter(column string) Filter {
	return Filter{Param: "county", Description: "in this county", kind: codeKind(6, "county"), column: column, op: "="}
}

func townshipFilter(column string) Filter {
	return Filter{Param: "township", Description: "in this township", kind: codeKind(9, "township"), column: column, op: "="}
}

// enumFilter keeps the features whose property, read from column, is the
// value given, one of e's.
func enumFilter(param, description string, e *Enum, column string) Filter {
	return Filter{Param: param, Description: description, kind: enumKind(e), column: column, op: "="}
}

func statusFilter(e *Enum, column string) Filter {
	return enumFilter("status", "with this status", e, column)
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

// rollupFrom is the regions of counties and below with their figures, as
// the collections (and the tiles) read them: rollup_figures is a plain
// view of the stored rollups, which a join by code looks up by key.
// regionFrom is any region's, a city's included (its figures are summed
// from its counties' when read), as the drill-down reads them.
const (
	rollupFrom = `rollup_figures f JOIN regions g ON g.code = f.code`
	regionFrom = `region_figures f JOIN regions g ON g.code = f.code`
)

// The feature collections served.
var (
	// Provinces are the province polygons with their counties' figures
	// summed: a country's map draws them at its lowest zooms.
	Provinces = regionCollection("province", "provinces", "Provinces (省/自治区/直辖市)",
		"Province boundaries with the figures of their counties summed when read", regionFrom)
	// Cities are the city polygons with their counties' figures summed.
	Cities = regionCollection("city", "cities", "Cities (市/州/盟)",
		"City boundaries with the figures of their counties summed when read", regionFrom)
	// Counties are the county polygons with their rolled-up figures.
	Counties = regionCollection("county", "counties", "Counties (县/区/市)",
		"County boundaries with the figures rolled up from their villages, relocation sites and projects", rollupFrom)
	// Townships are the township polygons with their rolled-up figures.
	Townships = &Collection{
		ID: "townships", Title: "Townships (乡/镇/街道)",
		Description:  "Township boundaries with the figures rolled up from their villages, relocation sites and projects",
		GeometryType: "MultiPolygon",
		Columns:      slices.Concat(regionColumns(parentColumn("county", "f.parent_code")), figureColumns),
		Filters:      []Filter{countyFilter("f.parent_code"), statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from:         rollupFrom, where: `f.level = 'township'`, key: "f.code", geom: "g.boundary",
	}
	// Villages are the villages and communities with their registry figures.
	Villages = &Collection{
		ID: "villages", Title: "Villages and communities (村/社区)",
		Description:  "Villages and communities with their poverty status and registry figures",
		GeometryType: "Point",
		Columns: slices.Concat(
			regionColumns(parentColumn("township", "v.township_code"), parentColumn("county", "v.county_code")),
			storedColumns(VillageTable, "v", "pairing_level", "pairing_unit"),
			figures("population", "poor_households", "poor_population", "poverty_incidence", "cooperatives",
				"relocation_households", "relocation_people", "projects", "projects_completed", "completion_avg",
				"funds_planned", "funds_disbursed")),
		Filters: []Filter{countyFilter("v.county_code"), townshipFilter("v.township_code"),
			statusFilter(PovertyStatuses, "f.poverty_status"), demonstrationFilter},
		from: rollupFrom + ` JOIN villages v ON v.code = f.code`, where: "true", key: "f.code", geom: "g.point",
	}
	// Sites are the relocation sites, each property a stored field.
	Sites = &Collection{
		ID: "sites", Title: "Relocation sites (易地扶贫搬迁安置点)",
		Description:  "Relocation sites: capacity, people moved in, construction progress",
		GeometryType: "Point",
		Columns:      storedColumns(SiteTable, "s"),
		Filters: slices.Concat([]Filter{
			countyFilter("s.county_code"), townshipFilter("s.township_code"),
			enumFilter("type", "of this type", SiteTypes, "s.type"),
			statusFilter(SiteStatuses, "s.status"),
		}, percentFilters("progress", "s.progress")),
		from: "sites s", where: "true", key: "s.code", geom: "s.geom",
	}
	// Projects are the funded poverty-alleviation projects, each property
	// a stored field.
	Projects = &Collection{
		ID: "projects", Title: "Projects (扶贫项目)",
		Description:  "Funded poverty-alleviation projects: points, or lines for roads and pipes",
		GeometryType: "Geometry",
		Columns:      storedColumns(ProjectTable, "p"),
		Filters: slices.Concat([]Filter{
			// A project's township is its village's, as the hierarchy
			// has it (villages.township_code, kept by the database).
			countyFilter("p.county_code"), townshipFilter("v.township_code"),
			{Param: "village", Description: "serving this village", kind: codeKind(12, "village"), column: "p.village_code", op: "="},
			enumFilter("category", "of this category", ProjectCategories, "p.category"),
			enumFilter("fund_use", `with this "33112" fund use`, ProjectFundUses, "p.fund_use"),
			statusFilter(ProjectStatuses, "p.status"),
		}, percentFilters("completion", "p.completion")),
		Dates: "start_date…end_date",
		from:  "projects p LEFT JOIN villages v ON v.code = p.village_code", where: "true", key: "p.code", geom: "p.geom",
		start: "p.start_date", end: "p.end_date",
	}
)

// Assignments are the relocation assignments, each a line from the
// village people move out of to the site they move to; its id is
// AssignmentID's.
var Assignments = &Collection{
	ID: "assignments", Title: "Relocation assignments (搬迁安排)",
	Description:  "Who moves where: households and people of a village assigned to a relocation site",
	GeometryType: "LineString",
	Columns: slices.Concat(
		storedColumns(AssignmentTable, "a", "village_code"),
		[]Column{{Name: "village_name", Type: "string", Description: "village name", sql: "short_name(vr.name)"}},
		storedColumns(AssignmentTable, "a", "site_code"),
		[]Column{
			{Name: "site_name", Type: "string", Description: "site name", sql: "s.name"},
			{Name: "county_code", Type: "string", Description: "county of the village", sql: "v.county_code"},
			{Name: "site_county_code", Type: "string", Description: "county of the site", sql: "s.county_code"},
		},
		storedColumns(AssignmentTable, "a", "households", "people")),
	Filters: []Filter{
		countyFilter("v.county_code"),
		{Param: "village", Description: "moving out of this village", kind: codeKind(12, "village"), column: "a.village_code", op: "="},
		{Param: "site", Description: "moving to this site", kind: textKind("a site code"), column: "a.site_code", op: "="},
	},
	from: "relocation_assignments a JOIN villages v ON v.code = a.village_code JOIN regions vr ON vr.code = a.village_code" +
		" JOIN sites s ON s.code = a.site_code",
	where: "true", key: "a.village_code || '" + AssignmentIDSeparator + "' || a.site_code", geom: "ST_MakeLine(vr.point, s.geom)",
}

// The factor collections: each property a stored field.
var (
	// HazardZones are the geological hazard zones.
	HazardZones = &Collection{
		ID: "hazard_zones", Title: "Geological hazard zones (地质灾害隐患区)",
		Description:  "Areas exposed to landslides, collapses, debris flows or subsidence, by risk level",
		GeometryType: "MultiPolygon",
		Columns:      storedColumns(HazardZoneTable, "h"),
		Filters: []Filter{countyFilter("h.county_code"),
			enumFilter("kind", "of this kind", HazardKinds, "h.kind"),
			enumFilter("risk_level", "at this risk level", HazardRiskLevels, "h.risk_level")},
		from: "hazard_zones h", where: "true", key: "h.code", geom: "h.geom",
	}
	// Roads are the road network.
	Roads = &Collection{
		ID: "roads", Title: "Roads (道路)",
		Description:  "The road network by class, from expressways to village roads",
		GeometryType: "MultiLineString",
		Columns:      storedColumns(RoadTable, "r"),
		Filters:      []Filter{countyFilter("r.county_code"), enumFilter("class", "of this class", RoadClasses, "r.class")},
		from:         "roads r", where: "true", key: "r.code", geom: "r.geom",
	}
	// Services are the schools, clinics and markets.
	Services = &Collection{
		ID: "services", Title: "Public services (公共服务设施)",
		Description:  "Schools, clinics and markets",
		GeometryType: "Point",
		Columns:      storedColumns(ServiceTable, "sv"),
		Filters: []Filter{countyFilter("sv.county_code"), townshipFilter("sv.township_code"),
			enumFilter("kind", "of this kind", ServiceKinds, "sv.kind")},
		from: "services sv", where: "true", key: "sv.code", geom: "sv.geom",
	}
)

// AssignmentIDSeparator joins an assignment's village and site codes
// into its feature id: a village code is twelve digits, so the id splits
// after them whatever a site code holds.
const AssignmentIDSeparator = "~"

// AssignmentID splits an assignment's feature id into its village and
// site codes; ok is false when id cannot be one.
func AssignmentID(id string) (village, site string, ok bool) {
	village, site, ok = strings.Cut(id, AssignmentIDSeparator)
	return village, site, ok && len(village) == 12 && site != ""
}

// Collections are the feature collections served, in the order listed.
var Collections = []*Collection{Provinces, Cities, Counties, Townships, Villages, Sites, Projects, Assignments, HazardZones, Roads, Services, Flags}

// EditableCollection is a collection whose features can be changed, and
// the table that stores their fields.
type EditableCollection struct {
	Collection string
	Table      *Table
}

// Editable are the collections whose features can be changed: PATCH on
// a feature; assignments are also created and deleted.
var Editable = []EditableCollection{
	{"villages", VillageTable}, {"sites", SiteTable}, {"projects", ProjectTable}, {"assignments", AssignmentTable},
}
