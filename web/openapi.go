package web

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/terrain"
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
	// topRegion is a region where a drill-down may start.
	topRegion := schema{
		"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string", "enum": geo.RegionLevels.Strings()},
		"bbox": schema{"type": "array", "minItems": 4, "maxItems": 4, "items": schema{"type": "number"},
			"description": "minLon, minLat, maxLon, maxLat of its boundary"},
	}
	get("/api/regions", "getTopRegions", "Drill-down", "the root region the pages open on (--root, else the first top region by code) and the regions without a parent",
		[]parameter{f}, jsonOf("the root region and the top regions, by code", schema{"type": "object", "required": []string{"root", "regions"}, "properties": schema{
			"root": schema{"type": "object", "nullable": true, "properties": topRegion,
				"description": "the region the pages open on; null while the data has none (or lacks --root's)"},
			"regions": schema{"type": "array", "items": schema{"type": "object", "properties": topRegion}},
		}}))
	get("/api/regions/{code}", "getRegion", "Drill-down",
		"one drill-down step: a region, its breadcrumb, figures, project counts and children; a village's projects and relocation",
		[]parameter{code("statistical code: 6 digits (country, province, city, county), 9 (township) or 12 (village)"), f, atParam("query")},
		jsonOf("the region", object))
	get("/api/regions/{code}/funds", "getRegionFunds", "Drill-down",
		`the special funds of the projects counted in a region: planned, disbursed, disbursement rate and average completion, `+
			`whole and by "33112" use (industry 30%, cooperatives 30%, interest subsidies 10%, training 10%, public facilities 20%) `+
			`with each use's share of the planned funds and its deviation from the rule's; and the key projects, those of 2,000,000 yuan or more (重点检查), largest first`,
		[]parameter{code("statistical code: 6 digits (country, province, city, county), 9 (township) or 12 (village)"), f, atParam("query")},
		jsonOf("the region's funds", object))
	ranked := jsonOf("the rows by rank, each with its figures, its ranks by every measure, its rank and figures at the end of the month before, and the change", object)
	ranked["200"].Content[csvType] = mediaType{Schema: schema{"type": "string", "description": "UTF-8 with a byte order mark, CRLF line ends, a header row in Chinese"}}
	get("/api/regions/{code}/rankings", "getRegionRankings", "Rankings",
		"the counties, townships or paired units (包保单位) under a region ranked by a measure (考核排名): exits in the year against the villages to exit, "+
			"poor people lifted out since the year began, the projects' average completion, or the funds' disbursement rate; equal figures share a rank. "+
			"Each rank is compared with the rank at the end of the month before (China Standard Time), read by the same SQL as of then",
		[]parameter{code("statistical code of a region above the villages"),
			{Name: "by", In: "query", Description: "what is ranked; the default is the level below the region's (units under a township)", Schema: schema{"type": "string", "enum": geo.RankingGroupings.Strings()}},
			{Name: "measure", In: "query", Description: "what it is ranked by", Schema: schema{"type": "string", "enum": geo.RankingMeasures.Strings(), "default": geo.RankingMeasures.Strings()[0]}},
			atParam("query"), formatParam(ogc.FormatJSON, ogc.FormatCSV)},
		ranked)
	get("/api/units/{name}", "getPairedUnit", "Rankings",
		"a paired unit (包保单位) with its figures and its villages' (each ranked among them), as in the rankings",
		[]parameter{{Name: "name", In: "path", Required: true, Description: "the unit's name, as its villages give it", Schema: schema{"type": "string"}}, f, atParam("query")},
		jsonOf("the unit and its villages", object))
	addFlags(d.Paths, jsonOf, code)
	get("/api/search", "search", "Drill-down", "regions by name (村民委员会 / 居民委员会 optional) or code prefix, best first",
		[]parameter{
			{Name: "q", In: "query", Required: true, Description: "a name, part of one, or the first digits of a code", Schema: schema{"type": "string", "maxLength": geo.MaxSearchRunes}},
			{Name: "limit", In: "query", Description: "most matches", Schema: schema{"type": "integer", "minimum": 1, "maximum": geo.MaxSearchLimit, "default": geo.DefaultSearchLimit}},
			atParam("query"),
		}, jsonOf("the matches with level, breadcrumb and bbox", object))
	get("/api/history", "getHistorySpan", "History", "when the map's history begins and that it runs to now: the span ?at= takes",
		[]parameter{f}, jsonOf("from and to (RFC 3339, null while there is no history) and the zone of days", schema{"type": "object",
			"properties": schema{"from": schema{"type": "string", "nullable": true}, "to": schema{"type": "string", "nullable": true},
				"zone": schema{"type": "string"}}}))
	get("/api/version", "getDataVersion", "Live", "the data version and when it last moved; screens poll it", nil,
		jsonOf("the version", object))
	get("/api/sites/{code}", "getSite", "Relocation", "a relocation site and the villages whose people move there",
		[]parameter{code("site code")}, jsonOf("the site", object))
	get("/api/relocation/unassigned", "getUnassigned", "Relocation", "poverty villages not yet exited with no site assigned",
		[]parameter{{Name: "county", In: "query", Description: "only this county (6-digit code)", Schema: schema{"type": "string", "pattern": "^[0-9]{6}$"}},
			{Name: "region", In: "query", Description: "only under this region: the country, a province, a city or a county (6-digit code)", Schema: schema{"type": "string", "pattern": "^[0-9]{6}$"}},
			{Name: "limit", In: "query", Description: "list at most this many, most poor people first (count is of all)", Schema: schema{"type": "integer", "minimum": 1, "maximum": geo.MaxUnassigned}}},
		jsonOf("the villages (at most limit) and how many there are", object))

	addSuitability(d.Paths, jsonOf, object)
	addHistory(d.Paths, jsonOf, code)
	addExits(d.Paths, jsonOf, code)

	layer := parameter{Name: "layer", In: "path", Required: true, Description: "a tile layer, or battlemap for all in one tile", Schema: schema{"type": "string"}}
	tileParams := []parameter{layer}
	for _, n := range []string{"z", "x", "y"} {
		tileParams = append(tileParams, parameter{Name: n, In: "path", Required: true, Description: "tile " + n, Schema: schema{"type": "integer", "minimum": 0}})
	}
	tile := answers("the tile", mvtType, schema{"type": "string", "format": "binary"})
	tile["204"] = response{Description: "no feature in this tile"}
	get("/tiles/{layer}/{z}/{x}/{y}.mvt", "getTile", "Tiles", "a Mapbox Vector Tile; 204 when empty, 304 for a known ETag", tileParams, tile)
	get("/tiles/{layer}/at/{at}/{z}/{x}/{y}.mvt", "getPastTile", "Tiles",
		"a Mapbox Vector Tile of the map as of a past moment (not the analysis overlays); 204 when empty, 304 for a known ETag",
		slices.Insert(slices.Clone(tileParams), 1, atParam("path")), tile)
	get("/tiles/{layer}.json", "getTileJSON", "Tiles", "TileJSON 3.0.0 of a layer; with at, of its tiles as of that moment",
		[]parameter{layer, atParam("query")}, jsonOf("TileJSON", object))
	get("/style.json", "getStyle", "Tiles", "the MapLibre style of the battle map", nil, jsonOf("a MapLibre style, spec v8", object))
	get("/legend.json", "getLegend", "Tiles", "the colour classes the style uses", nil, jsonOf("the legend", object))
	get("/api/catalogue", "getCatalogue", "Catalogue",
		"the catalogue the pages label with: every enumeration's values with their Chinese labels and legend colours, "+
			"each collection's properties with their types, descriptions, units and enumerations", nil,
		jsonOf("the catalogue", object))
	get("/healthz", "getHealth", "Operations", "the process is up", nil, jsonOf("ok", object))
	get("/readyz", "getReadiness", "Operations", "the database answers and has this binary's schema (503 otherwise)", nil, jsonOf("ready", object))

	imp := operation{
		Summary: "import a layer, all or nothing: villages, sites, projects, hazard zones, roads or services as a GeoJSON " +
			"FeatureCollection or CSV (lon/lat or wkt); the terrain as a GeoTIFF DEM (image/tiff, admins only)",
		OperationID: "importLayer", Tags: []string{"Import"},
		Parameters: []parameter{{Name: "layer", In: "path", Required: true, Description: "what the file holds",
			Schema: schema{"type": "string", "enum": append(importer.Layers(), terrain.Layer)}}},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{
			geoJSONType: {Schema: object}, "text/csv": {Schema: schema{"type": "string"}},
			tiffType: {Schema: schema{"type": "string", "format": "binary"}},
		}},
		Responses: jsonOf("the features written", object),
	}
	imp.Responses["413"] = response{Description: "body too large"}
	imp.Responses["409"] = response{Description: "a concurrent change to the same rows kept getting in the way; nothing was written, send it again"}
	if !importEnabled {
		imp.Summary += "; off on this server (404) until --enable-import"
	}
	d.Paths["/api/import/{layer}"] = pathItem{"post": imp}

	me := schema{"type": "object", "properties": schema{
		"user": schema{"type": "object", "nullable": true, "properties": schema{
			"name": schema{"type": "string"}, "role": schema{"type": "string", "enum": []string{"admin", "county", "viewer"}},
			"counties": schema{"type": "array", "items": schema{"type": "string"}}}},
		"csrf":        schema{"type": "string", "nullable": true, "description": "send it as " + csrfHeader + " with every change made with the session cookie"},
		"read_access": schema{"type": "string", "enum": []string{ReadPublic, ReadViewer}},
	}}
	get("/api/me", "getMe", "Accounts", "who the request is from, the CSRF token of its session, and whether reads need a login", nil, jsonOf("the user, or null", me))
	login := operation{Summary: "sign in with a user name and one of the user's tokens: sets the session cookie (HttpOnly, SameSite=Strict); failures are rate-limited (429)",
		OperationID: "login", Tags: []string{"Accounts"},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{fiber.MIMEApplicationJSON: {Schema: schema{
			"type": "object", "required": []string{"name", "token"},
			"properties": schema{"name": schema{"type": "string"}, "token": schema{"type": "string"}}}}}},
		Responses: jsonOf("the user and the session's CSRF token", me)}
	login.Responses["401"] = response{Description: "the name and token do not match"}
	login.Responses["429"] = response{Description: "too many failures for this account or address; Retry-After says when to try again"}
	d.Paths["/api/login"] = pathItem{"post": login}
	logout := operation{Summary: "end the session (send " + csrfHeader + ")", OperationID: "logout", Tags: []string{"Accounts"},
		Responses: answers("unused: the answer is 204", fiber.MIMEApplicationJSON, object)}
	logout.Responses["204"] = response{Description: "the session is over"}
	d.Paths["/api/logout"] = pathItem{"post": logout}
	events := answers("a text/event-stream: each change committed (event change; id its position in the change log; "+
		"data {id, at, action, layer, feature, regions, version}), comments as heartbeats", "text/event-stream", schema{"type": "string"})
	events["503"] = response{Description: "as many streams are open as the server takes; Retry-After"}
	d.Paths["/api/events"] = pathItem{"get": {Summary: "Server-Sent Events: every change to the map data as it commits, resumable with Last-Event-ID",
		OperationID: "getEvents", Tags: []string{"Live"}, Responses: events, Parameters: []parameter{
			{Name: "Last-Event-ID", In: "header", Description: "resume after this change (EventSource sends it on reconnecting)", Schema: schema{"type": "integer"}},
			{Name: "last_event_id", In: "query", Description: "the same, for clients that cannot set headers", Schema: schema{"type": "integer"}},
		}}}
	get("/api/audit", "getAudit", "Accounts", "the audit log, newest first: every row changed, who changed it, when, old and new values",
		[]parameter{
			{Name: "region", In: "query", Description: "changes to rows in this region (its code)", Schema: schema{"type": "string"}},
			{Name: "actor", In: "query", Description: "changes by this user or tool", Schema: schema{"type": "string"}},
			{Name: "since", In: "query", Description: "changes at or after this RFC 3339 date-time or date", Schema: schema{"type": "string"}},
			{Name: "table", In: "query", Description: "a comma list of " + strings.Join(auditTables, ", "), Schema: schema{"type": "string"}},
			{Name: "row", In: "query", Description: "changes to the row with this key", Schema: schema{"type": "string"}},
			{Name: "cursor", In: "query", Description: "the next value of the previous page", Schema: schema{"type": "string"}},
			{Name: "limit", In: "query", Description: "most entries", Schema: schema{"type": "integer", "minimum": 1, "maximum": auditMaxLimit, "default": auditDefaultLimit}},
		}, jsonOf("the entries and the next page's cursor", object))
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
	featureID := parameter{Name: "featureId", In: "path", Required: true, Description: "the feature's id, its code", Schema: schema{"type": "string"}}
	paths[self+"/items/{featureId}"] = pathItem{"get": {
		Summary: c.Title + ": one feature; its ETag is what an edit names in If-Match", OperationID: "get" + name + "Feature", Tags: []string{c.Title},
		Parameters: []parameter{featureID, formatParam(ogc.FormatJSON, ogc.FormatCSV), atParam("query")},
		Responses:  one,
	}}
	options := func(id, methods string, params []parameter) operation {
		r := answers("unused: the answer is 204", fiber.MIMEApplicationJSON, schema{"type": "object"})
		r["204"] = response{Description: "Allow lists the methods (" + methods + ")"}
		return operation{Summary: "the methods taken here (Allow) and the patch format (Accept-Patch)", OperationID: id,
			Tags: []string{c.Title}, Parameters: params, Responses: r}
	}
	paths[self+"/items"]["options"] = options("options"+name+"Features", itemsMethods(c.ID), nil)
	paths[self+"/items/{featureId}"]["options"] = options("options"+name+"Feature", itemMethods(c.ID), []parameter{featureID})
	if !editable(c.ID) {
		return
	}
	edited := answers("the feature as it now is, with its new ETag", geoJSONType, feature)
	for code, why := range map[string]string{
		"401": "no signed-in user", "403": "outside the user's scope, a role that only reads, or a cookie session without " + csrfHeader,
		"412": "If-Match is not the feature's current ETag: it changed since it was read", "415": "not " + mergePatchType,
		"422": "fields the data's rules refuse, each named in invalid-params", "428": "no If-Match",
	} {
		edited[code] = response{Description: why}
	}
	ifMatchParam := parameter{Name: "If-Match", In: "header", Required: true, Description: "the ETag of the feature as read", Schema: schema{"type": "string"}}
	paths[self+"/items/{featureId}"]["patch"] = operation{
		Summary: c.Title + ": change a feature (JSON merge patch of its properties and geometry)", OperationID: "patch" + name + "Feature",
		Tags: []string{c.Title}, Parameters: []parameter{featureID, ifMatchParam},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{mergePatchType: {Schema: schema{"type": "object",
			"properties": schema{"properties": schema{"type": "object"}, "geometry": schema{"type": "object"}}}}}},
		Responses: edited,
	}
	if c.ID != assignmentsID {
		return
	}
	created := answers("the assignment created (201; its URL in Location)", geoJSONType, feature)
	created["201"] = created["200"]
	created["409"] = response{Description: "the village is assigned to the site already"}
	paths[self+"/items"]["post"] = operation{
		Summary: "assign people of a village to a site", OperationID: "create" + name + "Feature", Tags: []string{c.Title},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{geoJSONType: {Schema: schema{"type": "object",
			"properties": schema{"properties": schema{"type": "object"}}}}}},
		Responses: created,
	}
	deleted := answers("unused: the answer is 204", fiber.MIMEApplicationJSON, schema{"type": "object"})
	deleted["204"] = response{Description: "deleted"}
	paths[self+"/items/{featureId}"]["delete"] = operation{
		Summary: "delete an assignment", OperationID: "delete" + name + "Feature", Tags: []string{c.Title},
		Parameters: []parameter{featureID, ifMatchParam}, Responses: deleted,
	}
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
	case "at":
		return atParam("query")
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

// atParam is the moment a read is as of, in the query or the path.
func atParam(in string) parameter {
	return parameter{Name: "at", In: in, Required: in == "path", Schema: schema{"type": "string"},
		Description: "read the map as of this moment: a day (YYYY-MM-DD, China Standard Time: the map as that day closed; today: now) " +
			"or an RFC 3339 date-time; before the map's history begins or in the future it is a 400 that names the span there is"}
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

// suitabilityParam describes a weight or threshold of the suitability
// analysis as a query parameter, from its declaration in geo.
func suitabilityParam(p geo.Param, required bool) parameter {
	s := schema{"type": "number", "minimum": p.Min, "maximum": p.Max}
	if p.Integer {
		s["type"] = "integer"
	}
	if !required {
		s["default"] = p.Default
	}
	d := p.Label + ": " + p.Description
	if p.Unit != "" {
		d += " (" + p.Unit + ")"
	}
	return parameter{Name: p.Name, In: "query", Description: d, Required: required, Schema: s}
}

// addSuitability adds the paths of the suitability analysis.
func addSuitability(paths map[string]pathItem, jsonOf func(string, schema) map[string]response, object schema) {
	county := parameter{Name: "county", In: "query", Required: true, Description: "the county (6-digit code)",
		Schema: schema{"type": "string", "pattern": "^[0-9]{6}$"}}
	params := func(first []parameter, sets ...[]geo.Param) []parameter {
		for _, set := range sets {
			for _, p := range set {
				first = append(first, suitabilityParam(p, false))
			}
		}
		return first
	}
	get := func(path, id, summary string, ps []parameter, r map[string]response) {
		paths[path] = pathItem{"get": {Summary: summary, OperationID: id, Tags: []string{"Suitability"}, Parameters: ps, Responses: r}}
	}
	get("/api/suitability/parameters", "getSuitabilityParameters",
		"the weights and thresholds the analysis takes, with labels, units, defaults and bounds, and the exclusions' labels", nil,
		jsonOf("parameters, candidate_parameters, exclusions", object))
	surface := answers("a FeatureCollection of the county's hexagons (500 m a side), each with its factors "+
		"(slope, hazard, road_m, service_m, people, villages), excluded (why a site cannot go there), "+
		"the points of each part and the score (0–100); with county_code, county_name, parameters, numberReturned, numberExcluded",
		geoJSONType, schema{"type": "object", "required": []string{"type", "features"}, "properties": schema{
			"type": schema{"type": "string", "enum": []string{"FeatureCollection"}}, "features": schema{"type": "array", "items": object}}})
	get("/api/suitability", "getSuitability", "a county's site suitability surface",
		params([]parameter{county}, geo.SuitabilityParams), surface)
	spot := []parameter{suitabilityParam(spotParams[0], true), suitabilityParam(spotParams[1], true)}
	get("/api/suitability/point", "getSuitabilityPoint",
		"why a spot scores as it does: each factor's value, weight and points, or which exclusions apply (404 outside every county)",
		params(spot, geo.SuitabilityParams), jsonOf("the spot's cell, its factors and score, or its exclusions", object))
	get("/api/suitability/candidates", "getSuitabilityCandidates",
		"proposed sites that together reach the most unassigned poor people (greedy maximum coverage), no two closer than spacing; "+
			"each with its score, the villages it would take and their people, and the body that creates it (proposal)",
		params([]parameter{county}, geo.SuitabilityParams, geo.CandidateParams), jsonOf("county_code, parameters, candidates", object))
	created := answers("the site created, with its villages (201; Location: its /api/sites URL)", fiber.MIMEApplicationJSON, object)
	created["201"] = created["200"]
	for code, why := range map[string]string{
		"401": "no signed-in user", "403": "outside the user's scope, a role that only reads, or a cookie session without " + csrfHeader,
		"409": "a site with that code exists", "415": "not JSON",
		"422": "fields the data's rules refuse, each named in invalid-params (site.name, assignments[0].people, …)",
	} {
		created[code] = response{Description: why}
	}
	paths["/api/suitability/sites"] = pathItem{"post": {
		Summary:     "create a planned site and the assignments of its villages in one change, all or nothing (a candidate's proposal)",
		OperationID: "createSuitabilitySite", Tags: []string{"Suitability"},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{fiber.MIMEApplicationJSON: {Schema: schema{
			"type": "object", "required": []string{"site", "assignments"}, "properties": schema{
				"site": schema{"type": "object", "description": "a GeoJSON Feature with a Point and the site's fields (code, name, type, county_code, " +
					"township_code, planned_completion; status defaults to planned, progress to 0, capacity to what is assigned)"},
				"assignments": schema{"type": "array", "minItems": 1, "items": schema{"type": "object",
					"required": []string{"village_code", "households", "people"}, "properties": schema{
						"village_code": schema{"type": "string"}, "households": schema{"type": "integer"}, "people": schema{"type": "integer"}}}},
			}}}}},
		Responses: created,
	}}
}

// addHistory adds the paths of a region's history: its timeline, its
// targets, what changed under it, and a village's versions.
func addHistory(paths map[string]pathItem, jsonOf func(string, schema) map[string]response, code func(string) parameter) {
	region := code("statistical code: 6 digits (country, province, city, county), 9 (township) or 12 (village)")
	integer := schema{"type": "integer"}
	ints := func(names ...string) schema {
		props := schema{}
		for _, n := range names {
			props[n] = integer
		}
		return schema{"type": "object", "required": names, "properties": props}
	}
	stocks := ints("poor_households", "poor_population", "villages_not_exited", "villages_exited")
	flows := ints("people_out", "people_in", "villages_exited", "villages_returned", "villages_entered",
		"people_moved_in", "projects_completed", "funds_disbursed", "projects_funded", "funds_planned")
	nullableInt := schema{"type": "integer", "minimum": 0, "nullable": true}
	share := schema{"type": "number", "nullable": true}
	target := schema{"type": "object", "properties": schema{
		"poor_people_out": nullableInt, "villages_exit": nullableInt, "relocation_people": nullableInt}}
	moment := schema{"type": "string", "format": "date-time"}
	day := schema{"type": "string", "format": "date"}
	get := func(path, id, summary string, ps []parameter, r map[string]response) {
		paths[path] = pathItem{"get": {Summary: summary, OperationID: id, Tags: []string{"History"}, Parameters: ps, Responses: r}}
	}

	get("/api/regions/{code}/timeline", "getRegionTimeline",
		"a region's timeline over a period of whole days (China Standard Time), cut into calendar months, ISO weeks "+
			"(from Monday) or days, the first and last cut short by the period, at most "+strconv.Itoa(geo.MaxSteps)+" steps. "+
			"Each step has the stocks at its close (poor_households, poor_population, villages_not_exited, villages_exited: "+
			"the region's rollup row as it stood just before the step's end; a city's, its counties' summed) and the flows "+
			"during it, from the versions of the rollup rows that began in it, each against the version before: "+
			"from the region's villages, people_out (the falls of a village's poor population), people_in (its rises: "+
			"returns to poverty and new registrations, a village added after the history began included), villages_exited "+
			"(not_exited → exited), villages_returned (exited → not_exited, 返贫), villages_entered (none or new → not_exited); "+
			"from the region's own row (a city's counties'), the rises of site_moved_in_people (people_moved_in), "+
			"projects_completed, funds_disbursed, projects (projects_funded) and funds_planned. totals sums the flows and "+
			"gives the stocks at the period's close; target is the region's target for the year of to as it stood at the "+
			"period's close (null when none), progress the share of it reached to four places: people_out of "+
			"poor_people_out, villages_exited of villages_exit, people_moved_in of relocation_people",
		[]parameter{region,
			{Name: "from", In: "query", Description: "the first day, YYYY-MM-DD (from its start); default January 1 of to's year, " +
				"or the day the history begins if later; the history must have begun by its end", Schema: day},
			{Name: "to", In: "query", Description: "the last day, YYYY-MM-DD (to its end); default today; not in the future", Schema: day},
			{Name: "step", In: "query", Description: "the steps", Schema: schema{"type": "string", "enum": geo.Steps, "default": geo.StepMonth}},
		},
		jsonOf("the timeline", schema{"type": "object", "required": []string{"code", "name", "level", "from", "to", "step", "steps", "totals", "target", "progress"},
			"properties": schema{
				"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string"},
				"from": day, "to": day, "step": schema{"type": "string", "enum": geo.Steps},
				"steps": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
					"start": moment, "end": moment, "stocks": stocks, "flows": flows}}},
				"totals": schema{"type": "object", "properties": schema{"stocks": stocks, "flows": flows}},
				"target": schema{"type": "object", "nullable": true, "properties": schema{"year": integer,
					"poor_people_out": nullableInt, "villages_exit": nullableInt, "relocation_people": nullableInt}},
				"progress": schema{"type": "object", "nullable": true, "properties": schema{
					"poor_people_out": share, "villages_exit": share, "relocation_people": share}},
			}}))

	version := schema{"type": "object", "properties": schema{
		"valid_from": moment, "valid_to": schema{"type": "string", "format": "date-time", "nullable": true},
		"poor_people_out": nullableInt, "villages_exit": nullableInt, "relocation_people": nullableInt,
		"changed_by": schema{"type": "string", "nullable": true}, "audit_id": schema{"type": "integer", "nullable": true}}}
	get("/api/regions/{code}/targets", "getRegionTargets",
		"a region's yearly targets (poor people to lift out of poverty, villages to exit, people to relocate; null: none set), "+
			"each with its versions, newest first, and who set each when the audit says",
		[]parameter{region}, jsonOf("the targets by year", schema{"type": "object", "properties": schema{
			"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string"},
			"targets": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
				"year": integer, "poor_people_out": nullableInt, "villages_exit": nullableInt, "relocation_people": nullableInt,
				"history": schema{"type": "array", "items": version}}}}}}))
	put := jsonOf("the target as stored", schema{"type": "object", "properties": schema{"year": integer,
		"poor_people_out": nullableInt, "villages_exit": nullableInt, "relocation_people": nullableInt}})
	for status, why := range map[string]string{
		"401": "no signed-in user", "403": "not an admin, or a cookie session without " + csrfHeader, "415": "not JSON",
		"409": "a concurrent change got in the way; nothing was written, send it again",
	} {
		put[status] = response{Description: why}
	}
	paths["/api/regions/{code}/targets/{year}"] = pathItem{"put": {
		Summary: "set a region's target for a year (admins only; audited, and kept with its history). A figure left out " +
			"or null sets none; an unknown field or a value that is not a whole number from 0 up is a 400 naming it in invalid-params",
		OperationID: "putRegionTarget", Tags: []string{"History"},
		Parameters: []parameter{region, {Name: "year", In: "path", Required: true, Description: "the year",
			Schema: schema{"type": "integer", "minimum": geo.MinTargetYear, "maximum": geo.MaxTargetYear}}},
		RequestBody: &requestBody{Required: true, Content: map[string]mediaType{fiber.MIMEApplicationJSON: {Schema: schema{
			"type": "object", "additionalProperties": false, "properties": target["properties"]}}}},
		Responses: put,
	}}

	state := schema{"type": "object", "nullable": true, "description": "null when the village did not exist then",
		"properties": schema{"status": schema{"type": "string"}, "poor_households": integer, "poor_population": integer,
			"population": integer, "exit_year": schema{"type": "integer", "nullable": true}}}
	figures := ints("population", "poor_households", "poor_population", "villages_not_exited", "villages_exited")
	get("/api/regions/{code}/changes", "getRegionChanges",
		"the villages under a region whose rollup row differs between two moments (status, poor households and population, "+
			"population, exit year), before and after, by code; and the region's own figures at both",
		[]parameter{region,
			{Name: "from", In: "query", Required: true, Description: "the earlier moment: a day (its end, China Standard Time) " +
				"or an RFC 3339 date-time, within the history", Schema: schema{"type": "string"}},
			{Name: "to", In: "query", Description: "the later moment, the same way; default now", Schema: schema{"type": "string"}},
		},
		jsonOf("the changes", schema{"type": "object", "properties": schema{
			"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string"},
			"from": moment, "to": moment,
			"figures": schema{"type": "object", "properties": schema{"before": figures, "after": figures}},
			"villages": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
				"code": schema{"type": "string"}, "name": schema{"type": "string"}, "before": state, "after": state}}}}}))
	get("/api/villages/{code}/history", "getVillageHistory",
		"a village's versions over time, newest first: its status, poor figures, population, exit year, cooperatives, "+
			"relocation people, projects, projects completed and funds disbursed as they stood from valid_from to valid_to "+
			"(null: still), the fields that changed from the version before (null for the first), and the audit entries "+
			"of the change that made it",
		[]parameter{code("the village's statistical code, 12 digits")},
		jsonOf("the versions", schema{"type": "object", "properties": schema{
			"code": schema{"type": "string"}, "name": schema{"type": "string"}, "level": schema{"type": "string"},
			"versions": schema{"type": "array", "items": schema{"type": "object", "properties": schema{
				"valid_from": moment, "valid_to": schema{"type": "string", "format": "date-time", "nullable": true},
				"record":    schema{"type": "object"},
				"changed":   schema{"type": "array", "nullable": true, "items": schema{"type": "string"}},
				"audit_ids": schema{"type": "array", "items": integer}}}}}}))
}

// addExits adds the paths of the exits (有进有出): the standards, a
// region's place in the registry, its exit and its return to poverty.
func addExits(paths map[string]pathItem, jsonOf func(string, schema) map[string]response, code func(string) parameter) {
	region := code("statistical code: 6 digits (country, province, city, county), 9 (township) or 12 (village)")
	integer := schema{"type": "integer"}
	str := schema{"type": "string"}
	share := schema{"type": "number", "minimum": 0, "maximum": 1}
	nullable := func(s schema) schema {
		n := schema{"nullable": true}
		for k, v := range s {
			n[k] = v
		}
		return n
	}
	moment := schema{"type": "string", "format": "date-time"}
	day := schema{"type": "string", "format": "date"}
	levels := schema{"type": "string", "enum": geo.ExitLevels.Strings()}
	standardProps := schema{
		"max_incidence":       share,
		"min_villages_exited": nullable(share),
		"policies_until":      day,
	}
	standard := schema{"type": "object", "properties": schema{"level": levels, "max_incidence": share,
		"min_villages_exited": nullable(share), "policies_until": day}}
	version := schema{"type": "object", "properties": schema{
		"valid_from": nullable(moment), "valid_to": nullable(moment), "level": levels, "max_incidence": share,
		"min_villages_exited": nullable(share), "policies_until": day,
		"changed_by": nullable(str), "audit_id": nullable(integer)}}
	figures := schema{"type": "object", "properties": schema{"population": integer, "poor_population": integer,
		"incidence": nullable(share), "poverty_villages": integer, "exited_villages": integer}}
	event := schema{"type": "object", "properties": schema{
		"id": integer, "region": schema{"type": "object", "properties": schema{"code": str, "name": str, "level": str}},
		"kind": schema{"type": "string", "enum": geo.RegistryEventKinds.Strings()}, "at": moment, "actor": str,
		"exit_year": nullable(integer), "population": nullable(integer), "poor_population": nullable(integer),
		"incidence": nullable(share), "poverty_villages": nullable(integer), "exited_villages": nullable(integer),
		"max_incidence": nullable(share), "min_villages_exited": nullable(share), "reason": nullable(str),
		"override": schema{"type": "boolean"}}}
	registry := schema{"type": "object", "properties": schema{
		"code": str, "name": str, "level": str, "status": str, "exit_year": nullable(integer), "figures": figures,
		"standard": nullable(standard), "meets_standard": nullable(schema{"type": "boolean"}),
		"policies_until": nullable(day), "events": schema{"type": "array", "items": event}, "events_total": integer}}
	writes := func(r map[string]response, extra map[string]string) map[string]response {
		for status, why := range map[string]string{
			"401": "no signed-in user", "403": "a viewer, a cookie session without " + csrfHeader + ", or a region outside the user's scope",
			"415": "not JSON", "409": "a concurrent change got in the way; nothing was written, send it again",
		} {
			r[status] = response{Description: why}
		}
		for status, why := range extra {
			r[status] = response{Description: why}
		}
		return r
	}
	body := func(props schema, required ...string) *requestBody {
		return &requestBody{Required: true, Content: map[string]mediaType{fiber.MIMEApplicationJSON: {Schema: schema{
			"type": "object", "additionalProperties": false, "required": required, "properties": props}}}}
	}
	strict := " The body is one JSON object: a member not listed, one given twice or of the wrong type is a 400 naming it."

	paths["/api/exit-standards"] = pathItem{"get": {
		Summary: "the exit standard of each level (village, township, county): the poverty incidence a unit must be below, " +
			"the share of its poverty villages a township or county must have exited, and until when the policies continue " +
			"after an exit (摘帽不摘政策); each with its versions, newest first, and who set each",
		OperationID: "getExitStandards", Tags: []string{"Exits"}, Parameters: []parameter{formatParam(ogc.FormatJSON), atParam("query")},
		Responses: jsonOf("the standards", schema{"type": "object", "properties": schema{"standards": schema{"type": "array",
			"items": schema{"type": "object", "properties": schema{"level": levels, "max_incidence": share,
				"min_villages_exited": nullable(share), "policies_until": day, "history": schema{"type": "array", "items": version}}}}}}),
	}}
	paths["/api/exit-standards/{level}"] = pathItem{"put": {
		Summary: "set a level's exit standard (admins only; audited, kept with its history; the flags are computed again " +
			"against it). max_incidence in (0, 1], min_villages_exited in [0, 1] for townships and counties and null for " +
			"villages, both to five decimal places; policies_until a day." + strict,
		OperationID: "putExitStandard", Tags: []string{"Exits"},
		Parameters:  []parameter{{Name: "level", In: "path", Required: true, Description: "the level", Schema: levels}},
		RequestBody: body(standardProps, "max_incidence", "min_villages_exited", "policies_until"),
		Responses:   writes(jsonOf("the standard as stored", standard), nil),
	}}
	paths["/api/regions/{code}/registry"] = pathItem{"get": {
		Summary: "a region's place in the poverty registry: its status and exit year, its figures (SQL exit_figures: a " +
			"village's own, a township's or county's summed over its villages, with its poverty villages and those exited) " +
			"against its level's standard and whether it meets it now (meets_exit_standard), until when its policies " +
			"continue when exited, and the registry events (enter, exit, return, leave) of the region and every region " +
			"under it, newest first, at most " + strconv.Itoa(geo.MaxRegistryEvents) + " (events_total counts them all)",
		OperationID: "getRegionRegistry", Tags: []string{"Exits"},
		Parameters: []parameter{region, formatParam(ogc.FormatJSON), atParam("query")},
		Responses:  jsonOf("the registry", registry),
	}}
	refused := map[string]string{"422": "the change breaks a rule: not a poverty unit, not in the registry or not exited " +
		"as it must be, or an exit below the standard, whose problem carries facts (rule, standard, figures)"}
	paths["/api/regions/{code}/exit"] = pathItem{"post": {
		Summary: "the unit (a village, township or county in the registry) exits (出列、摘帽) in exit_year, if its figures " +
			"meet its standard; below it, an admin's written reason overrides the standard, recorded with the exit and " +
			"raising the flag exit_override; anyone else's is refused 422 with the standard and the figures." + strict,
		OperationID: "postRegionExit", Tags: []string{"Exits"}, Parameters: []parameter{region},
		RequestBody: body(schema{"exit_year": schema{"type": "integer", "minimum": geo.MinExitYear, "maximum": geo.MaxExitYear},
			"reason": schema{"type": "string", "maxLength": geo.MaxReasonRunes}}, "exit_year"),
		Responses: writes(jsonOf("the registry as it now is", registry), refused),
	}}
	paths["/api/regions/{code}/return"] = pathItem{"post": {
		Summary: "the exited unit returns to poverty (返贫) and re-enters the registry, with a written reason; a village " +
			"with its poor households and people (a township's or county's figures are its villages')." + strict,
		OperationID: "postRegionReturn", Tags: []string{"Exits"}, Parameters: []parameter{region},
		RequestBody: body(schema{"reason": schema{"type": "string", "minLength": 1, "maxLength": geo.MaxReasonRunes},
			"poor_households": schema{"type": "integer", "minimum": 1}, "poor_population": schema{"type": "integer", "minimum": 1}}, "reason"),
		Responses: writes(jsonOf("the registry as it now is", registry), refused),
	}}
}

// addFlags adds the paths of the consistency flags (数据核查): a region's
// and one flag's.
func addFlags(paths map[string]pathItem, jsonOf func(string, schema) map[string]response, code func(string) parameter) {
	get := func(path, id, summary string, params []parameter, responses map[string]response) {
		paths[path] = pathItem{"get": {Summary: summary, OperationID: id, Tags: []string{"Consistency flags"}, Parameters: params, Responses: responses}}
	}
	str, integer := schema{"type": "string"}, schema{"type": "integer"}
	nullable := schema{"type": "string", "nullable": true}
	counts := schema{"code": str, "name": str, "total": integer, "high": integer, "medium": integer, "low": integer}
	item := schema{"id": str, "rule": schema{"type": "string", "enum": geo.FlagRuleCodes.Strings()},
		"severity": schema{"type": "string", "enum": geo.FlagSeverities.Strings()},
		"subject":  schema{"type": "string", "enum": geo.FlagSubjects.Strings()}, "subject_code": str, "name": str, "county_code": str,
		"raised_at": schema{"type": "string", "format": "date-time"}, "cleared_at": schema{"type": "string", "format": "date-time", "nullable": true},
		"facts": schema{"type": "object", "description": "the figures the rule judged when the flag was raised"}}
	region := schema{
		"by_rule":  schema{"type": "array", "items": schema{"type": "object", "properties": schema{"rule": str, "severity": str, "count": integer}}},
		"children": schema{"type": "array", "items": schema{"type": "object", "properties": counts}},
		"flags":    schema{"type": "array", "maxItems": geo.MaxRegionFlags, "items": schema{"type": "object", "properties": item}}}
	for k, v := range counts {
		region[k] = v
	}
	get("/api/regions/{code}/flags", "getRegionFlags",
		"the consistency flags (数据核查) that hold in a region and under it: counted by severity, by rule (worst first) and "+
			"per child region (most severe first; those without flags left out), and listed worst first, then newest "+
			"(at most "+strconv.Itoa(geo.MaxRegionFlags)+"; total says how many there are). The rules' messages and statements are in /api/catalogue",
		[]parameter{code("statistical code: 6 digits (country, province, city, county), 9 (township) or 12 (village)"), formatParam(ogc.FormatJSON), atParam("query")},
		jsonOf("the region's flags", schema{"type": "object", "properties": region}))
	audit := schema{"type": "array", "items": schema{"type": "object", "properties": schema{"id": integer, "at": str, "actor": str,
		"action": str, "table": str, "row_key": nullable, "before": schema{"type": "object"}, "after": schema{"type": "object"}}}}
	detail := schema{"message": str, "statement": str, "raised_by": audit, "cleared_by": audit,
		"links": schema{"type": "array", "items": schema{"$ref": "#/components/schemas/Link"},
			"description": "about: the subject's feature; related: the audit log of its row; raised-by, cleared-by: the audit entries"}}
	for k, v := range item {
		detail[k] = v
	}
	get("/api/flags/{id}", "getFlag",
		"one consistency flag, holding or cleared: its rule's message and statement, the figures judged, and the audit entries "+
			"of the changes that raised and cleared it (those of its subject and the rows under it)",
		[]parameter{{Name: "id", In: "path", Required: true, Description: "the flag's id (rule.subject_code.raised microseconds)", Schema: str}},
		jsonOf("the flag", schema{"type": "object", "properties": detail}))
}
