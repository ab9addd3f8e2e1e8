package web

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/answer"
	"github.com/zunyi/battlemap/web/ogc"
)

// cached answers c with the body make encodes, or with the same body kept
// from an earlier request for the same URL if the data version has not
// moved since (see geo.Versions for how soon a change is seen). make runs
// only on a miss, and its errors are answered as usual, never kept. The
// key is the whole URL as clients see it (base URL, path and query as
// sent), which is all that make may depend on besides the database.
func (s *Server) cached(c *fiber.Ctx, make func(ctx context.Context) (data []byte, header map[string]string, err error)) error {
	// Clients keep JSON answers but ask again before using one
	// (s.apiCacheControl): a 304 on the ETag is cheap, and live screens
	// stay live.
	return s.answer(c, s.cache, s.baseURL(c)+c.OriginalURL(), s.apiCacheControl, globalStamp, make)
}

// stamp is what an answer is stamped with, taken from the data versions
// read for its request: the global version (globalStamp), or the
// versions of the counties it covers (coveringStamp).
type stamp func(*geo.Snapshot) int64

// globalStamp stamps an answer that any change may alter.
func globalStamp(snap *geo.Snapshot) int64 { return snap.Global }

// answer is how every answer made from the database is sent: from cache
// under key when it holds one made at the current stamp, else made now,
// kept, and sent with its ETag and cacheControl.
//
// The body is stamped with the stamp of the versions read before make
// ran; make reads at those versions or newer ones (on the primary, or on
// a replica that has replayed as far: see fromCache), so a kept body is
// never older than the stamp it is found under.
func (s *Server) answer(c *fiber.Ctx, cache *answer.Cache, key, cacheControl string, stamp stamp,
	make func(ctx context.Context) (data []byte, header map[string]string, err error)) error {
	ctx, version, sent, err := s.fromCache(c, cache, key, cacheControl, stamp)
	if err != nil || sent {
		return err
	}
	data, header, err := make(ctx)
	if s.replicas.Retry(ctx, err) {
		data, header, err = make(c.UserContext())
	}
	if err != nil {
		return err
	}
	b := answer.NewBody(data, version, header, cache != nil)
	cache.Put(key, b)
	return sendBody(c, b, cacheControl)
}

// fromCache answers c with the body cache holds under key, if it was made
// at the current stamp, and reports that it did. Else it returns the
// stamp to stamp an answer made now with (0 without a cache), and the
// context to make it in.
//
// This is the one place where reads are given to replicas: the context
// is routed (geo.Replicas.Route) to a replica that has replayed the
// primary's log as far as the versions just read, if one has or does
// within a few milliseconds, and every read through geo.Reads in it runs
// there. Without a cache and without replicas no versions are read.
func (s *Server) fromCache(c *fiber.Ctx, cache *answer.Cache, key, cacheControl string,
	stamp stamp) (ctx context.Context, version int64, sent bool, err error) {
	ctx = c.UserContext()
	if cache == nil && s.replicas == nil {
		return ctx, 0, false, nil
	}
	snap, err := s.versions.Snapshot(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	if cache != nil {
		version = stamp(snap)
	}
	if b, ok := cache.Get(key, version); ok {
		return nil, version, true, sendBody(c, b, cacheControl)
	}
	return s.replicas.Route(ctx, snap.LSN), version, false, nil
}

// regionJSON serves a GET of one region's answer (its code the path's
// :code) that takes only ?at=: read runs on the pool of that moment (now
// without it), and the answer is cached as cachedJSON's. The funds, the
// flags and the registry of a region are answered so.
func regionJSON[T any](s *Server, c *fiber.Ctx, read func(ctx context.Context, db geo.DB, code string) (T, error)) error {
	_, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON)
	if err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(ctx context.Context) (any, error) {
		ctx, db, err := s.readAt(ctx, at)
		if err != nil {
			return nil, err
		}
		return read(ctx, db, code)
	})
}

// cachedJSON is cached for an answer that encoding/json writes: the value
// read returns, sent as mediaType.
func (s *Server) cachedJSON(c *fiber.Ctx, mediaType string, read func(ctx context.Context) (any, error)) error {
	return s.cached(c, func(ctx context.Context) ([]byte, map[string]string, error) {
		v, err := read(ctx)
		if err != nil {
			return nil, nil, err
		}
		data, err := json.Marshal(v)
		return data, map[string]string{fiber.HeaderContentType: mediaType}, err
	})
}

// sendBody answers with b and its ETag: 304 when the client holds that
// ETag already, 204 when b is empty, else b's bytes, gzipped when the
// client accepts gzip.
func sendBody(c *fiber.Ctx, b *answer.Body, cacheControl string) error {
	c.Set(fiber.HeaderETag, b.ETag)
	c.Set(fiber.HeaderCacheControl, cacheControl)
	c.Vary(fiber.HeaderAcceptEncoding)
	for k, v := range b.Header {
		c.Set(k, v)
	}
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), b.ETag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if len(b.Data) == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(b.Gzipped())
	}
	return c.Send(b.Data)
}
