package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// auditDoc is the answer of GET /api/audit.
type auditDoc struct {
	Entries []geo.AuditEntry `json:"entries"`
	// Next is the cursor of the next (older) page; "" on the last.
	Next string `json:"next"`
}

// auditTables are the tables whose changes the audit log records.
var auditTables = []string{"regions", "villages", "sites", "projects", "relocation_assignments", "users"}

// Bounds of the audit's page size.
const (
	auditDefaultLimit = 50
	auditMaxLimit     = 500
)

// audit serves GET /api/audit: the audit log, newest first, paged by
// cursor, filtered by region (the code of a region: changes to rows in
// it), actor, since (an RFC 3339 date or date-time), table (a comma
// list), row (a row's key) and limit. It is read like everything else
// (Config.ReadAccess) and never cached: it is the record of changes.
func (s *Server) audit(c *fiber.Ctx) error {
	q, err := parseAudit(rawQuery(c))
	if err != nil {
		return err
	}
	entries, err := geo.AuditLog(c.UserContext(), s.pool, q)
	if err != nil {
		return err
	}
	d := auditDoc{Entries: entries}
	if d.Entries == nil {
		d.Entries = []geo.AuditEntry{}
	}
	if len(entries) == q.Limit {
		d.Next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(d)
}

// parseAudit reads the audit's query string; an unknown parameter or a
// malformed value is EInvalid naming it.
func parseAudit(raw string) (geo.AuditQuery, error) {
	q := geo.AuditQuery{Limit: auditDefaultLimit}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, geo.Errorf(geo.EInvalid, "the query string is malformed")
	}
	for name, vs := range values {
		if len(vs) != 1 {
			return q, geo.Errorf(geo.EInvalid, "%s is given %d times; give it once", geo.Quote(name), len(vs))
		}
		v := vs[0]
		bad := func(want string) error {
			return geo.Errorf(geo.EInvalid, "invalid value %s for %s: want %s", geo.Quote(v), name, want)
		}
		switch name {
		case "region":
			if !allDigits(v) || len(v) < 6 || len(v) > 12 {
				return q, bad("a region's statistical code")
			}
			q.Region = v
		case "actor":
			if !geo.ValidID(v) {
				return q, bad("a user or tool name")
			}
			q.Actor = v
		case "since":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				d, derr := time.ParseInLocation(time.DateOnly, v, ogc.China)
				if derr != nil {
					return q, bad("an RFC 3339 date-time or a date (YYYY-MM-DD)")
				}
				t = d
			}
			q.Since = t
		case "table":
			for _, t := range strings.Split(v, ",") {
				if !slices.Contains(auditTables, t) {
					return q, bad("a comma list of " + strings.Join(auditTables, ", "))
				}
				q.Tables = append(q.Tables, t)
			}
		case "row":
			if !geo.ValidID(v) {
				return q, bad("a row's key")
			}
			q.Row = v
		case "cursor":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return q, bad("the next value of an earlier page")
			}
			q.Before = n
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > auditMaxLimit {
				return q, bad("a whole number from 1 to " + strconv.Itoa(auditMaxLimit))
			}
			q.Limit = n
		default:
			return q, geo.Errorf(geo.EInvalid, "unknown parameter %s; the audit takes region, actor, since, table, row, cursor and limit", geo.Quote(name))
		}
	}
	return q, nil
}

// allDigits reports whether s is ASCII digits only.
func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
