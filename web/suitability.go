package web

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// The suitability analysis for planners: where a new relocation site
// should go. Every answer takes the weights and thresholds of
// geo.SuitabilityParams as query parameters (each optional, bounded; a bad
// one is a 400 naming it) and is kept in the answer cache, stamped with
// the versions of the counties it covers.

// spotParams are the spot's coordinates, read as the other parameters
// are (decimal numbers within bounds); they have no default.
var spotParams = []geo.Param{
	{Name: "lon", Label: "经度", Description: "longitude, WGS 84", Unit: "°", Min: -180, Max: 180},
	{Name: "lat", Label: "纬度", Description: "latitude, WGS 84", Unit: "°", Min: -90, Max: 90},
}

// suitabilityQuery reads the query string: the parameters of params,
// and the names in also, which the caller reads itself.
func suitabilityQuery(c *fiber.Ctx, params []geo.Param, also ...string) (geo.ParamValues, map[string]string, error) {
	given, err := ogc.Params(rawQuery(c), slices.Concat(geo.ParamNames(params), also)...)
	if err != nil {
		return nil, nil, err
	}
	v, err := geo.ParseParams(params, given)
	return v, given, err
}

// suitabilityParameters serves GET /api/suitability/parameters: what a
// planner's panel shows and sends, with the exclusions' labels.
func (s *Server) suitabilityParameters(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{"parameters": geo.SuitabilityParams, "candidate_parameters": geo.CandidateParams,
		"exclusions": geo.Exclusions})
}

// countyQuery reads the query string of an answer about one county: the
// parameters of params, and the county, which is required.
func countyQuery(c *fiber.Ctx, params []geo.Param) (geo.ParamValues, string, error) {
	p, given, err := suitabilityQuery(c, params, "county")
	if err != nil {
		return nil, "", err
	}
	county, ok := given["county"]
	if !ok {
		return nil, "", &geo.Error{Code: geo.EInvalid, Message: "county is required: a 6-digit county code such as 520330",
			Fields: []geo.FieldError{{Field: "county", Reason: "required"}}}
	}
	return p, county, nil
}

// suitabilitySurface serves GET /api/suitability?county=: the county's
// cells as GeoJSON, each with its factors, parts and score.
func (s *Server) suitabilitySurface(c *fiber.Ctx) error {
	p, county, err := countyQuery(c, geo.SuitabilityParams)
	if err != nil {
		return err
	}
	return s.answer(c, s.cache, s.baseURL(c)+c.OriginalURL(), s.apiCacheControl, countyStamp(county),
		func(ctx context.Context) ([]byte, map[string]string, error) {
			sf, err := geo.SuitabilitySurface(ctx, s.now(ctx), county, p)
			if err != nil {
				return nil, nil, err
			}
			head, err := json.Marshal(struct {
				Type       string          `json:"type"`
				CountyCode string          `json:"county_code"`
				CountyName string          `json:"county_name"`
				Parameters geo.ParamValues `json:"parameters"`
				Returned   int             `json:"numberReturned"`
				Excluded   int             `json:"numberExcluded"`
			}{"FeatureCollection", sf.CountyCode, sf.CountyName, p, sf.Cells, sf.Excluded})
			if err != nil {
				return nil, nil, err
			}
			// PostgreSQL wrote the features; they go in as they are.
			body := make([]byte, 0, len(head)+len(sf.Features)+16)
			body = append(append(body, head[:len(head)-1]...), `,"features":[`...)
			body = append(append(body, sf.Features...), "]}"...)
			return body, map[string]string{fiber.HeaderContentType: geoJSONType}, nil
		})
}

// suitabilityPoint serves GET /api/suitability/point?lon=&lat=: why a
// spot scores as it does, or which exclusion applies.
func (s *Server) suitabilityPoint(c *fiber.Ctx) error {
	given, err := ogc.Params(rawQuery(c), slices.Concat(geo.ParamNames(geo.SuitabilityParams, spotParams))...)
	if err != nil {
		return err
	}
	var missing []geo.FieldError
	for _, name := range []string{"lon", "lat"} {
		if _, ok := given[name]; !ok {
			missing = append(missing, geo.FieldError{Field: name, Reason: "required"})
		}
	}
	if len(missing) > 0 {
		return &geo.Error{Code: geo.EInvalid, Message: "lon and lat are required: the spot in WGS 84 degrees", Fields: missing}
	}
	at, err := geo.ParseParams(spotParams, given)
	if err != nil {
		return err
	}
	p, err := geo.ParseParams(geo.SuitabilityParams, given)
	if err != nil {
		return err
	}
	lon, lat := at["lon"], at["lat"]
	// The spot's cell is within 500 m of it, and the people it counts are
	// its county's: a box of 0.01° meets every county that can change it.
	box := orb.Bound{Min: orb.Point{lon - 0.01, lat - 0.01}, Max: orb.Point{lon + 0.01, lat + 0.01}}
	return s.answer(c, s.cache, s.baseURL(c)+c.OriginalURL(), s.apiCacheControl, coveringStamp(box),
		func(ctx context.Context) ([]byte, map[string]string, error) {
			sp, err := geo.SuitabilitySpot(ctx, s.now(ctx), lon, lat, p)
			if err != nil {
				return nil, nil, err
			}
			data, err := json.Marshal(sp)
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}

// siteProposal is the body of POST /api/suitability/sites that creates
// a candidate's site: a client may send it as it is, or change the name
// and code first.
type siteProposal struct {
	Site struct {
		Type     string `json:"type"`
		Geometry struct {
			Type        string     `json:"type"`
			Coordinates [2]float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"site"`
	Assignments []map[string]any `json:"assignments"`
}

// proposal is the body that creates candidate c's site in county.
func proposal(county string, c geo.Candidate) siteProposal {
	var p siteProposal
	p.Site.Type, p.Site.Geometry.Type = "Feature", "Point"
	p.Site.Geometry.Coordinates = [2]float64{c.Lon, c.Lat}
	p.Site.Properties = map[string]any{"code": c.SiteCode, "name": c.SiteName, "type": "rural", "county_code": county}
	if c.TownshipCode != nil {
		p.Site.Properties["township_code"] = *c.TownshipCode
	}
	for _, v := range c.Villages {
		p.Assignments = append(p.Assignments, map[string]any{"village_code": v.Code, "households": v.Households, "people": v.People})
	}
	return p
}

// suitabilityCandidates serves GET /api/suitability/candidates?county=&n=:
// proposed sites that together reach the most unassigned poor people,
// each with the body that creates it (POST /api/suitability/sites).
func (s *Server) suitabilityCandidates(c *fiber.Ctx) error {
	p, county, err := countyQuery(c, slices.Concat(geo.SuitabilityParams, geo.CandidateParams))
	if err != nil {
		return err
	}
	return s.answer(c, s.cache, s.baseURL(c)+c.OriginalURL(), s.apiCacheControl, countyStamp(county),
		func(ctx context.Context) ([]byte, map[string]string, error) {
			list, err := geo.SuitabilityCandidates(ctx, s.now(ctx), county, p, int(p["n"]), p["spacing"])
			if err != nil {
				return nil, nil, err
			}
			type candidate struct {
				geo.Candidate
				Proposal siteProposal `json:"proposal"`
			}
			out := make([]candidate, len(list))
			for i, cd := range list {
				out[i] = candidate{cd, proposal(county, cd)}
			}
			data, err := json.Marshal(fiber.Map{"county_code": county, "parameters": p, "candidates": out})
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}

// countyStamp reads the stamp of an answer about county: the versions of
// the counties whose box meets its box (geo.Snapshot.Covering), or the
// global version for a code that names no county (whose answer is an
// error, never kept).
func countyStamp(county string) stamp {
	return func(snap *geo.Snapshot) int64 {
		for _, cv := range snap.Counties {
			if cv.Code == county {
				return snap.Covering(cv.Box)
			}
		}
		return snap.Global
	}
}

// createSite serves POST /api/suitability/sites: a planned site and the
// assignments of the villages it takes, in one change (201, Location the
// site's /api/sites URL, the body the site with its villages).
func (s *Server) createSite(c *fiber.Ctx) error {
	u, err := s.writer(c)
	if err != nil {
		return err
	}
	body, err := editBody(c, fiber.MIMEApplicationJSON, geoJSONType)
	if err != nil {
		return err
	}
	site, err := s.importer.CreateSite(c.UserContext(), s.pool, u.Actor(), body)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, s.baseURL(c)+"/api/sites/"+url.PathEscape(site.Code))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(site)
}
