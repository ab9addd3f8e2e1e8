package web

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web/ogc"
)

// mvtType is the media type of Mapbox Vector Tiles.
const mvtType = "application/vnd.mapbox-vector-tile"

// tile serves GET /tiles/{layer}/{z}/{x}/{y}.mvt, and the same tile as of
// a past moment at /tiles/{layer}/at/{day or date-time}/{z}/{x}/{y}.mvt
// (tiles.PastPath), cached under the moment and stamped as today's: a
// change dated back into the past moves the same county versions. An
// empty tile is 204; a
// tile whose ETag the client already holds is 304. Tiles are kept in
// their own cache, keyed by layer and z/x/y (a tile does not depend on
// the host it is asked through) and stamped with the versions of the
// counties they cover: a change in one county leaves the tiles of the
// others valid.
func (s *Server) tile(c *fiber.Ctx) error {
	t, err := tiles.ParseTile(c.Params("z"), c.Params("x"), c.Params("y"), ".mvt")
	if err != nil {
		return err
	}
	layer := c.Params("layer")
	key := layer + "/" + strconv.Itoa(int(t.Z)) + "/" + strconv.FormatUint(uint64(t.X), 10) + "/" + strconv.FormatUint(uint64(t.Y), 10)
	var at *time.Time
	if s := c.Params("at"); s != "" {
		// Fiber leaves path parameters escaped; a date-time's "+" may come
		// as %2B.
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		m, err := geo.ParseMoment(s, time.Now())
		if err != nil {
			return err
		}
		at = &m
		key = geo.FormatMoment(m) + "/" + key
	}
	return s.answer(c, s.tileCache, key, s.tileCacheControl, tileStamp(t), func(ctx context.Context) ([]byte, map[string]string, error) {
		if at != nil {
			if err := geo.CheckMoment(ctx, s.pool, *at); err != nil {
				return nil, nil, err
			}
		}
		data, err := s.tiles.Tile(ctx, layer, t, at)
		if err != nil || len(data) == 0 {
			return data, nil, err
		}
		return data, map[string]string{fiber.HeaderContentType: mvtType}, nil
	})
}

// tileStamp stamps tile t with the versions of the counties whose box
// meets the tile grown by a margin wider than the buffer its
// features are drawn in (geo.Snapshot.Covering).
func tileStamp(t maptile.Tile) stamp {
	box := t.Bound()
	dx, dy := (box.Max[0]-box.Min[0])/tileMarginFraction, (box.Max[1]-box.Min[1])/tileMarginFraction
	box.Min, box.Max = orb.Point{box.Min[0] - dx, box.Min[1] - dy}, orb.Point{box.Max[0] + dx, box.Max[1] + dy}
	return coveringStamp(box)
}

// coveringStamp stamps an answer over box with the versions of the
// counties whose box meets it (geo.Snapshot.Covering). An answer's key
// must always go with the same box, since a cache keeps the answer of
// the larger stamp and stamps over different boxes do not compare.
func coveringStamp(box orb.Bound) stamp {
	return func(snap *geo.Snapshot) int64 { return snap.Covering(box) }
}

// tileMarginFraction grows a tile's box by 1/16 of its size on each side
// for its stamp: four times the buffer (1/64) its features are drawn in,
// which lon/lat boxes of Web Mercator tiles take with room to spare.
const tileMarginFraction = 16

// tileJSON serves GET /tiles/{layer}.json, and with ?at= the description
// of the tiles as of that moment.
func (s *Server) tileJSON(c *fiber.Ctx) error {
	name, ok := strings.CutSuffix(c.Params("file"), ".json")
	if !ok {
		return geo.Errorf(geo.ENotFound, "no such resource %q: tiles are at /tiles/{layer}/{z}/{x}/{y}.mvt, their description at /tiles/{layer}.json", c.Params("file"))
	}
	v, err := ogc.Params(rawQuery(c), "at")
	if err != nil {
		return err
	}
	at, err := ogc.ParseAt(v)
	if err != nil {
		return err
	}
	if at != nil {
		if err := geo.CheckMoment(c.UserContext(), s.pool, *at); err != nil {
			return err
		}
	}
	tj, err := s.tiles.TileJSON(c.UserContext(), name, s.baseURL(c), at)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(tj)
}

// style serves GET /style.json, the MapLibre style of the battle map.
func (s *Server) style(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(tiles.NewStyle(s.baseURL(c)))
}

// legend serves GET /legend.json, the colour classes the style uses.
func (s *Server) legend(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.JSON(fiber.Map{"schemes": tiles.Legend})
}

// baseURL is where clients reach this server: the configured public URL,
// else the scheme and host the request came to (see requestHost), which
// checkHost has checked.
func (s *Server) baseURL(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return c.Protocol() + "://" + requestHost(c)
}

// etagMatches applies If-None-Match's weak comparison: any listed tag (or
// "*") equal to etag, ignoring W/ prefixes.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (an
// explicit q=0 refuses it; "*" allows it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			q, _ = strconv.ParseFloat(v, 64)
		}
		return q > 0
	}
	return false
}
