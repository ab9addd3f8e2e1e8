package geo

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The weights and thresholds of the site suitability analysis, with
// their defaults and bounds, are declared here and nowhere else. They
// live in Go rather than in a table of the database because everything
// that must agree on them is Go's to build without a query: the
// validation of a planner's request (a 400 naming the parameter), the
// fuzz target of that parser, the API definition, the tile layer (drawn
// at the defaults) and the answers that echo what they used. The SQL
// functions of migrations/010_suitability.sql take them as one bound
// jsonb parameter (ParamValues.SQL) and declare no defaults of their own.

// Param is one weight or threshold a planner may set per request.
type Param struct {
	// Name is the query parameter, and the key the SQL functions read.
	Name string `json:"name"`
	// Label names it in Chinese, for the planner's panel.
	Label       string `json:"label"`
	Description string `json:"description"`
	// Unit is what its values measure: "m", "°", "人", or "" for
	// weights and counts.
	Unit    string  `json:"unit"`
	Default float64 `json:"default"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	// Integer params take whole numbers only.
	Integer bool `json:"integer,omitempty"`
}

// The weights of the score's four parts. Each part is worth its weight's
// share of all four weights, so the score runs from 0 to 100 whatever
// they add up to (they must not all be 0).
var weightNames = []string{"w_slope", "w_road", "w_service", "w_people"}

// SuitabilityParams are the surface's parameters, in the order the
// answers list them.
var SuitabilityParams = []Param{
	{Name: "w_slope", Label: "坡度权重", Description: "weight of flat ground: the slope part is 1 − slope ÷ max_slope", Default: 25, Min: 0, Max: 100},
	{Name: "w_road", Label: "道路权重", Description: "weight of a near road: the road part is 1 − distance ÷ road_range, at least 0", Default: 20, Min: 0, Max: 100},
	{Name: "w_service", Label: "公共服务权重", Description: "weight of near services (schools, clinics, markets, township seats): 1 − distance ÷ service_range, at least 0", Default: 15, Min: 0, Max: 100},
	{Name: "w_people", Label: "搬迁人口权重", Description: "weight of the unassigned poor people within reach: people ÷ people_full, at most 1", Default: 40, Min: 0, Max: 100},
	{Name: "max_slope", Label: "最大坡度", Description: "cells whose slope is above it are excluded (a site needs buildable ground)", Unit: "°", Default: 25, Min: 2, Max: 60},
	{Name: "road_range", Label: "道路距离上限", Description: "distance to the nearest road at which the road part falls to 0", Unit: "m", Default: 5000, Min: 100, Max: 50000},
	{Name: "service_range", Label: "服务距离上限", Description: "distance to the nearest service point at which the services part falls to 0", Unit: "m", Default: 10000, Min: 100, Max: 50000},
	{Name: "reach", Label: "搬迁半径", Description: "the unassigned poverty villages of the county within this distance of a cell count as its people", Unit: "m", Default: 5000, Min: 500, Max: 30000},
	{Name: "people_full", Label: "满分人口", Description: "unassigned poor people within reach that earn the whole people part", Unit: "人", Default: 3000, Min: 1, Max: 1000000},
}

// CandidateParams are what the candidate search takes beside the
// surface's parameters.
var CandidateParams = []Param{
	{Name: "n", Label: "候选数", Description: "how many sites to propose (fewer when no other cell reaches anyone not yet covered)", Default: 5, Min: 1, Max: 20, Integer: true},
	{Name: "spacing", Label: "最小间距", Description: "no two candidates closer than this", Unit: "m", Default: 3000, Min: 500, Max: 50000},
}

// ParamValues are parameter values by name.
type ParamValues map[string]float64

// Defaults are the default values of params.
func Defaults(params []Param) ParamValues {
	v := make(ParamValues, len(params))
	for _, p := range params {
		v[p.Name] = p.Default
	}
	return v
}

// ParamNames are the names of params, in order.
func ParamNames(params ...[]Param) []string {
	var names []string
	for _, ps := range params {
		for _, p := range ps {
			names = append(names, p.Name)
		}
	}
	return names
}

// decimal is a number as people write one in decimal: strconv.ParseFloat
// also takes hexadecimal, underscores, Inf and NaN, none of which a
// planner means.
var decimal = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

// ParseParams reads the values of params from given (query parameters by
// name; names that are not params are left to the caller): a value not
// given takes its default. Every value at fault is named in the EInvalid
// error's Fields, with why: not a decimal number, a fraction where a whole
// number is wanted, outside the bounds; and, when params hold the
// weights, all of them 0.
func ParseParams(params []Param, given map[string]string) (ParamValues, error) {
	v := Defaults(params)
	var problems []FieldError
	for _, p := range params {
		s, ok := given[p.Name]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		switch {
		case !decimal.MatchString(s) || err != nil:
			problems = append(problems, FieldError{p.Name, "must be a decimal number, got " + Quote(s)})
		case p.Integer && f != math.Trunc(f):
			problems = append(problems, FieldError{p.Name, "must be a whole number, got " + Quote(s)})
		case f < p.Min || f > p.Max:
			problems = append(problems, FieldError{p.Name, "must be from " + formatParam(p.Min) + " to " + formatParam(p.Max) + p.Unit + ", got " + Quote(s)})
		default:
			v[p.Name] = f
		}
	}
	if len(problems) == 0 && slices.ContainsFunc(params, func(p Param) bool { return p.Name == weightNames[0] }) && v.weightSum() == 0 {
		for _, w := range weightNames {
			problems = append(problems, FieldError{w, "the weights are all 0: give at least one a positive value"})
		}
	}
	if len(problems) > 0 {
		names := make([]string, len(problems))
		for i, p := range problems {
			names[i] = p.Field
		}
		return nil, &Error{Code: EInvalid, Fields: problems,
			Message: "bad suitability parameters: " + strings.Join(slices.Compact(names), ", ") + " (see invalid-params)"}
	}
	return v, nil
}

// weightSum is the sum of the four weights.
func (v ParamValues) weightSum() float64 {
	var sum float64
	for _, w := range weightNames {
		sum += v[w]
	}
	return sum
}

// Query is v as query parameters, in the order of params, for links and
// tests: ParseParams reads it back to v.
func (v ParamValues) Query(params ...[]Param) string {
	var parts []string
	for _, name := range ParamNames(params...) {
		if x, ok := v[name]; ok {
			parts = append(parts, name+"="+formatParam(x))
		}
	}
	return strings.Join(parts, "&")
}

// formatParam writes a parameter's value as its shortest decimal.
func formatParam(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
