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

// unassigned serves GET /api/relocation/unassigned?county=&region=&limit=:
// poverty villages with no relocation site yet, of a county or of any
// region down to a county, the first limit of them (all, up to
// geo.MaxUnassigned, unless it says fewer), and how many there are.
func (s *Server) unassigned(c *fiber.Ctx) error {
	v, err := ogc.Params(rawQuery(c), "county", "region", "limit")
	if err != nil {
		return err
	}
	limit := geo.MaxUnassigned
	if l, ok := v["limit"]; ok {
		if limit, err = ogc.ParseLimit(l, geo.MaxUnassigned); err != nil {
			return err
		}
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		list, total, err := geo.Unassigned(ctx, s.now(ctx), v["county"], v["region"], limit)
		return fiber.Map{"villages": list, "count": total}, err
	})
}
