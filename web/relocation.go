package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// site serves GET /api/sites/{code}: a relocation site and the villages
// whose people move to it.
func (s *Server) site(c *fiber.Ctx) error {
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		return geo.SiteByCode(ctx, s.now(ctx), c.Params("code"))
	})
}

// unassigned serves GET /api/relocation/unassigned?county=&region=:
// poverty villages with no relocation site yet, of a county or of any
// region down to a county.
func (s *Server) unassigned(c *fiber.Ctx) error {
	v, err := ogc.Params(rawQuery(c), "county", "region")
	if err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		list, err := geo.Unassigned(ctx, s.now(ctx), v["county"], v["region"])
		return fiber.Map{"villages": list, "count": len(list)}, err
	})
}
