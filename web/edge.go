package web

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/zunyi/battlemap/geo"
)

// contentSecurityPolicy lets the pages load only what this server serves.
// MapLibre runs its workers from blob: URLs (worker-src, and child-src for
// browsers that predate worker-src) and draws images from data: and blob:
// URLs; the pages' icon is a data: URL. The pages have no inline script
// or style (MapLibre sets styles through the DOM, which CSP allows), and
// no page may be framed, which stops clickjacking.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHeaders are set on every answer. The CSP matters for the pages and
// costs nothing on JSON; nosniff keeps a browser from running a JSON or
// GeoJSON answer as a script or page; DENY is frame-ancestors for older
// browsers; no-referrer keeps the drill-down's URL (which region is being
// looked at) from other sites.
var pageHeaders = [][2]string{
	{fiber.HeaderContentSecurityPolicy, contentSecurityPolicy},
	{fiber.HeaderXContentTypeOptions, "nosniff"},
	{fiber.HeaderXFrameOptions, "DENY"},
	{fiber.HeaderReferrerPolicy, "no-referrer"},
}

// allowedMethods is the Allow header of a 405 at path: the import, the
// login and the logout take POST, a region's target PUT, the registry's
// writes theirs (registryWriteMethod), a collection's items and features
// what itemsMethods and itemMethods say, every other path GET (and so
// HEAD).
func allowedMethods(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/import/"), path == "/api/login", path == "/api/logout":
		return fiber.MethodPost
	case isTargetPath(path):
		return fiber.MethodPut
	case registryWriteMethod(path) != "":
		return registryWriteMethod(path)
	case strings.HasPrefix(path, "/collections/"):
		parts := strings.Split(strings.TrimPrefix(path, "/collections/"), "/")
		switch {
		case len(parts) == 2 && parts[1] == "items":
			return itemsMethods(parts[0])
		case len(parts) == 3 && parts[1] == "items":
			return itemMethods(parts[0])
		}
	}
	return "GET, HEAD"
}

// edge wraps the Fiber app's handler with what every answer needs before
// Fiber's routing sees the request: the page headers, CORS for reads, and
// a 405 problem for a method Fiber does not know at all (Fiber would
// answer a text/plain 400 before any middleware runs).
//
// CORS: every GET and HEAD answer carries Access-Control-Allow-Origin: *.
// Everything this server reads out is public map data (tiles, the style,
// TileJSON, the OGC collections) and no answer depends on cookies or
// credentials, so a MapLibre page on another origin may use it. Nothing
// else is allowed across origins: no answer to OPTIONS allows a method
// or a header across origins (a collection's OPTIONS says only Allow and
// Accept-Patch), so a script on another origin cannot send an import or
// an edit, whose media types and headers a browser does not send across
// origins without asking first.
func (s *Server) edge(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	known := map[string]bool{}
	for _, m := range s.app.Config().RequestMethods {
		known[m] = true
	}
	return func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		for _, kv := range pageHeaders {
			h.Set(kv[0], kv[1])
		}
		if ctx.IsGet() || ctx.IsHead() {
			h.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		}
		if !known[string(ctx.Method())] {
			// The method is not echoed: it is the client's bytes.
			body, _ := json.Marshal(problem{Type: "about:blank", Title: statusText(fiber.StatusMethodNotAllowed),
				Status: fiber.StatusMethodNotAllowed, Detail: fiberDetail[fiber.StatusMethodNotAllowed]})
			ctx.SetStatusCode(fiber.StatusMethodNotAllowed)
			h.Set(fiber.HeaderAllow, allowedMethods(string(ctx.Path())))
			ctx.SetContentType("application/problem+json")
			ctx.SetBody(body)
			if hasBodyHeader(&ctx.Request.Header) {
				ctx.SetConnectionClose() // its body is unread
			}
			return
		}
		next(ctx)
	}
}

// requestHost is the host (and port) the request came to: from a trusted
// proxy its X-Forwarded-Host, else its Host, else — an HTTP/1.0 request
// may have none — the address the connection came in on, rather than a
// URL with no host at all.
func requestHost(c *fiber.Ctx) string {
	if h := c.Hostname(); h != "" {
		return h
	}
	return c.Context().LocalAddr().String()
}

// checkHost answers 400 to a request whose host (see requestHost) is not a
// host name or IP literal with an optional port, or whose scheme, from a
// trusted proxy, is neither http nor https: both go into the links of
// TileJSON, the style and the OGC documents, and into the API cache's
// keys.
func (s *Server) checkHost(c *fiber.Ctx) error {
	if !validHost(requestHost(c)) {
		return geo.Errorf(geo.EInvalid, "the request's host is not a host name or IP address with an optional port")
	}
	if p := c.Protocol(); p != "http" && p != "https" {
		return geo.Errorf(geo.EInvalid, "the forwarded scheme is neither http nor https")
	}
	return c.Next()
}

// validHost reports whether h is host[:port], host being a DNS name (LDH
// labels) or an IP literal, IPv6 in brackets.
func validHost(h string) bool {
	host, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return false
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		a, err := netip.ParseAddr(inner)
		// A zone (fe80::1%eth0) names an interface of the client's
		// machine; it has no place in a link, and url.Parse refuses it.
		return ok && err == nil && a.Is6() && a.Zone() == ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return !strings.Contains(host, ":") // bare IPv6 needs brackets
	}
	return validHostname(host)
}

// validHostname reports whether name is a DNS name: dot-separated labels
// of letters, digits and hyphens, none starting or ending with a hyphen.
func validHostname(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
