package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// Media types of the OGC API – Features responses.
const (
	geoJSONType = "application/geo+json"
	csvType     = "text/csv; charset=utf-8"
)

// crs84 is WGS 84 longitude/latitude, the one CRS served.
const crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

// conformanceClasses are the parts of OGC API – Features that the
// server implements.
var conformanceClasses = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
}

// link is a link of an OGC API document.
type link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

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
			{base + "/", "self", fiber.MIMEApplicationJSON, "this document"},
			{base + "/api", "service-desc", openAPIType, "the API definition (OpenAPI 3.0)"},
			{base + "/conformance", "conformance", fiber.MIMEApplicationJSON, "the conformance classes implemented"},
			{base + "/collections", "data", fiber.MIMEApplicationJSON, "the feature collections"},
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
		extents, err := geo.Extents(ctx, s.pool, geo.Collections)
		if err != nil {
			return nil, err
		}
		base := s.baseURL(c)
		docs := make([]collectionDoc, len(geo.Collections))
		for i, coll := range geo.Collections {
			docs[i] = describe(base, coll, extents[i])
		}
		return fiber.Map{
			"links":       []link{{base + "/collections", "self", fiber.MIMEApplicationJSON, "this document"}},
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
		extents, err := geo.Extents(ctx, s.pool, []*geo.Collection{coll})
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
			{self, "self", fiber.MIMEApplicationJSON, "this document"},
			{self + "/items", "items", geoJSONType, "the features as GeoJSON"},
			{self + "/items?f=csv", "items", csvType, "the features as CSV"},
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
// as GeoJSON, or as CSV with f=csv.
func (s *Server) items(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	q, err := ogc.ParseItems(coll, rawQuery(c))
	if err != nil {
		return err
	}
	return s.cached(c, func(ctx context.Context) ([]byte, map[string]string, error) {
		page, err := geo.Items(ctx, s.pool, q.Selection)
		if err != nil {
			return nil, nil, err
		}
		base := s.baseURL(c)
		if q.Format == ogc.FormatCSV {
			header := csvHeader(coll)
			if page.Next != "" {
				header[fiber.HeaderLink] = "<" + itemsURL(base, q.After(page.Next)) + `>; rel="next"`
			}
			data, err := encodeCSV(coll, page.Features)
			return data, header, err
		}
		links := []link{
			{itemsURL(base, q), "self", geoJSONType, "this page"},
			{itemsURL(base, q.As(ogc.FormatCSV)), "alternate", csvType, "this page as CSV"},
			{base + "/collections/" + coll.ID, "collection", fiber.MIMEApplicationJSON, coll.Title},
		}
		if page.Next != "" {
			links = append(links, link{itemsURL(base, q.After(page.Next)), "next", geoJSONType, "the next page"})
		}
		data, err := encodeItems(page, links)
		return data, map[string]string{fiber.HeaderContentType: geoJSONType}, err
	})
}

// itemsMembers are the members of an items page beside its features.
type itemsMembers struct {
	NumberMatched  int64  `json:"numberMatched"`
	NumberReturned int    `json:"numberReturned"`
	TimeStamp      string `json:"timeStamp"`
	Links          []link `json:"links"`
}

// encodeItems writes page as a GeoJSON FeatureCollection with OGC API's
// members. Each feature is encoded by orb's geojson, the collection is
// written around them: orb's FeatureCollection would hand every
// feature's bytes to encoding/json for one more validating pass, which
// cost as much as all the rest of the encoding.
func encodeItems(page *geo.Page, links []link) ([]byte, error) {
	members, err := json.Marshal(itemsMembers{
		NumberMatched:  page.Matched,
		NumberReturned: len(page.Features),
		TimeStamp:      page.TimeStamp.Format(time.RFC3339),
		Links:          links,
	})
	if err != nil {
		return nil, err
	}
	b := append([]byte(`{"type":"FeatureCollection",`), members[1:len(members)-1]...)
	b = append(b, `,"features":[`...)
	for i, f := range page.Features {
		if i > 0 {
			b = append(b, ',')
		}
		j, err := geoJSONFeature(f).MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, j...)
	}
	return append(b, "]}"...), nil
}

// item serves GET /collections/{collection}/items/{feature}: one feature
// as GeoJSON, or as CSV with f=csv.
func (s *Server) item(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	format, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON, ogc.FormatCSV)
	if err != nil {
		return err
	}
	// An id that does not unescape is looked up as sent, and no feature has it.
	id, err := url.PathUnescape(c.Params("feature"))
	if err != nil {
		id = c.Params("feature")
	}
	if format == ogc.FormatCSV {
		return s.cached(c, func(ctx context.Context) ([]byte, map[string]string, error) {
			f, err := geo.Item(ctx, s.pool, coll, id)
			if err != nil {
				return nil, nil, err
			}
			data, err := encodeCSV(coll, []geo.Feature{*f})
			return data, csvHeader(coll), err
		})
	}
	return s.cachedJSON(c, geoJSONType, func(ctx context.Context) (any, error) {
		f, err := geo.Item(ctx, s.pool, coll, id)
		if err != nil {
			return nil, err
		}
		base := s.baseURL(c)
		feature := geoJSONFeature(*f)
		feature.ExtraMembers = geojson.Properties{"links": []link{
			{base + "/collections/" + coll.ID + "/items/" + url.PathEscape(f.ID), "self", geoJSONType, "this feature"},
			{base + "/collections/" + coll.ID, "collection", fiber.MIMEApplicationJSON, coll.Title},
		}}
		return feature, nil
	})
}

// geoJSONFeature is f for orb's GeoJSON encoder, the one that writes
// every geometry served.
func geoJSONFeature(f geo.Feature) *geojson.FeatureOf[geo.Record] {
	return &geojson.FeatureOf[geo.Record]{ID: f.ID, Type: "Feature", Geometry: f.Geometry, Properties: f.Properties}
}

// itemsURL is the absolute URL of the page q asks for.
func itemsURL(base string, q ogc.Query) string {
	return base + "/collections/" + q.Collection.ID + "/items?" + q.Encode()
}

// csvHeader is the response header of features of coll as CSV: the
// media type, and a file name for the download.
func csvHeader(coll *geo.Collection) map[string]string {
	return map[string]string{
		fiber.HeaderContentType:        csvType,
		fiber.HeaderContentDisposition: `attachment; filename="` + coll.ID + `.csv"`,
	}
}

// encodeCSV writes features of coll as CSV for spreadsheets: a UTF-8 byte
// order mark (without it Excel takes the Chinese text for another
// encoding), a header row, then a row per feature with its geometry last:
// lon and lat for points, WKT otherwise.
func encodeCSV(coll *geo.Collection, features []geo.Feature) ([]byte, error) {
	points := coll.GeometryType == "Point"
	header := make([]string, 0, len(coll.Columns)+2)
	for _, col := range coll.Columns {
		header = append(header, col.Name)
	}
	if points {
		header = append(header, "lon", "lat")
	} else {
		header = append(header, "wkt")
	}
	records := [][]string{header}
	for _, f := range features {
		r := make([]string, 0, len(header))
		for _, v := range f.Properties.Values {
			r = append(r, csvValue(v))
		}
		if p, ok := f.Geometry.(orb.Point); ok && points {
			r = append(r, csvValue(p[0]), csvValue(p[1]))
		} else {
			r = append(r, wkt.MarshalString(f.Geometry))
		}
		records = append(records, r)
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180, and what Excel writes
	if err := w.WriteAll(records); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// csvValue spells a property value for CSV: null as an empty cell,
// numbers in full without exponents.
func csvValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// rawQuery is the request's query string as sent, for geo's parsers.
func rawQuery(c *fiber.Ctx) string {
	return string(c.Request().URI().QueryString())
}
