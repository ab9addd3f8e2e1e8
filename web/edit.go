package web

import (
	"mime"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/web/ogc"
)

// Edits follow OGC API – Features – Part 4: PATCH of a feature with a
// JSON merge patch (the "update" class), guarded by the ETag its GET
// gave ("optimistic locking with ETags"); the relocation assignments are
// also created (POST to the items) and deleted. Each runs as the
// signed-in user, whose scope PostgreSQL enforces.

// mergePatchType is the media type of a PATCH body (RFC 7396).
const mergePatchType = "application/merge-patch+json"

// maxEditBytes bounds the body of an edit: a feature's fields and a
// geometry fit in far less.
const maxEditBytes = 1 << 20

// assignmentsID is the collection whose features are created and deleted.
const assignmentsID = "assignments"

// editable reports whether the features of the collection id can be
// changed.
func editable(id string) bool {
	return slices.ContainsFunc(geo.Editable, func(e geo.EditableCollection) bool { return e.Collection == id })
}

// itemMethods is the Allow header of a feature of the collection id, and
// itemsMethods that of its items.
func itemMethods(id string) string {
	switch {
	case id == assignmentsID:
		return "GET, HEAD, PATCH, DELETE, OPTIONS"
	case editable(id):
		return "GET, HEAD, PATCH, OPTIONS"
	}
	return "GET, HEAD, OPTIONS"
}

func itemsMethods(id string) string {
	if id == assignmentsID {
		return "GET, HEAD, POST, OPTIONS"
	}
	return "GET, HEAD, OPTIONS"
}

// write lets a write (an edit, an import) go on when one of the write
// slots is free (Server.writing), waiting for one until the request's
// time runs out.
func (s *Server) write(c *fiber.Ctx) error {
	select {
	case s.writing <- struct{}{}:
	case <-c.UserContext().Done():
		return c.UserContext().Err()
	}
	defer func() { <-s.writing }()
	return c.Next()
}

// options serves OPTIONS on a collection's items or one of its features:
// the methods it takes and, where it takes PATCH, the patch format. It is
// no CORS preflight: it allows nothing across origins.
func (s *Server) options(c *fiber.Ctx) error {
	coll, err := geo.CollectionByID(c.Params("collection"))
	if err != nil {
		return err
	}
	if c.Params("feature") == "" {
		c.Set(fiber.HeaderAllow, itemsMethods(coll.ID))
	} else {
		c.Set(fiber.HeaderAllow, itemMethods(coll.ID))
		if editable(coll.ID) {
			c.Set("Accept-Patch", mergePatchType)
		}
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// editor is who changes an existing feature (see writer) and the one
// strong ETag the request's If-Match names: 428 when it names none (or
// "*", which would skip the check), so that no edit is made over a
// version its editor has not seen.
func (s *Server) editor(c *fiber.Ctx) (*account.User, string, error) {
	u, err := s.writer(c)
	if err != nil {
		return nil, "", err
	}
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return nil, "", &statusError{fiber.StatusPreconditionRequired,
			"send If-Match with the ETag of the feature as you read it (GET the feature first)"}
	}
	return u, h, nil
}

// editBody reads the body of an edit, which must be of one of types.
func editBody(c *fiber.Ctx, types ...string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || !slices.Contains(types, mt) {
		return nil, &statusError{fiber.StatusUnsupportedMediaType, "send the body as " + strings.Join(types, " or ")}
	}
	return readSmallBody(c, maxEditBytes)
}

// featureID is the request's feature id, unescaped.
func featureID(c *fiber.Ctx) string {
	id, err := url.PathUnescape(c.Params("feature"))
	if err != nil {
		return c.Params("feature")
	}
	return id
}

// patchItem serves PATCH /collections/{collection}/items/{feature} for
// the editable collection id.
func (s *Server) patchItem(id string) fiber.Handler {
	coll, err := geo.CollectionByID(id)
	if err != nil {
		panic("web: " + err.Error()) // geo.Editable names collections
	}
	return func(c *fiber.Ctx) error { return s.patch(c, coll) }
}

// patch applies the request's merge patch to a feature of coll.
func (s *Server) patch(c *fiber.Ctx, coll *geo.Collection) error {
	u, match, err := s.editor(c)
	if err != nil {
		return err
	}
	body, err := editBody(c, mergePatchType)
	if err != nil {
		return err
	}
	id := featureID(c)
	var e *importer.Edit
	if coll.ID == assignmentsID {
		e, err = s.importer.UpdateAssignment(c.UserContext(), s.pool, u.Actor(), id, match, body)
	} else {
		e, err = s.importer.Update(c.UserContext(), s.pool, u.Actor(), coll, id, match, body)
	}
	if err != nil {
		return err
	}
	return s.sendEdit(c, coll, id, e, fiber.StatusOK)
}

// createItem serves POST /collections/assignments/items: a new
// assignment, answered 201 with its Location.
func (s *Server) createItem(c *fiber.Ctx) error {
	coll := geo.Assignments
	u, err := s.writer(c)
	if err != nil {
		return err
	}
	body, err := editBody(c, geoJSONType, fiber.MIMEApplicationJSON)
	if err != nil {
		return err
	}
	e, err := s.importer.CreateAssignment(c.UserContext(), s.pool, u.Actor(), body)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderLocation, s.baseURL(c)+"/collections/"+coll.ID+"/items/"+url.PathEscape(e.ID))
	return s.sendEdit(c, coll, e.ID, e, fiber.StatusCreated)
}

// deleteItem serves DELETE /collections/assignments/items/{feature}.
func (s *Server) deleteItem(c *fiber.Ctx) error {
	u, match, err := s.editor(c)
	if err != nil {
		return err
	}
	if _, err := s.importer.DeleteAssignment(c.UserContext(), s.pool, u.Actor(), featureID(c), match); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// sendEdit answers an edit with the feature as it now is and its ETag.
func (s *Server) sendEdit(c *fiber.Ctx, coll *geo.Collection, id string, e *importer.Edit, status int) error {
	c.Set(fiber.HeaderETag, e.ETag)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, geoJSONType)
	return c.Status(status).Send(ogc.AppendFeature(nil, s.baseURL(c), coll, id, ogc.FormatJSON, e.Feature))
}
