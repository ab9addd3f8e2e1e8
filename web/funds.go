package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// funds serves GET /api/regions/{code}/funds: the special funds of the
// projects counted in the region, whole and by "33112" use against the
// rule's split, and its key projects (geo.RegionFunds); as they stood at
// a past moment with at=.
func (s *Server) funds(c *fiber.Ctx) error {
	return regionJSON(s, c, geo.RegionFunds)
}
