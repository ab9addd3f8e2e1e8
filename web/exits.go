package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// Exits (有进有出): the exit standards, a region's place in the poverty
// registry, and the exits and returns to poverty (geo/exits.go). The
// database judges every exit; these handlers parse, call and answer.

// exitStandards serves GET /api/exit-standards: the standard of each
// level with its versions; as they stood at a past moment with at=.
func (s *Server) exitStandards(c *fiber.Ctx) error {
	_, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON)
	if err != nil {
		return err
	}
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		ctx, db, err := s.readAt(ctx, at)
		if err != nil {
			return nil, err
		}
		standards, err := geo.ExitStandards(ctx, db)
		if err != nil {
			return nil, err
		}
		return fiber.Map{"standards": standards}, nil
	})
}

// putExitStandard serves PUT /api/exit-standards/{level}: admins set a
// level's standard; the answer is the standard as stored.
func (s *Server) putExitStandard(c *fiber.Ctx) error {
	u, err := s.admin(c, "exit standards")
	if err != nil {
		return err
	}
	level := strings.Clone(c.Params("level"))
	if !geo.ExitLevels.Has(level) {
		return geo.Errorf(geo.ENotFound, "there is no exit standard for %s; the levels are %s", geo.Quote(level), strings.Join(geo.ExitLevels.Strings(), ", "))
	}
	body, err := editBody(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	st, err := parseExitStandard(body)
	if err != nil {
		return err
	}
	st.Level = level
	stored, err := geo.SetExitStandard(c.UserContext(), s.pool, u.Actor(), st)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(stored)
}

// registry serves GET /api/regions/{code}/registry: the region's place
// in the poverty registry, its figures against its standard and the
// registry events under it; as of a past moment with at=.
func (s *Server) registry(c *fiber.Ctx) error {
	return regionJSON(s, c, geo.RegistryOf)
}

// postExit serves POST /api/regions/{code}/exit: the unit exits
// (出列、摘帽) if it meets its standard, or, from an admin with a
// reason, over it; the answer is its registry as it now is.
func (s *Server) postExit(c *fiber.Ctx) error {
	u, err := s.writer(c)
	if err != nil {
		return err
	}
	body, err := editBody(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	e, err := parseExit(body)
	if err != nil {
		return err
	}
	g, err := geo.Exit(c.UserContext(), s.pool, u.Actor(), c.Params("code"), e.ExitYear, e.Reason)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(g)
}

// postReturn serves POST /api/regions/{code}/return: the exited unit
// returns to poverty (返贫) with a reason (and, a village, its figures);
// the answer is its registry as it now is.
func (s *Server) postReturn(c *fiber.Ctx) error {
	u, err := s.writer(c)
	if err != nil {
		return err
	}
	body, err := editBody(c, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	r, err := parseReturn(body)
	if err != nil {
		return err
	}
	g, err := geo.Return(c.UserContext(), s.pool, u.Actor(), c.Params("code"), r.Reason,
		geo.ReturnFigures{PoorHouseholds: r.PoorHouseholds, PoorPopulation: r.PoorPopulation})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(g)
}

// registryWriteMethod is the method that changes the registry or its
// standards at path, with a JSON body: PUT for a level's standard, POST
// for a region's exit and return; "" for any other path.
func registryWriteMethod(path string) string {
	if rest, ok := strings.CutPrefix(path, "/api/exit-standards/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return fiber.MethodPut
	}
	rest, ok := strings.CutPrefix(path, "/api/regions/")
	parts := strings.Split(rest, "/")
	if ok && len(parts) == 2 && (parts[1] == "exit" || parts[1] == "return") {
		return fiber.MethodPost
	}
	return ""
}

// exitBody is the body of an exit: the year it exited in and, optionally,
// why (from an admin, the written reason that overrides the standard).
type exitBody struct {
	ExitYear int    `json:"exit_year"`
	Reason   string `json:"reason,omitempty"`
}

// returnBody is the body of a return to poverty: why, and a village's
// figures as it returns.
type returnBody struct {
	Reason         string `json:"reason"`
	PoorHouseholds *int64 `json:"poor_households,omitempty"`
	PoorPopulation *int64 `json:"poor_population,omitempty"`
}

// parseExit reads an exit's body: {"exit_year": a whole number, "reason":
// text (optional)}.
func parseExit(body []byte) (exitBody, error) {
	var e exitBody
	var p fieldProblems
	m, err := jsonMembers(body, "an exit", &p, "exit_year", "reason")
	if err != nil {
		return e, err
	}
	if year, ok := p.whole(m, "exit_year", true, 0, math.MaxInt32); ok {
		e.ExitYear = int(year)
	}
	e.Reason, _ = p.text(m, "reason", false)
	return e, p.err("exit")
}

// parseReturn reads a return's body: {"reason": text, "poor_households":
// and "poor_population": whole numbers, for a village}.
func parseReturn(body []byte) (returnBody, error) {
	var r returnBody
	var p fieldProblems
	m, err := jsonMembers(body, "a return to poverty", &p, "reason", "poor_households", "poor_population")
	if err != nil {
		return r, err
	}
	r.Reason, _ = p.text(m, "reason", true)
	for name, dest := range map[string]**int64{"poor_households": &r.PoorHouseholds, "poor_population": &r.PoorPopulation} {
		if n, ok := p.whole(m, name, false, 0, math.MaxInt32); ok {
			*dest = &n
		}
	}
	return r, p.err("return to poverty")
}

// parseExitStandard reads a standard's body: {"max_incidence": a share,
// "min_villages_exited": a share or null, "policies_until":
// "YYYY-MM-DD"}, every member given. The ranges are geo's to check
// (geo.ExitStandard.Check), with the level.
func parseExitStandard(body []byte) (geo.ExitStandard, error) {
	var st geo.ExitStandard
	var p fieldProblems
	m, err := jsonMembers(body, "an exit standard", &p, "max_incidence", "min_villages_exited", "policies_until")
	if err != nil {
		return st, err
	}
	st.MaxIncidence, _ = p.number(m, "max_incidence")
	if raw, ok := m["min_villages_exited"]; !ok {
		p.add("min_villages_exited", "is required: a share from 0 to 1, or null for villages")
	} else if string(raw) != "null" {
		if x, ok := p.number(m, "min_villages_exited"); ok {
			st.MinVillagesExited = &x
		}
	}
	st.PoliciesUntil, _ = p.text(m, "policies_until", true)
	return st, p.err("exit standard")
}

// jsonMembers reads body as one JSON object (what names it for the
// messages) and returns its members undecoded, with a problem noted in p
// for each member that is not among names. Anything else — not UTF-8,
// not JSON, not an object, a member given twice — is an EInvalid error
// that says so: encoding/json would keep the last of two members
// silently and match names without regard to case, and a body that
// means something else than it seems to is refused instead.
func jsonMembers(body []byte, what string, p *fieldProblems, names ...string) (map[string]json.RawMessage, error) {
	invalid := func(why string) error {
		return geo.Errorf(geo.EInvalid, "the body is not %s: %s; it is a JSON object of %s", what, why, strings.Join(names, ", "))
	}
	if !utf8.Valid(body) {
		return nil, invalid("it is not UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, invalid("it is not a JSON object")
	}
	m := map[string]json.RawMessage{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, invalid("it is not valid JSON")
		}
		k := t.(string) // a member's name: the decoder checks the grammar
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, invalid("it is not valid JSON")
		}
		if _, dup := m[k]; dup {
			return nil, invalid(strconv.Quote(k) + " is given twice")
		}
		m[k] = raw
		if !slices.Contains(names, k) {
			p.add(k, "is not a field of "+what+"; those are "+strings.Join(names, ", "))
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, invalid("it is not valid JSON")
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("something follows the object")
	}
	return m, nil
}

// fieldProblems gathers what is wrong with the members of a body, field
// by field.
type fieldProblems []geo.FieldError

// add notes that field is wrong, and why.
func (p *fieldProblems) add(field, why string) {
	*p = append(*p, geo.FieldError{Field: field, Reason: why})
}

// err is nil without problems, else an EInvalid error naming each field
// of the body (what names it) at fault, in name order.
func (p fieldProblems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	slices.SortFunc(p, func(a, b geo.FieldError) int { return strings.Compare(a.Field, b.Field) })
	names := make([]string, len(p))
	for i, f := range p {
		names[i] = f.Field
	}
	return &geo.Error{Code: geo.EInvalid, Fields: p, Message: "the " + what + "'s fields " + strings.Join(names, ", ") + " are not valid"}
}

// whole reads member name of m as a whole number from lo to hi (a JSON
// number, not a string that holds one); ok is false when it is absent
// (a problem if required) or wrong (a problem).
func (p *fieldProblems) whole(m map[string]json.RawMessage, name string, required bool, lo, hi int64) (int64, bool) {
	raw, present := m[name]
	if !present {
		if required {
			p.add(name, "is required")
		}
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < lo || n > hi {
		p.add(name, "must be a whole number from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
		return 0, false
	}
	return n, true
}

// number reads member name of m, which is required, as a finite JSON
// number.
func (p *fieldProblems) number(m map[string]json.RawMessage, name string) (float64, bool) {
	raw, present := m[name]
	if !present {
		p.add(name, "is required")
		return 0, false
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) == nil {
		n, _ = v.(json.Number)
	}
	x, err := strconv.ParseFloat(n.String(), 64)
	if n == "" || err != nil || math.IsInf(x, 0) {
		p.add(name, "must be a number")
		return 0, false
	}
	return x, true
}

// text reads member name of m as a JSON string; ok is false when it is
// absent (a problem if required) or not a string (a problem).
func (p *fieldProblems) text(m map[string]json.RawMessage, name string, required bool) (string, bool) {
	raw, present := m[name]
	if !present {
		if required {
			p.add(name, "is required")
		}
		return "", false
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		p.add(name, "must be a string")
		return "", false
	}
	return s, true
}
