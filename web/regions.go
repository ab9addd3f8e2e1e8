package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// topRegionsResult is the body of GET /api/regions.
type topRegionsResult struct {
	Regions []geo.TopRegion `json:"regions"`
}

// topRegions serves GET /api/regions: the regions without a parent, where
// the drill-down starts. The pages learn the city from here, so that no
// city is written into them.
func (s *Server) topRegions(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		tops, err := geo.TopRegions(ctx, s.pool)
		return topRegionsResult{Regions: tops}, err
	})
}

// region serves GET /api/regions/{code}: one drill-down step, from a top
// region (a city, as GET /api/regions lists them) through a county and a
// township to a village.
func (s *Server) region(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		return geo.DrillDown(ctx, s.pool, c.Params("code"))
	})
}

// searchResult is the body of GET /api/search.
type searchResult struct {
	Query   string      `json:"query"`
	Matches []geo.Match `json:"matches"`
}

// search serves GET /api/search?q=&limit=: regions by name or code prefix.
func (s *Server) search(c *fiber.Ctx) error {
	q, err := parseSearch(rawQuery(c))
	if err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		matches, err := geo.Search(ctx, s.pool, q)
		return searchResult{Query: q.Q, Matches: matches}, err
	})
}

// parseSearch reads the query string raw of a search: q (required) and
// limit (1 to geo.MaxSearchLimit). Anything else, or a bad value, is an
// EInvalid error naming the parameter.
func parseSearch(raw string) (geo.SearchQuery, error) {
	v, err := ogc.Params(raw, "q", "limit")
	if err != nil {
		return geo.SearchQuery{}, err
	}
	q := geo.SearchQuery{Q: v["q"], Limit: geo.DefaultSearchLimit}
	if s, ok := v["limit"]; ok {
		if q.Limit, err = ogc.ParseLimit(s, geo.MaxSearchLimit); err != nil {
			return geo.SearchQuery{}, err
		}
	}
	return q.Check()
}
