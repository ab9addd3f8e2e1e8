package web

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// The consistency flags (数据核查) of a region and one flag with what
// lies behind it (geo/flags.go). The flags themselves are also the
// collection /collections/flags and the tile layer flags.

// regionFlags serves GET /api/regions/{code}/flags: the flags that hold
// in the region, counted by severity, by rule and per child region
// (worst first), and listed; as they held at a past moment with at=.
// Cached on the data version: every change that can raise or clear a
// flag computes the flags of what it touched again in the same
// transaction.
func (s *Server) regionFlags(c *fiber.Ctx) error {
	return regionJSON(s, c, geo.RegionFlagsOf)
}

// flagDoc is the answer of GET /api/flags/{id}: the flag, its rule's
// message and statement, the audit rows of the changes that raised and
// cleared it, and links to its subject's feature and to the audit.
type flagDoc struct {
	*geo.FlagDetail
	Message   string     `json:"message"`
	Statement string     `json:"statement"`
	Links     []ogc.Link `json:"links"`
}

// flagSubjects are the collections of what a flag may be about, by
// geo.FlagSubjects value; TestFlagSubjectsHaveCollections holds the two
// together.
var flagSubjects = map[string]*geo.Collection{
	"village": geo.Villages, "township": geo.Townships, "county": geo.Counties, "project": geo.Projects, "site": geo.Sites,
}

// flag serves GET /api/flags/{id}: one flag, whether it holds or has
// cleared, with the rows and audit entries behind it. 404 when there is
// no such flag.
func (s *Server) flag(c *fiber.Ctx) error {
	if _, err := ogc.Params(rawQuery(c)); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	base := s.baseURL(c)
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		if !geo.ValidID(id) {
			return nil, geo.Errorf(geo.ENotFound, "there is no flag %s", geo.Quote(id))
		}
		d, err := geo.Flag(ctx, s.now(ctx), id)
		if err != nil {
			return nil, err
		}
		return newFlagDoc(base, d), nil
	})
}

// newFlagDoc is d as served from base: its rule's words from the
// catalogue, and its links.
func newFlagDoc(base string, d *geo.FlagDetail) flagDoc {
	doc := flagDoc{FlagDetail: d}
	if r := geo.FlagRuleOf(d.Rule); r != nil {
		doc.Message, doc.Statement = r.Message, r.Statement
	}
	if col := flagSubjects[d.Subject]; col != nil {
		doc.Links = append(doc.Links, ogc.Link{Href: base + "/collections/" + col.ID + "/items/" + url.PathEscape(d.SubjectCode),
			Rel: "about", Type: geoJSONType, Title: d.Name})
	}
	doc.Links = append(doc.Links, ogc.Link{Href: base + "/api/audit?row=" + url.QueryEscape(d.SubjectCode), Rel: "related",
		Type: fiber.MIMEApplicationJSON, Title: "the audit log of " + d.Name})
	for _, set := range []struct {
		rel     string
		entries []geo.AuditEntry
	}{{"raised-by", d.Raised}, {"cleared-by", d.Cleared}} {
		for _, e := range set.entries {
			doc.Links = append(doc.Links, ogc.Link{Href: auditEntryHref(base, e), Rel: set.rel, Type: fiber.MIMEApplicationJSON,
				Title: "audit entry " + strconv.FormatInt(e.ID, 10)})
		}
	}
	return doc
}

// auditEntryHref is the URL of audit entry e: the audit has no page per
// entry, so it is the one page of its row's entries that starts at it.
func auditEntryHref(base string, e geo.AuditEntry) string {
	q := url.Values{"cursor": {strconv.FormatInt(e.ID+1, 10)}, "limit": {"1"}}
	if e.RowKey != nil {
		q.Set("row", *e.RowKey)
	}
	return base + "/api/audit?" + q.Encode()
}
