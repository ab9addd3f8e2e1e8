package tiles

import "github.com/zunyi/battlemap/geo"

// The legend below is the one definition of the map's colours: the
// MapLibre style is generated from it and /legend.json serves it, so the
// two cannot disagree. Categorical schemes are the catalogue's
// enumerations (geo.Enums), values, labels and colours alike; the ramps
// and the base colours are declared here. The completion ramp is viridis,
// designed to stay distinguishable with the common colour-vision
// deficiencies; the region ramp rises in lightness, which every viewer
// can read.

// Class is one legend entry: features whose property equals Value
// (categorical schemes) or is at least Min (ramps, each class up to the
// next one's Min) are drawn in Color.
type Class struct {
	Value string   `json:"value,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Label string   `json:"label"`
	Color string   `json:"color"`
}

// Scheme is one section of the legend: how a property of some layers
// becomes a colour.
type Scheme struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Properties names, for each source layer drawn with the scheme, the
	// property that picks the class; empty for the fixed colours.
	Properties map[string]string `json:"properties,omitempty"`
	Kind       string            `json:"kind"` // "categorical", "ramp" or "fixed"
	// Enum names the catalogue's enumeration a categorical scheme shows
	// (geo.Enum.Name).
	Enum    string  `json:"enum,omitempty"`
	Classes []Class `json:"classes"`
}

func num(v float64) *float64 { return &v }

// categorical is the scheme id, titled title, colouring by enumeration e
// the property of each source layer in properties: a class per value of
// e, in e's order, with its label and colour. Every value must have a
// colour, or the map would draw it in another's.
func categorical(id, title string, e *geo.Enum, properties map[string]string) Scheme {
	classes := make([]Class, len(e.Values))
	for i, v := range e.Values {
		if v.Color == "" {
			panic("tiles: legend scheme " + id + ": " + e.Name + " " + v.Value + " has no colour")
		}
		classes[i] = Class{Value: v.Value, Label: v.Label, Color: v.Color}
	}
	return Scheme{ID: id, Title: title, Properties: properties, Kind: "categorical", Enum: e.Name, Classes: classes}
}

// Legend is every colour the map uses.
var Legend = []Scheme{
	categorical("village_status", "村贫困状态", geo.PovertyStatuses, map[string]string{"villages": "status"}),
	categorical("hazard_risk", "地质灾害隐患区", geo.HazardRiskLevels, map[string]string{"hazard_zones": "risk_level"}),
	categorical("road_class", "道路", geo.RoadClasses, map[string]string{"roads": "class"}),
	categorical("service_kind", "公共服务设施", geo.ServiceKinds, map[string]string{"services": "kind"}),
	categorical("flag_severity", "数据核查", geo.FlagSeverities, map[string]string{"flags": "severity"}),
	{
		ID: "poverty_incidence", Title: "贫困发生率", Properties: map[string]string{"provinces": "poverty_incidence", "cities": "poverty_incidence",
			"counties": "poverty_incidence", "townships": "poverty_incidence"}, Kind: "ramp",
		Classes: []Class{
			{Min: num(0), Label: "< 2%", Color: "#1F3347"},
			{Min: num(0.02), Label: "2–5%", Color: "#3E3F6B"},
			{Min: num(0.05), Label: "5–10%", Color: "#6E4479"},
			{Min: num(0.10), Label: "10–20%", Color: "#A44D72"},
			{Min: num(0.20), Label: "≥ 20%", Color: "#D9695C"},
		},
	},
	{
		ID: "completion", Title: "项目完成度 / 安置点建设进度", Properties: map[string]string{"projects": "completion", "sites": "progress"}, Kind: "ramp",
		Classes: []Class{
			{Min: num(0), Label: "0–20%", Color: "#414487"},
			{Min: num(20), Label: "20–40%", Color: "#2A788E"},
			{Min: num(40), Label: "40–60%", Color: "#22A884"},
			{Min: num(60), Label: "60–80%", Color: "#7AD151"},
			{Min: num(80), Label: "80–100%", Color: "#FDE725"},
		},
	},
	{
		// Cividis: a sequential ramp made to read the same with the common
		// colour-vision deficiencies, kept apart from the completion
		// ramp's viridis, which the sites drawn over it use.
		ID: "suitability", Title: "安置点选址适宜性", Properties: map[string]string{"suitability": "score"}, Kind: "ramp",
		Classes: []Class{
			{Min: num(0), Label: "0–20", Color: "#00224E"},
			{Min: num(20), Label: "20–40", Color: "#414D6B"},
			{Min: num(40), Label: "40–60", Color: "#7C7B78"},
			{Min: num(60), Label: "60–80", Color: "#BCAF6F"},
			{Min: num(80), Label: "80–100", Color: "#FEE838"},
		},
	},
	{
		// Drawn by the drill-down's comparison of two days, not by the
		// style: blue and orange, the pair that stays apart with every
		// common colour-vision deficiency, for a figure that fell or rose
		// (the page adds ▼/▲, so colour is never the only sign), and a
		// ring round each village that changed.
		ID: "compare", Title: "两日对比", Kind: "fixed",
		Classes: []Class{
			{Value: "decrease", Label: "减少", Color: "#56B4E9"},
			{Value: "increase", Label: "增加", Color: "#E69F00"},
			{Value: "changed", Label: "两日之间有变化的村", Color: "#CC79A7"},
		},
	},
	{
		ID: "base", Title: "底图", Kind: "fixed",
		Classes: []Class{
			{Value: "background", Label: "背景", Color: "#0B1320"},
			{Value: "county_line", Label: "县界", Color: "#C8D3E0"},
			{Value: "township_line", Label: "乡镇界", Color: "#5C6B80"},
			{Value: "flow", Label: "搬迁流向", Color: "#56B4E9"},
			{Value: "unsuitable", Label: "不宜选址（坡度过陡、地质灾害隐患、无地形数据）", Color: "#6B6B6B"},
			{Value: "demonstration", Label: "示范点", Color: "#F0E442"},
			// Drawn by the planner's page, not by the style: proposed sites.
			{Value: "candidate", Label: "候选安置点", Color: "#CC79A7"},
			{Value: "symbol_stroke", Label: "符号描边", Color: "#FFFFFF"},
			{Value: "label", Label: "地名", Color: "#F2F5F8"},
			{Value: "label_halo", Label: "地名描边", Color: "#05090F"},
		},
	},
}

// scheme returns the legend scheme with id; the ids are this file's own,
// so a missing one is a programming error.
func scheme(id string) Scheme {
	for _, s := range Legend {
		if s.ID == id {
			return s
		}
	}
	panic("tiles: no legend scheme " + id)
}

// baseColor is the colour of a fixed legend entry.
func baseColor(value string) string {
	for _, c := range scheme("base").Classes {
		if c.Value == value {
			return c.Color
		}
	}
	panic("tiles: no base colour " + value)
}

// colorBy is the MapLibre expression colouring features of sourceLayer by
// scheme id; a feature without the property, or with a value the scheme
// lacks, takes the first class's colour.
func colorBy(id, sourceLayer string) any {
	s := scheme(id)
	property, ok := s.Properties[sourceLayer]
	if !ok {
		panic("tiles: legend scheme " + id + " does not colour layer " + sourceLayer)
	}
	if s.Kind == "categorical" {
		expr := []any{"match", []any{"get", property}}
		for _, c := range s.Classes {
			expr = append(expr, c.Value, c.Color)
		}
		return append(expr, s.Classes[0].Color)
	}
	expr := []any{"step", []any{"coalesce", []any{"get", property}, *s.Classes[0].Min}, s.Classes[0].Color}
	for _, c := range s.Classes[1:] {
		expr = append(expr, *c.Min, c.Color)
	}
	return expr
}

// Style is a MapLibre style document (spec version 8).
type Style map[string]any

// LabelFont names the font stack of the labels. Names are Chinese, which
// MapLibre draws with the system's CJK font (the pages set
// localIdeographFontFamily); the glyph URL only has to exist.
const LabelFont = "Noto Sans CJK SC Regular"

// NewStyle returns the battle map's style, drawing from the composite
// tileset's TileJSON under baseURL, and from each overlay's (hidden until
// a page shows it). It needs nothing from outside the
// server: the boundaries are the base map, glyphs come from baseURL and
// there are no icons (so no sprite).
func NewStyle(baseURL string) Style {
	isCluster := []any{"==", []any{"get", "cluster"}, true}
	notCluster := []any{"!", []any{"has", "cluster"}}
	layer := func(id, typ, sourceLayer string, minZoom int, paint map[string]any, filter any) map[string]any {
		l := map[string]any{"id": id, "type": typ, "source": CompositeName, "source-layer": sourceLayer, "paint": paint}
		if minZoom > 0 {
			l["minzoom"] = minZoom
		}
		if filter != nil {
			l["filter"] = filter
		}
		return l
	}
	zoomed := func(stops ...any) any { return append([]any{"interpolate", []any{"linear"}, []any{"zoom"}}, stops...) }
	// The areas of provinces, cities and counties, each drawn from the
	// zoom it fills the map at (and held by the tiles only to the zoom
	// the next level takes over), coloured by poverty incidence.
	regionFill := func(sourceLayer string, minZoom int) map[string]any {
		return layer(sourceLayer+"-fill", "fill", sourceLayer, minZoom, map[string]any{
			"fill-color":   colorBy("poverty_incidence", sourceLayer),
			"fill-opacity": zoomed(5, 0.9, 8, 0.75, 9, 0.0),
		}, nil)
	}
	regionLine := func(sourceLayer string, minZoom int, color string, width any) map[string]any {
		return layer(sourceLayer+"-line", "line", sourceLayer, minZoom, map[string]any{"line-color": baseColor(color), "line-width": width}, nil)
	}
	return Style{
		"version": 8,
		"name":    "battlemap 挂图作战",
		"glyphs":  baseURL + "/fonts/{fontstack}/{range}.pbf",
		"sources": map[string]any{
			CompositeName:    map[string]any{"type": "vector", "url": baseURL + "/tiles/" + CompositeName + ".json"},
			Suitability.Name: map[string]any{"type": "vector", "url": baseURL + "/tiles/" + Suitability.Name + ".json"},
		},
		"layers": []any{
			map[string]any{"id": "background", "type": "background", "paint": map[string]any{"background-color": baseColor("background")}},
			regionFill("provinces", 0), regionFill("cities", CitiesFrom), regionFill("counties", CountiesFrom),
			layer("townships-fill", "fill", "townships", TownshipsFrom, map[string]any{
				"fill-color":   colorBy("poverty_incidence", "townships"),
				"fill-opacity": zoomed(8, 0.7, 12, 0.35, 14, 0.2),
			}, nil),
			// Under the boundaries, flows and sites, hidden: the planner
			// shows it (and only then are its tiles fetched).
			map[string]any{"id": "suitability-fill", "type": "fill", "source": Suitability.Name, "source-layer": Suitability.Name,
				"minzoom": Suitability.MinZoom, "layout": map[string]any{"visibility": "none"},
				"paint": map[string]any{
					"fill-color":   []any{"case", []any{"has", "score"}, colorBy("suitability", Suitability.Name), baseColor("unsuitable")},
					"fill-opacity": 0.6,
				}},
			layer("hazard_zones-fill", "fill", "hazard_zones", 8, map[string]any{
				"fill-color": colorBy("hazard_risk", "hazard_zones"), "fill-opacity": 0.35,
			}, nil),
			layer("hazard_zones-line", "line", "hazard_zones", 8, map[string]any{
				"line-color": colorBy("hazard_risk", "hazard_zones"), "line-width": zoomed(8, 0.5, 14, 1.5),
			}, nil),
			regionLine("townships", TownshipsFrom, "township_line", zoomed(8, 0.5, 14, 1.5)),
			regionLine("counties", CountiesFrom, "county_line", zoomed(5, 1, 10, 2.5, 14, 4)),
			regionLine("cities", CitiesFrom, "county_line", 1.5),
			regionLine("provinces", 0, "county_line", zoomed(0, 1, 5, 2.5)),
			layer("roads-line", "line", "roads", 8, map[string]any{
				"line-color": colorBy("road_class", "roads"),
				// Wider for the higher classes (zoom must be the outermost
				// input of a MapLibre expression).
				"line-width": zoomed(8, []any{"*", 0.5, roadWidth}, 14, []any{"*", 2, roadWidth}),
			}, nil),
			layer("flows-line", "line", "flows", 9, map[string]any{
				"line-color":   baseColor("flow"),
				"line-opacity": 0.55,
				"line-width":   []any{"interpolate", []any{"linear"}, []any{"get", "people"}, 0, 0.5, 500, 2, 3000, 6},
			}, nil),
			layer("projects-line", "line", "projects", 11, map[string]any{
				"line-color": colorBy("completion", "projects"), "line-width": zoomed(11, 2, 14, 5),
			}, []any{"==", []any{"geometry-type"}, "LineString"}),
			layer("projects-point", "circle", "projects", 11, map[string]any{
				"circle-color":        colorBy("completion", "projects"),
				"circle-radius":       zoomed(11, 3, 14, 6),
				"circle-stroke-color": baseColor("symbol_stroke"),
				"circle-stroke-width": 0.5,
			}, []any{"all", []any{"==", []any{"geometry-type"}, "Point"}, notCluster}),
			layer("projects-cluster", "circle", "projects", 0, map[string]any{
				"circle-color":        colorBy("completion", "projects"),
				"circle-radius":       []any{"interpolate", []any{"linear"}, []any{"sqrt", []any{"get", "projects"}}, 1, 4, 10, 14},
				"circle-opacity":      0.85,
				"circle-stroke-color": baseColor("symbol_stroke"),
				"circle-stroke-width": 1,
			}, isCluster),
			layer("services-circle", "circle", "services", 10, map[string]any{
				"circle-color":        colorBy("service_kind", "services"),
				"circle-radius":       zoomed(10, 2.5, 14, 5),
				"circle-stroke-color": baseColor("symbol_stroke"),
				"circle-stroke-width": 0.5,
			}, nil),
			layer("sites-circle", "circle", "sites", 0, map[string]any{
				"circle-color":        colorBy("completion", "sites"),
				"circle-radius":       []any{"interpolate", []any{"linear"}, []any{"sqrt", []any{"get", "capacity_people"}}, 10, 4, 150, 22},
				"circle-opacity":      0.9,
				"circle-stroke-color": baseColor("symbol_stroke"),
				"circle-stroke-width": 1.5,
			}, nil),
			layer("villages-circle", "circle", "villages", 9, map[string]any{
				"circle-color":        colorBy("village_status", "villages"),
				"circle-radius":       zoomed(9, 2.5, 12, 5, 14, 8),
				"circle-stroke-color": []any{"case", []any{"==", []any{"get", "demonstration"}, true}, baseColor("demonstration"), baseColor("background")},
				"circle-stroke-width": []any{"case", []any{"==", []any{"get", "demonstration"}, true}, 2, 0.5},
			}, nil),
			// A ring round what a flag is about, over the villages' dots,
			// so that the village, site or project stays readable inside
			// it; the worst drawn on top where rings overlap.
			map[string]any{"id": "flags-ring", "type": "circle", "source": CompositeName, "source-layer": "flags", "minzoom": 7,
				"layout": map[string]any{"circle-sort-key": severitySortKey},
				"paint": map[string]any{
					"circle-radius":       zoomed(7, 5, 12, 9, 14, 13),
					"circle-color":        colorBy("flag_severity", "flags"),
					"circle-opacity":      0.15,
					"circle-stroke-color": colorBy("flag_severity", "flags"),
					"circle-stroke-width": zoomed(7, 2, 14, 3),
				}},
			label("villages-label", "villages", 12, 12, "short_name"),
			label("townships-label", "labels", TownshipsFrom, 13, "name", "==", []any{"get", "level"}, "township"),
			label("counties-label", "labels", CountiesFrom, 16, "name", "==", []any{"get", "level"}, "county"),
			label("cities-label", "labels", CitiesFrom, 16, "name", "==", []any{"get", "level"}, "city"),
			label("provinces-label", "labels", 0, 16, "name", "==", []any{"get", "level"}, "province"),
		},
	}
}

// severitySortKey orders the flags' rings: the worst severity (first in
// geo.FlagSeverities) has the highest key and is drawn last, on top.
var severitySortKey = func() []any {
	expr := []any{"match", []any{"get", "severity"}}
	for i, v := range geo.FlagSeverities.Values {
		expr = append(expr, v.Value, len(geo.FlagSeverities.Values)-i)
	}
	return append(expr, 0)
}()

// roadWidth is a road's relative width by its class.
var roadWidth = []any{"match", []any{"get", "class"}, "expressway", 3, "national", 2.5, "provincial", 2, "county", 1.5, "township", 1, 0.75}

// label writes property text of sourceLayer's features from minZoom, at
// size px; filter, when given, is a comparison selecting the features.
func label(id, sourceLayer string, minZoom int, size float64, text string, filter ...any) map[string]any {
	l := map[string]any{
		"id": id, "type": "symbol", "source": CompositeName, "source-layer": sourceLayer, "minzoom": minZoom,
		"layout": map[string]any{
			"text-field":          []any{"get", text},
			"text-font":           []any{LabelFont},
			"text-size":           size,
			"text-offset":         []any{0, 0.9},
			"text-anchor":         "top",
			"text-optional":       true,
			"symbol-sort-key":     []any{"to-number", []any{"get", "code"}},
			"text-allow-overlap":  false,
			"text-max-width":      12,
			"text-letter-spacing": 0.05,
		},
		"paint": map[string]any{
			"text-color":      baseColor("label"),
			"text-halo-color": baseColor("label_halo"),
			"text-halo-width": 1.5,
		},
	}
	if len(filter) > 0 {
		l["filter"] = filter
	}
	return l
}
