package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/paulmach/orb"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// topRegionsResult is the body of GET /api/regions.
type topRegionsResult struct {
	// Root is the region the pages open on (Config.Root); null while the
	// data has none.
	Root    *geo.TopRegion  `json:"root"`
	Regions []geo.TopRegion `json:"regions"`
}

// topRegions serves GET /api/regions: the region the pages open on and
// the regions without a parent, where a drill-down may start. The pages
// learn where to open from here, so that no region is written into them.
func (s *Server) topRegions(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		db := s.now(ctx)
		tops, err := geo.TopRegions(ctx, db)
		if err != nil {
			return nil, err
		}
		root, err := geo.RootRegion(ctx, db, s.cfg.Root)
		if geo.ErrorCode(err) == geo.ENotFound {
			s.log.Warn("no region to open the pages on", slog.String("root", s.cfg.Root), slog.String("why", err.Error()))
			err = nil
		}
		return topRegionsResult{Root: root, Regions: tops}, err
	})
}

// region serves GET /api/regions/{code}: one drill-down step, from a top
// region (the country, a province or a city, as GET /api/regions lists
// them) through a county and a township to a village. The answer is kept under the versions of the
// counties its region's box meets (regionStamp): everything it says lies
// in that box — the region's rows, its children, its projects, the lines
// of its people's moves, and its ancestors, whose boundaries hold it — so
// an edit elsewhere leaves it valid. With at=, the step as it stood then.
func (s *Server) region(c *fiber.Ctx) error {
	_, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON)
	if err != nil {
		return err
	}
	// A copy: Fiber's parameters are the request's bytes, reused after it,
	// and the code is kept as a key of regionBoxes.
	code := strings.Clone(c.Params("code"))
	box, stamp := s.regionStamp(code)
	// The box is part of the key: a cache keeps, for a key, the answer of
	// the larger stamp, and stamps over different boxes do not compare.
	key := s.baseURL(c) + c.OriginalURL() + "\x00" + fmt.Sprint(box)
	return s.answer(c, s.cache, key, s.apiCacheControl, stamp,
		func(ctx context.Context) ([]byte, map[string]string, error) {
			ctx, db, err := s.readAt(ctx, at)
			if err != nil {
				return nil, nil, err
			}
			r, err := geo.DrillDown(ctx, db, code)
			if err != nil {
				return nil, nil, err
			}
			if len(r.BBox) == 4 {
				s.regionBoxes.Store(code, orb.Bound{Min: orb.Point{r.BBox[0], r.BBox[1]}, Max: orb.Point{r.BBox[2], r.BBox[3]}})
			}
			data, err := json.Marshal(r)
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}

// everywhere is the box of a region not seen yet: it meets every county.
var everywhere = orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}

// regionStamp is the box of region code, as the answer last made said it
// (a region not seen yet: everywhere), and the stamp of its drill-down
// answer: the versions of the counties whose box
// meets that box. A region whose boundary moves moves the versions of
// the counties its old box met, so its next answer is made anew and its
// new box learnt.
func (s *Server) regionStamp(code string) (orb.Bound, stamp) {
	box := everywhere
	if b, ok := s.regionBoxes.Load(code); ok {
		box = b.(orb.Bound)
	}
	return box, coveringStamp(box)
}

// searchResult is the body of GET /api/search.
type searchResult struct {
	Query   string      `json:"query"`
	Matches []geo.Match `json:"matches"`
}

// search serves GET /api/search?q=&limit=&at=: regions by name or code
// prefix, as they were named at a past moment with at=.
func (s *Server) search(c *fiber.Ctx) error {
	q, at, err := parseSearch(rawQuery(c))
	if err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		ctx, db, err := s.readAt(ctx, at)
		if err != nil {
			return nil, err
		}
		matches, err := geo.Search(ctx, db, q)
		return searchResult{Query: q.Q, Matches: matches}, err
	})
}

// parseSearch reads the query string raw of a search: q (required),
// limit (1 to geo.MaxSearchLimit) and at (a past moment; nil for now).
// Anything else, or a bad value, is an EInvalid error naming the
// parameter.
func parseSearch(raw string) (geo.SearchQuery, *time.Time, error) {
	v, err := ogc.Params(raw, "q", "limit", "at")
	if err != nil {
		return geo.SearchQuery{}, nil, err
	}
	q := geo.SearchQuery{Q: v["q"], Limit: geo.DefaultSearchLimit}
	if s, ok := v["limit"]; ok {
		if q.Limit, err = ogc.ParseLimit(s, geo.MaxSearchLimit); err != nil {
			return geo.SearchQuery{}, nil, err
		}
	}
	at, err := ogc.ParseAt(v)
	if err != nil {
		return geo.SearchQuery{}, nil, err
	}
	q, err = q.Check()
	return q, at, err
}
