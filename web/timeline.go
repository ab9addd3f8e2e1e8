package web

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// The history of a region: its timeline against its targets, the targets
// themselves, what changed under it between two moments, and a village's
// versions. All read the history the database keeps (geo/timeline.go,
// geo/targets.go, geo/changes.go).

// timeline serves GET /api/regions/{code}/timeline?from=&to=&step=. The
// answer is kept under the period the parameters came to, not only the
// URL: a default to (today) moves at midnight without the data moving.
func (s *Server) timeline(c *fiber.Ctx) error {
	code := strings.Clone(c.Params("code"))
	ctx := c.UserContext()
	// Where the history begins bounds the default period; without one,
	// Period.Check says so.
	span, _, err := geo.HistorySpan(ctx, s.pool)
	if err != nil {
		return err
	}
	p, err := parseTimeline(rawQuery(c), time.Now(), span.From)
	if err != nil {
		return err
	}
	if err := p.Check(span); err != nil {
		return err
	}
	key := s.baseURL(c) + c.OriginalURL() + "\x00" + p.From.String() + "\x00" + p.To.String() + "\x00" + p.Step
	return s.answer(c, s.cache, key, s.apiCacheControl, globalStamp,
		func(ctx context.Context) ([]byte, map[string]string, error) {
			tl, err := geo.RegionTimeline(ctx, s.now(ctx), code, p)
			if err != nil {
				return nil, nil, err
			}
			data, err := json.Marshal(tl)
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}

// parseTimeline reads a timeline's query string raw (from, to, step) into
// its period as of now, for a history that begins at begins (zero: none
// yet). Anything else, or a bad value, is an EInvalid error naming it.
func parseTimeline(raw string, now, begins time.Time) (geo.Period, error) {
	v, err := ogc.Params(raw, "from", "to", "step")
	if err != nil {
		return geo.Period{}, err
	}
	return geo.NewPeriod(v["from"], v["to"], v["step"], now, begins)
}

// targets serves GET /api/regions/{code}/targets.
func (s *Server) targets(c *fiber.Ctx) error {
	if _, err := ogc.Params(rawQuery(c)); err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		return geo.RegionTargets(ctx, s.now(ctx), code)
	})
}

// isTargetPath reports whether path is a region's target for a year,
// /api/regions/{code}/targets/{year}, which takes PUT.
func isTargetPath(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/regions/")
	parts := strings.Split(rest, "/")
	return ok && len(parts) == 3 && parts[1] == "targets"
}

// maxTargetBytes bounds a target's body: three numbers.
const maxTargetBytes = 4 << 10

// targetFields are the fields of a target's body, in the order the
// answer names them.
var targetFields = []string{"poor_people_out", "villages_exit", "relocation_people"}

// putTarget serves PUT /api/regions/{code}/targets/{year}: admins set a
// region's target for a year; the answer is the target as stored.
func (s *Server) putTarget(c *fiber.Ctx) error {
	u, err := s.admin(c, "targets")
	if err != nil {
		return err
	}
	year, err := strconv.Atoi(c.Params("year"))
	if err != nil || year < geo.MinTargetYear || year > geo.MaxTargetYear {
		return geo.Errorf(geo.EInvalid, "a target's year is a whole number from %d to %d (got %s)",
			geo.MinTargetYear, geo.MaxTargetYear, geo.Quote(c.Params("year")))
	}
	body, err := editBody(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	t, err := parseTarget(body)
	if err != nil {
		return err
	}
	stored, err := geo.SetTarget(c.UserContext(), s.pool, u.Actor(), c.Params("code"), year, t)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(stored)
}

// parseTarget reads a target's body: a JSON object whose members are
// among targetFields, each given once, each a whole number from 0 up or
// null; one left out is null (no target for it). Anything else is an
// EInvalid error naming each field at fault (jsonMembers).
func parseTarget(body []byte) (geo.Target, error) {
	var t geo.Target
	var p fieldProblems
	m, err := jsonMembers(body, "a target", &p, targetFields...)
	if err != nil {
		return geo.Target{}, err
	}
	dest := map[string]**int32{targetFields[0]: &t.PoorPeopleOut, targetFields[1]: &t.VillagesExit,
		targetFields[2]: &t.RelocationPeople}
	for k, d := range dest {
		if string(m[k]) == "null" {
			continue
		}
		if n, ok := p.whole(m, k, false, 0, math.MaxInt32); ok {
			i := int32(n)
			*d = &i
		}
	}
	if err := p.err("target"); err != nil {
		return geo.Target{}, err
	}
	return t, nil
}

// regionChanges serves GET /api/regions/{code}/changes?from=&to=: the villages
// under the region that changed between two moments (days or RFC 3339
// date-times; to defaults to now), and its figures at both.
func (s *Server) regionChanges(c *fiber.Ctx) error {
	v, err := ogc.Params(rawQuery(c), "from", "to")
	if err != nil {
		return err
	}
	now := time.Now()
	if v["from"] == "" {
		return geo.Errorf(geo.EInvalid, "from is required: the moment to compare with, a day or an RFC 3339 date-time")
	}
	from, err := geo.ParseMoment(v["from"], now)
	if err != nil {
		return err
	}
	to := now
	if raw, ok := v["to"]; ok {
		if to, err = geo.ParseMoment(raw, now); err != nil {
			return err
		}
	}
	if from.After(to) {
		return geo.Errorf(geo.EInvalid, "from (%s) comes after to (%s)", geo.FormatMoment(from), geo.FormatMoment(to))
	}
	if err := geo.CheckMoment(c.UserContext(), s.pool, from); err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		return geo.RegionChanges(ctx, s.now(ctx), code, from, to)
	})
}

// villageHistory serves GET /api/villages/{code}/history.
func (s *Server) villageHistory(c *fiber.Ctx) error {
	if _, err := ogc.Params(rawQuery(c)); err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		return geo.VillageHistoryOf(ctx, s.now(ctx), code)
	})
}
