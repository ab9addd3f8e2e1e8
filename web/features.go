package web

import (
	"context"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// Media types of the OGC API – Features responses.
const (
	geoJSONType = ogc.GeoJSONType
	csvType     = ogc.CSVType
)

// crs84 is WGS 84 longitude/latitude, the one CRS served.
const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

// conformanceClasses are the parts of OGC API – Features that the
// server implements.
var conformanceClasses = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	// Part 4: PATCH with a JSON merge patch, guarded by If-Match. (The
	// assignments are also created and deleted, but without PUT the
	// create-replace-delete class is not met, so it is not declared.)
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
}

// link is a link of an OGC API document.
type link = ogc.Link

// landingPage is the body of GET /.
type landingPage struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Links       []link `json:"links"`
}

// landing serves GET /, the OGC API landing page. A browser's request is
// told apart here, where the HTML app will hook in.
func (s *Server) landing(c *fiber.Ctx) error {
	c.Vary(fiber.HeaderAccept)
	if prefersHTML(c) {
		return s.landingHTML(c)
	}
	return s.landingJSON(c)
}

// landingHTML answers a browser at /: the drill-down app, whose own
// query parameters (?region=…) are its state.
func (s *Server) landingHTML(c *fiber.Ctx) error { return s.assets.serve(c, "/static/index.html") }

// landingJSON is the landing page as JSON, which takes no parameter but
// f=json.
func (s *Server) landingJSON(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	base := s.baseURL(c)
	return c.JSON(landingPage{
		Title:       "battlemap: 挂图作战",
		Description: "Villages, relocation sites and projects of the poverty-alleviation battle map, as OGC API – Features",
		Links: []link{
			{Href: base + "/", Rel: "self", Type: fiber.MIMEApplicationJSON, Title: "this document"},
			{Href: base + "/api", Rel: "service-desc", Type: openAPIType, Title: "the API definition (OpenAPI 3.0)"},
			{Href: base + "/conformance", Rel: "conformance", Type: fiber.MIMEApplicationJSON, Title: "the conformance classes implemented"},
			{Href: base + "/collections", Rel: "data", Type: fiber.MIMEApplicationJSON, Title: "the feature collections"},
		},
	})
}

// prefersHTML reports whether a request to / comes from a browser: no
// f=json, and an Accept header that ranks text/html above JSON. Anything
// else, no Accept header included, gets JSON.
func prefersHTML(c *fiber.Ctx) bool {
	return c.Query("f") != ogc.FormatJSON &&
		c.Accepts(fiber.MIMEApplicationJSON, fiber.MIMETextHTML) == fiber.MIMETextHTML
}

// conformance serves GET /conformance.
func (s *Server) conformance(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conformsTo": conformanceClasses})
}

// collectionDoc describes a collection: OGC API's members, and the
// properties and filters of its features.
type collectionDoc struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Links       []link         `json:"links"`
	Extent      *extentDoc     `json:"extent,omitempty"`
	ItemType    string         `json:"itemType"`
	CRS         []string       `json:"crs"`
	Geometry    string         `json:"geometryType"`
	Properties  []propertyDoc  `json:"properties"`
	Queryables  []queryableDoc `json:"queryables"`
}

type extentDoc struct {
	Spatial *spatialDoc `json:"spatial,omitempty"`
	// Temporal is set for collections whose features have days.
	Temporal *temporalDoc `json:"temporal,omitempty"`
}

type spatialDoc struct {
	BBox [][4]float64 `json:"bbox"`
	CRS  string       `json:"crs"`
}

// temporalDoc is a temporal extent: one interval of RFC 3339 instants,
// null at an open end.
type temporalDoc struct {
	Interval [][2]*string `json:"interval"`
	TRS      string       `json:"trs"`
}

// gregorian is the temporal reference system of the extents.
const gregorian = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

type propertyDoc struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

// queryableDoc is a filter of a collection's items: a query parameter.
type queryableDoc struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Allowed     string   `json:"allowed"`
	Enum        []string `json:"enum,omitempty"`
}

// collections serves GET /collections.
func (s *Server) collections(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		extents, err := geo.Extents(ctx, s.now(ctx), geo.Collections)
		if err != nil {
			return nil, err
		}
		base := s.baseURL(c)
		docs := make([]collectionDoc, len(geo.Collections))
		for i, coll := range geo.Collections {
			docs[i] = describe(base, coll, extents[i])
		}
		return fiber.Map{
			"links":       []link{{Href: base + "/collections", Rel: "self", Type: fiber.MIMEApplicationJSON, Title: "this document"}},
			"collections": docs,
		}, nil
	})
}

// collection serves GET /collections/{collection}.
func (s *Server) collection(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		extents, err := geo.Extents(ctx, s.now(ctx), []*geo.Collection{coll})
		if err != nil {
			return nil, err
		}
		return describe(s.baseURL(c), coll, extents[0]), nil
	})
}

// describe is the metadata document of coll, whose features lie within
// extent.
func describe(base string, coll *geo.Collection, extent geo.Extent) collectionDoc {
	self := base + "/collections/" + coll.ID
	d := collectionDoc{
		ID: coll.ID, Title: coll.Title, Description: coll.Description,
		Links: []link{
			{Href: self, Rel: "self", Type: fiber.MIMEApplicationJSON, Title: "this document"},
			{Href: self + "/items", Rel: "items", Type: geoJSONType, Title: "the features as GeoJSON"},
			{Href: self + "/items?f=csv", Rel: "items", Type: csvType, Title: "the features as CSV"},
		},
		ItemType: "feature", CRS: []string{crs84}, Geometry: coll.GeometryType,
	}
	if b := extent.Box; b != nil {
		d.Extent = &extentDoc{Spatial: &spatialDoc{BBox: [][4]float64{{b.Min[0], b.Min[1], b.Max[0], b.Max[1]}}, CRS: crs84}}
		if coll.Dates != "" {
			d.Extent.Temporal = &temporalDoc{Interval: [][2]*string{{dayBound(extent.First, "T00:00:00+08:00"), dayBound(extent.Last, "T23:59:59+08:00")}}, TRS: gregorian}
		}
	}
	for _, col := range coll.Columns {
		d.Properties = append(d.Properties, propertyDoc{col.Name, col.Type, col.Description})
	}
	for _, f := range coll.Filters {
		d.Queryables = append(d.Queryables, queryableDoc{f.Param, f.Type(), f.Description, f.Allowed(), f.Values()})
	}
	d.Queryables = append(d.Queryables, datetimeDoc(coll))
	return d
}

// dayBound is the instant at time of day on day (2006-01-02, China
// Standard Time), nil when day is "" (an open end).
func dayBound(day, timeOfDay string) *string {
	if day == "" {
		return nil
	}
	s := day + timeOfDay
	return &s
}

// datetimeDoc describes the datetime parameter of coll's items.
func datetimeDoc(coll *geo.Collection) queryableDoc {
	what := "no feature has a time: every value matches every feature"
	if coll.Dates != "" {
		what = "whose days (" + coll.Dates + ", China Standard Time) meet this instant or interval; an open end meets everything on its side"
	}
	return queryableDoc{"datetime", "string", what,
		"an RFC 3339 date-time or date, or an interval start/end of them with .. for an open end", nil}
}

// items serves GET /collections/{collection}/items: a page of features
// as GeoJSON, or as CSV with f=csv, written by the database and passed on
// as it comes; with at=, the features as they stood then (the same
// query, on the pool that reads the past: geo.PastConfig).
func (s *Server) items(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	q, err := ogc.ParseItems(coll, rawQuery(c))
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	// A page within a box is kept under the versions of the counties the
	// box meets: every feature it holds meets the box, and what a
	// feature says lies in counties that meet it too (a township's
	// figures, in its county). A page without a box keys on every change.
	stamp := globalStamp
	if b := q.Selection.BBox; b != nil {
		stamp = coveringStamp(*b)
	}
	return s.cachedStream(c, stamp, func(ctx context.Context) (parts, error) {
		ctx, db, err := s.readAt(ctx, q.At)
		if err != nil {
			return nil, err
		}
		features, err := geo.Items(ctx, db, q.Selection, ogc.Encoding(q.Format))
		if err != nil {
			return nil, err
		}
		return ogc.NewItems(q, base, features, time.Now()), nil
	})
}

// item serves GET /collections/{collection}/items/{feature}: one feature
// as GeoJSON, or as CSV with f=csv; as it stood at a past moment with
// at= (a day or an RFC 3339 date-time).
func (s *Server) item(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	format, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON, ogc.FormatCSV)
	if err != nil {
		return err
	}
	// An id that does not unescape is looked up as sent, and no feature has it.
	id, err := url.PathUnescape(c.Params("feature"))
	if err != nil {
		id = c.Params("feature")
	}
	return s.cached(c, func(ctx context.Context) ([]byte, map[string]string, error) {
		ctx, db, err := s.readAt(ctx, at)
		if err != nil {
			return nil, nil, err
		}
		f, err := geo.Item(ctx, db, coll, id, ogc.Encoding(format))
		if err != nil {
			return nil, nil, err
		}
		// The ETag is the feature's own (geo.ETag), the one an edit names in
		// If-Match, whatever links the answer carries.
		h := ogc.Header(coll, format)
		h[fiber.HeaderETag] = geo.ETag(f)
		return ogc.AppendFeature(nil, s.baseURL(c), coll, id, format, f), h, nil
	})
}

// rawQuery is the request's query string as sent, for geo's parsers.
func rawQuery(c *fiber.Ctx) string {
	return string(c.Request().URI().QueryString())
}
