package web

import (
	"mime"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/terrain"
)

// formatOf maps an import body's media type to its format.
var formatOf = map[string]importer.Format{
	"application/geo+json": importer.GeoJSON,
	"application/json":     importer.GeoJSON,
	"text/csv":             importer.CSV,
}

// tiffType is the media type of a DEM import, a GeoTIFF.
const tiffType = "image/tiff"

// rejectedImport is the 400 answer to an import with rejected features: a
// problem whose extension member "report" lists every rejection.
type rejectedImport struct {
	problem
	Report *importer.Report `json:"report"`
}

// importLayer serves POST /api/import/{layer}: the body, GeoJSON or CSV by
// its Content-Type, is validated and upserted all or nothing; for the
// layer terrain, the body is a GeoTIFF DEM (image/tiff) that replaces the
// terrain (terrain.Import). It answers 200 with the report; 400
// (problem+json with the report) when anything was rejected, or naming
// what is wrong with a DEM; 403 for a DEM from a user whose scope is not
// the whole data set; 404 while imports are disabled or for an unknown layer;
// 413 for a body over the limit, decoded or not; 415 for another media
// type or a Content-Encoding other than one gzip; 503 (Retry-After) while
// another import runs.
func (s *Server) importLayer(c *fiber.Ctx) error {
	if !s.cfg.ImportEnabled {
		return geo.Errorf(geo.ENotFound, "import is disabled on this server: start it with --enable-import (BATTLEMAP_ENABLE_IMPORT=true)")
	}
	u, err := s.writer(c)
	if err != nil {
		return err
	}
	mediaType, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	dem := c.Params("layer") == terrain.Layer
	if dem && (err != nil || mediaType != tiffType) {
		return &statusError{fiber.StatusUnsupportedMediaType, "send the DEM as " + tiffType + " (a GeoTIFF)"}
	}
	format, ok := formatOf[mediaType]
	if !dem && (err != nil || !ok) {
		return &statusError{fiber.StatusUnsupportedMediaType,
			"send GeoJSON as application/geo+json (or application/json), or CSV as text/csv"}
	}
	select {
	case s.importing <- struct{}{}:
		defer func() { <-s.importing }()
	default:
		return &statusError{fiber.StatusServiceUnavailable, "another import is running; send this one again when it is done"}
	}
	body, err := decodedBody(c, int64(s.cfg.BodyLimit))
	if err != nil {
		return err
	}
	if dem {
		rep, err := terrain.Import(c.UserContext(), s.pool, u.Actor(), body, int64(s.cfg.BodyLimit))
		if err != nil {
			return err
		}
		return c.JSON(rep)
	}
	rep, err := s.importer.Import(c.UserContext(), s.pool, u.Actor(), c.Params("layer"), format, body)
	if rep != nil && len(rep.Rejected) > 0 {
		c.Status(fiber.StatusBadRequest)
		return c.JSON(rejectedImport{
			problem: problem{Type: "about:blank", Title: statusText(fiber.StatusBadRequest), Status: fiber.StatusBadRequest, Detail: err.Error()},
			Report:  rep,
		}, "application/problem+json")
	}
	if err != nil {
		return err
	}
	return c.JSON(rep)
}
