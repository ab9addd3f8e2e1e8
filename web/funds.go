package web

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// funds serves GET /api/regions/{code}/funds: the special funds of the
// projects counted in the region, whole and by "33112" use against the
// rule's split, and its key projects (geo.RegionFunds); as they stood at
// a past moment with at=.
func (s *Server) funds(c *fiber.Ctx) error {
	_, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON)
	if err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		ctx, db, err := s.readAt(ctx, at)
		if err != nil {
			return nil, err
		}
		return geo.RegionFunds(ctx, db, code)
	})
}
