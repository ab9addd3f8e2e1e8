package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// site serves GET /api/sites/{code}: a relocation site and the villages
// whose people move to it.
func (s *Server) site(c *fiber.Ctx) error {
	site, err := geo.SiteByCode(c.UserContext(), s.pool, c.Params("code"))
	if err != nil {
		return err
	}
	return c.JSON(site)
}

// unassigned serves GET /api/relocation/unassigned?county=: poverty
// villages with no relocation site yet.
func (s *Server) unassigned(c *fiber.Ctx) error {
	list, err := geo.Unassigned(c.UserContext(), s.pool, rawQuery(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"villages": list, "count": len(list)})
}
