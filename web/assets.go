package web

import (
	"embed"
	"errors"
	"hash/fnv"
	"io/fs"
	"mime"
	"path"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// assetFiles are the pages' own files (static/) and the front-end
// dependencies copied from npm by `npm run build` (dist/, not committed).
//
//go:embed all:static all:dist
var assetFiles embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

// assets indexes the embedded files by URL path once, with their ETags,
// so serving one is a map lookup.
type assets map[string]asset

// loadAssets maps static/X to /static/X and dist/vendor/X to /vendor/X.
func loadAssets() (assets, error) {
	a := assets{}
	for prefix, dir := range map[string]string{"/static/": "static", "/vendor/": "dist/vendor"} {
		err := fs.WalkDir(assetFiles, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			body, err := assetFiles.ReadFile(p)
			if err != nil {
				return err
			}
			h := fnv.New64a()
			h.Write(body)
			ct := mime.TypeByExtension(path.Ext(p))
			if ct == "" {
				ct = "application/octet-stream"
			}
			a[prefix+strings.TrimPrefix(p, dir+"/")] = asset{body: body, etag: `"` + strconv.FormatUint(h.Sum64(), 36) + `"`, contentType: ct}
			return nil
		})
		// dist/vendor is missing when the front end was not built; the
		// server still runs and says so (see serve).
		if err != nil && !(dir == "dist/vendor" && errors.Is(err, fs.ErrNotExist)) {
			return nil, err
		}
	}
	return a, nil
}

// serve answers with the asset at urlPath: 304 when the client holds its
// ETag, 404 (naming the build step when a dependency is missing) when
// there is none.
func (a assets) serve(c *fiber.Ctx, urlPath string) error {
	f, ok := a[urlPath]
	if !ok {
		if strings.HasPrefix(urlPath, "/vendor/") {
			return geo.Errorf(geo.ENotFound, "%s is not built into this binary: run `make build` (it runs npm ci and npm run build in web/)", urlPath)
		}
		return geo.Errorf(geo.ENotFound, "no file %s", urlPath)
	}
	c.Set(fiber.HeaderETag, f.etag)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), f.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}

// asset serves GET /static/* and /vendor/*.
func (s *Server) asset(c *fiber.Ctx) error {
	return s.assets.serve(c, c.Path())
}

// page serves one of the pages, an HTML file in static/.
func (s *Server) page(file string) fiber.Handler {
	return func(c *fiber.Ctx) error { return s.assets.serve(c, "/static/"+file) }
}

// glyphs serves GET /fonts/{fontstack}/{range}.pbf with an empty glyph
// set. Labels are Chinese names, which MapLibre draws with the system's
// CJK font (localIdeographFontFamily); the style still needs a glyphs URL,
// and an empty answer keeps every request on this server.
func (s *Server) glyphs(c *fiber.Ctx) error {
	if !strings.HasSuffix(c.Params("range"), ".pbf") {
		return geo.Errorf(geo.ENotFound, "glyph ranges are /fonts/{fontstack}/{start}-{end}.pbf")
	}
	c.Set(fiber.HeaderContentType, "application/x-protobuf")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(nil)
}
