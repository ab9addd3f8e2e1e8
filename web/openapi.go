package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// openAPIType is the media type of the API definition, as OGC API –
// Features names it for its service-desc link.
const openAPIType = "application/vnd.oai.openapi+json;version=3.0"

// schema is a JSON Schema object of the API definition.
type schema = map[string]any

// openAPIDoc is an OpenAPI 3.0 document.
type openAPIDoc struct {
	OpenAPI    string               `json:"openapi"`
	Info       openAPIInfo          `json:"info"`
	Servers    []openAPIServer      `json:"servers"`
	Paths      map[string]pathItem  `json:"paths"`
	Components map[string]schemaSet `json:"components"`
}

type openAPIInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

type openAPIServer struct {
	URL string `json:"url"`
}

// schemaSet is a components member: named schemas.
type schemaSet map[string]schema

// pathItem is a path's operations by lower-case method.
type pathItem map[string]operation

type operation struct {
	Summary     string              `json:"summary"`
	OperationID string              `json:"operationId"`
	Tags        []string            `json:"tags"`
	Parameters  []parameter         `json:"parameters,omitempty"`
	RequestBody *requestBody        `json:"requestBody,omitempty"`
	Responses   map[string]response `json:"responses"`
}

type parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Description string `json:"description"`
	Required    bool   `json:"required,omitempty"`
	Schema      schema `json:"schema"`
	Style       string `json:"style,omitempty"`
	Explode     *bool  `json:"explode,omitempty"`
}

type requestBody struct {
	Required bool                 `json:"required"`
	Content  map[string]mediaType `json:"content"`
}

type response struct {
	Description string               `json:"description"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

type mediaType struct {
	Schema schema `json:"schema"`
}

// apiDefinition serves GET /api: the OpenAPI definition of every endpoint
// but the pages, which OGC API – Features Core asks the landing page to
// link to (service-desc).
func (s *Server) apiDefinition(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return c.JSON(newOpenAPIDoc(s.baseURL(c), s.cfg.ImportEnabled), openAPIType)
}

// newOpenAPIDoc is the API definition for a server reached at base. The
// collections' paths come from their definitions in geo, so the document
// lists the parameters ogc.ParseItems takes (TestAPIDefinition holds the two
// together, and the paths to the routes).
func newOpenAPIDoc(base string, importEnabled bool) openAPIDoc {
	d := openAPIDoc{
		OpenAPI: "3.0.3",
		Info: openAPIInfo{
			Title:   "battlemap: 挂图作战",
			Version: "1",
			Description: "Villages, relocation sites and projects of the poverty-alleviation battle map: " +
				"OGC API – Features (GeoJSON and CSV), drill-down figures, search, vector tiles. " +
				"Errors are application/problem+json.",
		},
		Servers: []openAPIServer{{URL: base}},
		Paths:   map[string]pathItem{},
		Components: map[string]schemaSet{"schemas": {
			"Problem": {"type": "object", "properties": schema{
				"type": schema{"type": "string"}, "title": schema{"type": "string"},
				"status": schema{"type": "integer"}, "detail": schema{"type": "string"},
			}},
			"Link": {"type": "object", "required": []string{"href", "rel"}, "properties": schema{
				"href": schema{"type": "string"}, "rel": schema{"type": "string"},
				"type": schema{"type": "string"}, "title": schema{"type": "string"},
			}},
		}},
	}
	jsonOf := func(description string, s schema) map[string]response {
		return answers(description, fiber.MIMEApplicationJSON, s)
	}
	object := schema{"type": "object"}
	get := func(path, id, tag, summary string, params []parameter, responses map[string]response) {
		d.Paths[path] = pathItem{"get": {Summary: summary, OperationID: id, Tags: []string{tag}, Parameters: params, Responses: responses}}
	}
	f := formatParam(ogc.FormatJSON)

	get("/", "getLandingPage", "OGC API", "the landing page", []parameter{f}, jsonOf("links to the API definition, conformance and collections", object))
	get("/api", "getAPIDefinition", "OGC API", "this API definition", []parameter{f}, answers("OpenAPI 3.0", openAPIType, object))
	get("/conformance", "getConformance", "OGC API", "the conformance classes implemented", []parameter{f},
		jsonOf("conformsTo", schema{"type": "object", "properties": schema{"conformsTo": schema{"type": "array", "items": schema{"type": "string"}}}}))
	get("/collections", "getCollections", "OGC API", "the feature collections", []parameter{f}, jsonOf("the collections with their extents", object))
	for _, c := range geo.Collections {
		addCollection(d.Paths, c)
	}

	code := func(what string) parameter {
		return parameter{Name: "code", In: "path", Required: true, Description: what, Schema: schema{"type": "string"}}
	}
	get("/api/regions", "getTopRegions", "Drill-down", "the regions without a parent, where the drill-down starts (the demo's one city)",
		[]parameter{f}, jsonOf("the top regions, by code", schema{"type": "object", "required": []string{"regions"}, "properties": schema{
			"regions": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
				"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string"},
				"bbox": schema{"type": "array", "minItems": 4, "maxItems": 4, "items": schema{"type": "number"},
					"description": "minLon, minLat, maxLon, maxLat of its boundary"},
			}}},
		}}))
	get("/api/regions/{code}", "getRegion", "Drill-down",
		"one drill-down step: a region, its breadcrumb, figures, project counts and children; a village's projects and relocation",
		[]parameter{code("statistical code: 6 digits (city, county), 9 (township) or 12 (village)"), f},
		jsonOf("the region", object))
	get("/api/search", "search", "Drill-down", "regions by name (村民委员会 / 居民委员会 optional) or code prefix, best first",
		[]parameter{
			{Name: "q", In: "query", Required: true, Description: "a name, part of one, or the first digits of a code", Schema: schema{"type": "string", "maxLength": geo.MaxSearchRunes}},
			{Name: "limit", In: "query", Description: "most matches", Schema: schema{"type": "integer", "minimum": 1, "maximum": geo.MaxSearchLimit, "default": geo.DefaultSearchLimit}},
		}, jsonOf("the matches with level, breadcrumb and bbox", object))
	get("/api/version", "getDataVersion", "Live", "the data version and when it last moved; screens poll it", nil,
		jsonOf("the version", object))
	get("/api/sites/{code}", "getSite", "Relocation", "a relocation site and the villages whose people move there",
		[]parameter{code("site code")}, jsonOf("the site", object))
	get("/api/relocation/unassigned", "getUnassigned", "Relocation", "poverty villages not yet exited with no site assigned",
		[]parameter{{Name: "county", In: "query", Description: "only this county (6-digit code)", Schema: schema{"type": "string", "pattern": "^[0-9]{6}$"}}},
		jsonOf("the villages and their count", object))

	layer := parameter{Name: "layer", In: "path", Required: true, Description: "a tile layer, or battlemap for all in one tile", Schema: schema{"type": "string"}}
	tileParams := []parameter{layer}
	for _, n := range []string{"z", "x", "y"} {
		tileParams = append(tileParams, parameter{Name: n, In: "path", Required: true, Description: "tile " + n, Schema: schema{"type": "integer", "minimum": 0}})
	}
	tile := answers("the tile", mvtType, schema{"type": "string", "format": "binary"})
	tile["204"] = response{Description: "no feature in this tile"}
	get("/tiles/{layer}/{z}/{x}/{y}.mvt", "getTile", "Tiles", "a Mapbox Vector Tile; 204 when empty, 304 for a known ETag", tileParams, tile)
	get("/tiles/{layer}.json", "getTileJSON", "Tiles", "TileJSON 3.0.0 of a layer", []parameter{layer}, jsonOf("TileJSON", object))
	get("/style.json", "getStyle", "Tiles", "the MapLibre style of the battle map", nil, jsonOf("a MapLibre style, spec v8", object))
	get("/legend.json", "getLegend", "Tiles", "the colour classes the style uses", nil, jsonOf("the legend", object))
	get("/api/catalogue", "getCatalogue", "Catalogue",
		"the catalogue the pages label with: every enumeration's values with their Chinese labels and legend colours, "+
			"each collection's properties with their types, descriptions, units and enumerations", nil,
		jsonOf("the catalogue", object))
	get("/healthz", "getHealth", "Operations", "the process is up", nil, jsonOf("ok", object))
	get("/readyz", "getReadiness", "Operations", "the database answers and has this binary's schema (503 otherwise)", nil, jsonOf("ready", object))

	imp := operation{
		Summary:     "import villages, sites or projects, all or nothing (GeoJSON FeatureCollection or CSV with lon/lat)",
		OperationID: "importLayer", Tags: []string{"Import"},
		Parameters: []parameter{{Name: "layer", In: "path", Required: true, Description: "what the file holds",
			Schema: schema{"type": "string", "enum": []string{"villages", "sites", "projects"}}}},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{
			geoJSONType: {Schema: object}, "text/csv": {Schema: schema{"type": "string"}},
		}},
		Responses: jsonOf("the features written", object),
	}
	imp.Responses["413"] = response{Description: "body too large"}
	imp.Responses["409"] = response{Description: "a concurrent change to the same rows kept getting in the way; nothing was written, send it again"}
	if !importEnabled {
		imp.Summary += "; off on this server (404) until --enable-import"
	}
	d.Paths["/api/import/{layer}"] = pathItem{"post": imp}
	return d
}

// addCollection adds the paths of collection c: its metadata, items and
// single features.
func addCollection(paths map[string]pathItem, c *geo.Collection) {
	self := "/collections/" + c.ID
	name := strings.ToUpper(c.ID[:1]) + c.ID[1:]
	props := schema{}
	for _, col := range c.Columns {
		p := schema{"type": col.Type, "nullable": true, "description": col.Description}
		if col.Enum != nil {
			// A nullable enumeration lists null among its values (OpenAPI 3.0.3).
			values := []any{}
			for _, v := range col.Enum.Strings() {
				values = append(values, v)
			}
			p["enum"] = append(values, nil)
		}
		props[col.Name] = p
	}
	feature := schema{"type": "object", "required": []string{"type", "geometry", "properties"}, "properties": schema{
		"type":       schema{"type": "string", "enum": []string{"Feature"}},
		"id":         schema{"type": "string"},
		"geometry":   schema{"type": "object", "description": "GeoJSON " + c.GeometryType + ", WGS 84 longitude/latitude"},
		"properties": schema{"type": "object", "properties": props},
	}}
	collection := schema{"type": "object", "required": []string{"type", "features"}, "properties": schema{
		"type":           schema{"type": "string", "enum": []string{"FeatureCollection"}},
		"features":       schema{"type": "array", "items": feature},
		"numberMatched":  schema{"type": "integer"},
		"numberReturned": schema{"type": "integer"},
		"timeStamp":      schema{"type": "string", "format": "date-time"},
		"links":          schema{"type": "array", "items": schema{"$ref": "#/components/schemas/Link"}},
	}}
	csvText := mediaType{Schema: schema{"type": "string"}}

	paths[self] = pathItem{"get": {
		Summary: c.Title + ": what the collection holds, its extent and filters", OperationID: "describe" + name,
		Tags: []string{c.Title}, Parameters: []parameter{formatParam(ogc.FormatJSON)},
		Responses: answers("the collection", fiber.MIMEApplicationJSON, schema{"type": "object"}),
	}}

	var params []parameter
	for _, p := range ogc.ItemsParams(c) {
		params = append(params, itemsParam(c, p))
	}
	items := answers("a page of features, in id order; the next link leads on", geoJSONType, collection)
	items["200"].Content[csvType] = csvText
	paths[self+"/items"] = pathItem{"get": {
		Summary: c.Title + ": features, filtered and paged", OperationID: "get" + name + "Features",
		Tags: []string{c.Title}, Parameters: params, Responses: items,
	}}

	one := answers("the feature", geoJSONType, feature)
	one["200"].Content[csvType] = csvText
	paths[self+"/items/{featureId}"] = pathItem{"get": {
		Summary: c.Title + ": one feature", OperationID: "get" + name + "Feature", Tags: []string{c.Title},
		Parameters: []parameter{
			{Name: "featureId", In: "path", Required: true, Description: "the feature's id, its code", Schema: schema{"type": "string"}},
			formatParam(ogc.FormatJSON, ogc.FormatCSV),
		},
		Responses: one,
	}}
}

// itemsParam describes the query parameter name of c's items.
func itemsParam(c *geo.Collection, name string) parameter {
	no := false
	switch name {
	case "bbox":
		return parameter{Name: name, In: "query", Style: "form", Explode: &no,
			Description: "minLon,minLat,maxLon,maxLat in WGS 84 (or six numbers with heights after the latitudes)",
			Schema:      schema{"type": "array", "minItems": 4, "maxItems": 6, "items": schema{"type": "number"}}}
	case "datetime":
		d := datetimeDoc(c)
		return parameter{Name: name, In: "query", Description: d.Description + "; " + d.Allowed, Schema: schema{"type": "string"}}
	case "limit":
		return parameter{Name: name, In: "query", Description: "most features on a page",
			Schema: schema{"type": "integer", "minimum": 1, "maximum": ogc.MaxLimit, "default": ogc.DefaultLimit}}
	case "cursor":
		return parameter{Name: name, In: "query", Description: "where the page starts: given by the previous page's next link", Schema: schema{"type": "string"}}
	case "f":
		return formatParam(ogc.FormatJSON, ogc.FormatCSV)
	}
	for _, f := range c.Filters {
		if f.Param == name {
			s := schema{"type": f.Type()}
			if f.Values() != nil {
				s["enum"] = f.Values()
			}
			return parameter{Name: name, In: "query", Description: f.Description + ": " + f.Allowed(), Schema: s}
		}
	}
	panic("web: collection " + c.ID + " takes a parameter the API definition does not know: " + name)
}

// formatParam is the f parameter taking formats, the first the default.
func formatParam(formats ...string) parameter {
	return parameter{Name: "f", In: "query", Description: "the format of the answer",
		Schema: schema{"type": "string", "enum": formats, "default": formats[0]}}
}

// answers is the responses of an operation whose success is 200 with s as
// mediaType; every operation may answer problem+json for bad input and
// unknown resources.
func answers(description, contentType string, s schema) map[string]response {
	problem := map[string]mediaType{"application/problem+json": {Schema: schema{"$ref": "#/components/schemas/Problem"}}}
	return map[string]response{
		"200": {Description: description, Content: map[string]mediaType{contentType: {Schema: s}}},
		"400": {Description: "bad input: the detail says which parameter and why", Content: problem},
		"404": {Description: "no such resource", Content: problem},
	}
}
