package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// region serves GET /api/regions/{code}: one drill-down step, from the
// city (520300) through a county and a township to a village.
func (s *Server) region(c *fiber.Ctx) error {
	if _, err := geo.ParseFormat(rawQuery(c), geo.FormatJSON); err != nil {
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
	q, err := geo.ParseSearch(rawQuery(c))
	if err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		matches, err := geo.Search(ctx, s.pool, q)
		return searchResult{Query: q.Q, Matches: matches}, err
	})
}
