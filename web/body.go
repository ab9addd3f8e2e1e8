package web

import (
	"compress/gzip"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/zunyi/battlemap/geo"
)

// The server streams request bodies (fiber.Config.StreamRequestBody): a
// handler starts with at most a few KiB of the body read, and reads the
// rest itself. Fiber's c.Body() must never be called: it reads a streamed
// body whole, and inflates a compressed one whole, before any limit is
// checked — a 2 KB "gzip, gzip" body became 4 GB that way.

// takesBody reports whether the request goes to an endpoint that reads a
// request body: the import, the login, the edits of features, the
// creation of a site with its assignments, a region's targets, and the
// changes of the registry and its standards.
func takesBody(c *fiber.Ctx) bool {
	p := c.Path()
	if m := registryWriteMethod(p); m != "" {
		return c.Method() == m
	}
	switch c.Method() {
	case fiber.MethodPost:
		return strings.HasPrefix(p, "/api/import/") || p == "/api/login" || p == "/api/suitability/sites" ||
			(strings.HasPrefix(p, "/collections/") && strings.HasSuffix(p, "/items"))
	case fiber.MethodPatch:
		return strings.HasPrefix(p, "/collections/")
	case fiber.MethodPut:
		return isTargetPath(p)
	}
	return false
}

// hasBody reports whether the request announces a body: a Content-Length
// above zero or a chunked one (-1). fasthttp gives -2 for none.
func hasBody(c *fiber.Ctx) bool { return hasBodyHeader(&c.Request().Header) }

// hasBodyHeader is hasBody on the header alone, for edge, which runs
// before Fiber has a context.
func hasBodyHeader(h *fasthttp.RequestHeader) bool {
	n := h.ContentLength()
	return n > 0 || n == -1
}

// refuseBody answers 413 to a request that sends a body to an endpoint
// that takes none, without reading it, and closes the connection after
// the answer: the unread bytes would otherwise be taken for the next
// request on it.
//
// A request to an endpoint that takes a body whose answer is an error may
// have left part of its body unread too, so its connection closes as well.
// When the body's declared length is within the limit, what is left of it
// is read and dropped first: closed with unread bytes, a connection is
// reset, and a client still sending (a 503 while another import runs,
// answered before the body) would see the reset instead of the answer. A
// body declared over the limit, or chunked, is not waited for.
func (s *Server) refuseBody(c *fiber.Ctx) error {
	if !hasBody(c) {
		return c.Next()
	}
	if takesBody(c) {
		err := c.Next()
		if err != nil || c.Response().StatusCode() >= fiber.StatusBadRequest {
			n := c.Request().Header.ContentLength()
			if stream := c.Context().RequestBodyStream(); stream != nil && n >= 0 && n <= s.cfg.BodyLimit {
				io.CopyN(io.Discard, stream, int64(n))
			}
			c.Context().SetConnectionClose()
		}
		return err
	}
	c.Context().SetConnectionClose()
	return &statusError{fiber.StatusRequestEntityTooLarge, "this endpoint takes no request body"}
}

// decodedBody is the request's body, decoded, as a stream: raw bytes are
// limited to limit and the caller limits the decoded ones (the importer
// does, with the same limit). It accepts at most one Content-Encoding,
// gzip or identity: 415 for anything else, since each further layer of
// gzip multiplies what a small body inflates to. A declared length over
// the limit is 413 before a byte is read.
func decodedBody(c *fiber.Ctx, limit int64) (io.Reader, error) {
	if n := c.Request().Header.ContentLength(); int64(n) > limit {
		return nil, geo.Errorf(geo.ETooLarge, "the body is larger than %d bytes, the most this server takes", limit)
	}
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		stream = strings.NewReader("")
	}
	raw := &limitedBody{r: stream, left: limit, limit: limit}
	// Every Content-Encoding header counts: "gzip" twice in two headers
	// is gzip twice, as "gzip, gzip" is.
	var codings []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderContentEncoding) {
		for _, coding := range strings.Split(string(v), ",") {
			if coding = strings.ToLower(strings.TrimSpace(coding)); coding != "" {
				codings = append(codings, coding)
			}
		}
	}
	enc := strings.Join(codings, ", ")
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, geo.Errorf(geo.EInvalid, "the body is not valid gzip")
		}
		return &gzipBody{zr}, nil
	default:
		return nil, &statusError{fiber.StatusUnsupportedMediaType,
			"send the body as it is or with Content-Encoding: gzip (one encoding, no other)"}
	}
}

// limitedBody reads at most left bytes of r and then fails with
// ETooLarge, rather than ending quietly: a body cut at the limit must not
// pass for a whole one.
type limitedBody struct {
	r           io.Reader
	left, limit int64
}

// Read implements io.Reader.
func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body that ends here from one that goes on.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, geo.Errorf(geo.ETooLarge, "the body is larger than %d bytes, the most this server takes", l.limit)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// gzipBody turns gzip's own read errors into a domain error a client may
// read, instead of an internal one.
type gzipBody struct{ r *gzip.Reader }

// Read implements io.Reader.
func (g *gzipBody) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF && geo.ErrorCode(err) == "" {
		return n, geo.Errorf(geo.EInvalid, "the body is not valid gzip")
	}
	return n, err
}
