// Package web is battlemap's HTTP face: Fiber routes, the handlers that
// parse a request, make one call into geo or tiles and encode the answer,
// and the one error handler that turns errors into problem+json.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/migrations"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web/answer"
)

// Config holds the HTTP server's settings.
type Config struct {
	// RequestTimeout bounds each request's work, including its queries:
	// the request's context is cancelled when it runs out.
	RequestTimeout time.Duration
	// BodyLimit is the largest request body accepted, in bytes.
	BodyLimit int
	// PublicURL is where clients reach the server (scheme and host), for
	// the URLs in TileJSON, the style and the OGC links; empty means the
	// request's host (see TrustedProxies).
	PublicURL string
	// TrustedProxies are the addresses (IPs or CIDR prefixes) of the
	// reverse proxies in front of the server. Only a request from one of
	// them has its X-Forwarded-Proto and X-Forwarded-Host believed; from
	// anyone else those headers could point every link at another site.
	// Its X-Real-IP, when an IP address, is then the client's address,
	// which sign-in failures are counted by: behind a proxy every client
	// would otherwise share the proxy's address, and its limit.
	TrustedProxies []string
	// TileMaxAge is how long clients may use a tile without asking again;
	// 0 makes them revalidate every time (cheap: a 304 on the ETag), which
	// keeps live screens live.
	TileMaxAge time.Duration
	// Root is the code of the region the pages open on; "" means the
	// first region without a parent, by code (GET /api/regions).
	Root string
	// ImportEnabled turns on POST /api/import/{layer}, which admins and
	// county users may then use within their scope.
	ImportEnabled bool
	// CacheBytes bounds the in-process cache of JSON and GeoJSON answers
	// (features, drill-down, search, relocation); 0 disables it.
	CacheBytes int64
	// TileCacheBytes bounds the in-process cache of tiles; 0 disables it.
	TileCacheBytes int64
	// Versions tells both caches which data version is current; nil means
	// strict reads from the server's pool.
	Versions *geo.Versions
	// ReadAccess is who may read: ReadPublic (anyone; the default) or
	// ReadViewer (signed-in users only). Writes always need a user.
	ReadAccess string
	// Changes tells the event streams when changes were committed; nil
	// makes one over the server's pool.
	Changes *geo.Changes
	// MaxEventStreams bounds the open event streams (GET /api/events);
	// 0 means DefaultMaxEventStreams.
	MaxEventStreams int
	// EventHeartbeat is how often an idle event stream sends a comment;
	// 0 means DefaultEventHeartbeat.
	EventHeartbeat time.Duration
	// DatabaseState, when set, says what the database battlemap runs
	// itself is doing ("running", "restarting", "stopped"); readiness is
	// 503 with that word while it is not "running". nil means a database
	// run by someone else, judged by a ping alone.
	DatabaseState func() string
	// Past is the pool that reads the map as of a past moment (made by
	// geo.PastConfig); nil makes one from the server's pool's
	// configuration, closed by Shutdown.
	Past *pgxpool.Pool
	// Replicas, when set, take the reads of answers made from the
	// database (tiles, features, drill-down, search…) from the replicas
	// that have caught up with the request (see fromCache); writes,
	// sign-ins and event streams stay on the server's pool. Their
	// checker is the caller's to run; /readyz lists them.
	Replicas *geo.Replicas
}

// Server is the HTTP server. Build it with New.
type Server struct {
	cfg  Config
	pool *pgxpool.Pool
	// reads are pool and the pool that reads the past (?at=).
	reads geo.Reads
	// replicas route reads to replicas; nil: none.
	replicas *geo.Replicas
	// ownPast: reads.Past was made here, and Shutdown closes it.
	ownPast bool
	tiles   *tiles.Service
	log     *slog.Logger
	app     *fiber.App

	tileCacheControl string
	importer         *importer.Importer
	assets           assets
	cache            *answer.Cache // answers of the JSON API; nil when off
	tileCache        *answer.Cache // tiles; nil when off
	versions         *geo.Versions
	verifier         *account.Verifier
	logins           *loginLimits
	// apiCacheControl is the Cache-Control of JSON answers: private when
	// reads need a login, so that no shared cache hands one user's answer
	// to someone who has not signed in.
	apiCacheControl string
	// writing holds a token per write under way (edits and imports): half
	// the pool at most. Writes to one county queue behind one another in
	// PostgreSQL (its rollups are refreshed one change at a time), and
	// queued there each would hold a connection that reads, version
	// checks among them, would be left waiting for; writes to different
	// counties run side by side, as many as there are tokens.
	writing chan struct{}
	changes *geo.Changes
	// regionBoxes holds the box of each region whose drill-down answer was
	// made (code → orb.Bound), for regionStamp.
	regionBoxes sync.Map
	// streams holds a token per open event stream.
	streams chan struct{}
	// importing holds a token while an import runs: one at a time, since
	// each holds up to BodyLimit bytes of decoded body in memory.
	importing chan struct{}
}

// New builds the server and its routes over pool and the tile service.
func New(cfg Config, pool *pgxpool.Pool, tileService *tiles.Service, log *slog.Logger) *Server {
	if cfg.ReadAccess == "" {
		cfg.ReadAccess = ReadPublic
	}
	if cfg.MaxEventStreams <= 0 {
		cfg.MaxEventStreams = DefaultMaxEventStreams
	}
	if cfg.EventHeartbeat <= 0 {
		cfg.EventHeartbeat = DefaultEventHeartbeat
	}
	if cfg.Changes == nil {
		cfg.Changes = geo.NewChanges(pool, log)
	}
	s := &Server{cfg: cfg, pool: pool, replicas: cfg.Replicas, tiles: tileService, log: log, tileCacheControl: "public, no-cache",
		cache: answer.NewCache(cfg.CacheBytes), tileCache: answer.NewCache(cfg.TileCacheBytes), versions: cfg.Versions,
		verifier: account.NewVerifier(pool, credentialCacheFor), logins: newLoginLimits(), apiCacheControl: "no-cache"}
	if s.versions == nil {
		s.versions = geo.NewVersions(pool, log)
	}
	s.reads = geo.Reads{Now: pool, Past: cfg.Past}
	if s.reads.Past == nil {
		s.reads.Past, s.ownPast = geo.OpenPast(pool), true
	}
	s.importing = make(chan struct{}, 1)
	s.changes = cfg.Changes
	s.streams = make(chan struct{}, cfg.MaxEventStreams)
	s.writing = make(chan struct{}, max(1, pool.Config().MaxConns/2))
	// An import arrives as one request body, so its byte limit is the body limit.
	s.importer = importer.New(importer.Config{MaxBytes: int64(cfg.BodyLimit)}, log)
	if cfg.TileMaxAge > 0 {
		s.tileCacheControl = "public, max-age=" + strconv.Itoa(int(cfg.TileMaxAge.Seconds()))
	}
	if cfg.ReadAccess == ReadViewer {
		s.tileCacheControl = strings.Replace(s.tileCacheControl, "public", "private", 1)
		s.apiCacheControl = "private, no-cache"
	}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		panic("web: embedded assets: " + err.Error()) // they are compiled in: cannot happen
	}
	if _, ok := s.assets["/vendor/maplibre-gl.js"]; !ok {
		log.Warn("the front end is not built into this binary; pages will not draw maps (run make build)")
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "battlemap",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		BodyLimit:             cfg.BodyLimit,
		// Bodies are streamed: a handler is called once the headers and
		// at most 8 KiB of the body are in, so a body is never held whole
		// before its limit is checked; the one handler that takes a body
		// reads it (decoded, limited) itself, and refuseBody turns away
		// any other without reading it.
		StreamRequestBody: true,
		// Forwarded headers count only from the configured proxies (none
		// by default); Fiber trusts anyone unless the check is on.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		// X-Real-IP, which a proxy sets to the address it was reached
		// from, rather than X-Forwarded-For, whose first address (the
		// one Fiber would take) is whatever the client sent.
		ProxyHeader:        "X-Real-IP",
		EnableIPValidation: true,
		// The socket timeouts sit a margin above the request timeout, so a
		// slow query is cut by its context, not by a dropped connection.
		ReadTimeout:  cfg.RequestTimeout + 5*time.Second,
		WriteTimeout: cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:  2 * time.Minute,
		// An answer goes out in one write when it fits the buffer with its
		// header: at the default 4 KiB, a page of a few villages took two
		// system calls, costly on this kind of machine.
		WriteBufferSize: 16 << 10,
	})
	s.app.Server().Handler = s.edge(s.app.Server().Handler)
	s.app.Use(s.withDeadline, s.logRequest, s.refuseBody, s.checkHost, s.authenticate)
	s.routes()
	return s
}

// routes lists every endpoint, in one place.
func (s *Server) routes() {
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/api/version", s.version)
	s.app.Get("/api/sites/:code", s.site)
	s.app.Get("/api/relocation/unassigned", s.unassigned)
	s.app.Get("/api/suitability", s.suitabilitySurface)
	s.app.Get("/api/suitability/parameters", s.suitabilityParameters)
	s.app.Get("/api/suitability/point", s.suitabilityPoint)
	s.app.Get("/api/suitability/candidates", s.suitabilityCandidates)
	s.app.Post("/api/suitability/sites", s.write, s.createSite)
	s.app.Get("/tiles/:layer/:z/:x/:y", s.tile)
	s.app.Get("/tiles/:layer/at/:at/:z/:x/:y", s.tile)
	s.app.Get("/tiles/:file", s.tileJSON)
	s.app.Get("/style.json", s.style)
	s.app.Get("/legend.json", s.legend)
	s.app.Get("/api/catalogue", s.catalogue)
	s.app.Get("/", s.landing)
	s.app.Get("/api", s.apiDefinition)
	s.app.Get("/conformance", s.conformance)
	s.app.Get("/collections", s.collections)
	s.app.Get("/collections/:collection", s.collection)
	s.app.Get("/collections/:collection/items", s.items)
	s.app.Get("/collections/:collection/items/:feature", s.item)
	for _, e := range geo.Editable {
		s.app.Patch("/collections/"+e.Collection+"/items/:feature", s.write, s.patchItem(e.Collection))
	}
	s.app.Post("/collections/"+assignmentsID+"/items", s.write, s.createItem)
	s.app.Delete("/collections/"+assignmentsID+"/items/:feature", s.write, s.deleteItem)
	s.app.Options("/collections/:collection/items", s.options)
	s.app.Options("/collections/:collection/items/:feature", s.options)
	s.app.Post("/api/login", s.login)
	s.app.Post("/api/logout", s.logout)
	s.app.Get("/api/me", s.me)
	s.app.Get("/api/audit", s.audit)
	s.app.Get("/api/events", s.events)
	s.app.Get("/api/history", s.history)
	s.app.Get("/api/regions", s.topRegions)
	s.app.Get("/api/regions/:code", s.region)
	s.app.Get("/api/regions/:code/timeline", s.timeline)
	s.app.Get("/api/regions/:code/funds", s.funds)
	s.app.Get("/api/regions/:code/rankings", s.rankings)
	s.app.Get("/api/units/:name", s.unit)
	s.app.Get("/api/regions/:code/flags", s.regionFlags)
	s.app.Get("/api/regions/:code/targets", s.targets)
	s.app.Put("/api/regions/:code/targets/:year", s.write, s.putTarget)
	s.app.Get("/api/regions/:code/changes", s.regionChanges)
	s.app.Get("/api/regions/:code/registry", s.registry)
	s.app.Post("/api/regions/:code/exit", s.write, s.postExit)
	s.app.Post("/api/regions/:code/return", s.write, s.postReturn)
	s.app.Get("/api/exit-standards", s.exitStandards)
	s.app.Put("/api/exit-standards/:level", s.write, s.putExitStandard)
	s.app.Get("/api/villages/:code/history", s.villageHistory)
	s.app.Get("/api/flags/:id", s.flag)
	s.app.Get("/api/search", s.search)
	s.app.Post("/api/import/:layer", s.write, s.importLayer)
	s.app.Get("/static/*", s.asset)
	s.app.Get("/vendor/*", s.asset)
	s.app.Get("/fonts/:fontstack/:range", s.glyphs)
	s.app.Get("/wall", s.page("wall.html"))
	s.app.Get("/planner", s.page("planner.html"))
	s.app.Get("/login", s.page("login.html"))
}

// App is the Fiber application, for tests that call app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error { return s.app.Listen(addr) }

// Serve serves on ln until Shutdown: a listener bound before the process
// gave up root can still take a port below 1024.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown ends the event streams, stops accepting connections and waits
// for in-flight requests to finish, or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.changes.Close()
	err := s.app.ShutdownWithContext(ctx)
	if s.ownPast {
		s.reads.Past.Close()
	}
	return err
}

// withDeadline gives every request a context that ends after
// RequestTimeout; Fiber's own user context has no deadline. It also ends
// when the answer is made, which for a streamed answer is after the
// handler returns: the stream ends it when it closes.
func (s *Server) withDeadline(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	c.SetUserContext(ctx)
	err := c.Next()
	if st, ok := c.Response().BodyStream().(*bodyStream); ok {
		st.cancel = cancel
		return err
	}
	cancel()
	return err
}

// logRequest writes one access log line per request, after its errors
// have been turned into a response.
func (s *Server) logRequest(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !s.log.Enabled(c.UserContext(), level) {
		return nil
	}
	// A streamed body is not made yet, and reading it here would make it
	// whole in memory: its size is not known (-1).
	size := -1
	if !c.Response().IsBodyStream() {
		size = len(c.Response().Body())
	}
	s.log.LogAttrs(c.UserContext(), level, "request",
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int("bytes", size))
	return nil
}

// healthz says the process is up; it touches nothing else.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readiness is the body of /readyz.
type readiness struct {
	Status        string `json:"status"`
	Database      string `json:"database"`
	SchemaVersion int32  `json:"schema_version"`
	SchemaWanted  int32  `json:"schema_wanted"`
	DataVersion   int64  `json:"data_version,omitempty"`
	// Replicas are the read replicas and whether reads go to them; one
	// out of rotation leaves the server ready, reading on the primary.
	Replicas []geo.ReplicaStatus `json:"replicas,omitempty"`
	// ReplicaFallbacks counts the reads that waited for a replica to
	// catch up in vain and went to the primary.
	ReplicaFallbacks int64 `json:"replica_fallbacks,omitempty"`
}

// readyz says whether the database answers and carries the schema this
// binary expects; load balancers send traffic only when it is 200.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx := c.UserContext()
	want, err := migrations.Latest()
	if err != nil {
		return err
	}
	r := readiness{Status: "not_ready", Database: "unreachable", SchemaWanted: want}
	r.Replicas, r.ReplicaFallbacks = s.replicas.Status()
	// Every way of not being ready here passes (a database restarting, a
	// migration still to come), so probes are told when to ask again.
	notReady := func() error {
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		return c.Status(fiber.StatusServiceUnavailable).JSON(r)
	}
	if s.cfg.DatabaseState != nil {
		if st := s.cfg.DatabaseState(); st != "running" {
			r.Database = st
			return notReady()
		}
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.log.Warn("readiness: database unreachable", slog.Any("err", err))
		return notReady()
	}
	r.Database = "ok"
	if r.SchemaVersion, err = migrations.Current(ctx, s.pool); err != nil {
		s.log.Warn("readiness: schema version", slog.Any("err", err))
		return notReady()
	}
	if r.SchemaVersion != want {
		return notReady()
	}
	dv, err := geo.CurrentVersion(ctx, s.pool)
	if err != nil {
		s.log.Warn("readiness: data version", slog.Any("err", err))
		return notReady()
	}
	r.DataVersion = dv.Version
	r.Status = "ready"
	return c.JSON(r)
}

// version serves GET /api/version: the data version and when it last
// moved, which screens poll to know when to refresh.
func (s *Server) version(c *fiber.Ctx) error {
	dv, err := geo.CurrentVersion(c.UserContext(), s.pool)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(dv)
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// InvalidParams names each field at fault and why, for input that
	// has fields (RFC 9457's example extension member).
	InvalidParams []geo.FieldError `json:"invalid-params,omitempty"`
	// Facts are what a rule of the data judged when it refused a change
	// (the rule, its standard, the figures found).
	Facts json.RawMessage `json:"facts,omitempty"`
}

// statusOf maps domain error codes to HTTP statuses: the one table.
var statusOf = map[string]int{
	geo.EInvalid:  fiber.StatusBadRequest,
	geo.ENotFound: fiber.StatusNotFound,
	geo.ETooLarge: fiber.StatusRequestEntityTooLarge,
	geo.EConflict: fiber.StatusConflict,
	// Outside the user's scope: the database refused it.
	geo.EForbidden: fiber.StatusForbidden,
	// If-Match names a version of the feature that is no longer current.
	geo.EStale: fiber.StatusPreconditionFailed,
	// Well-formed, but fields break the data's rules (invalid-params).
	geo.EUnprocessable: fiber.StatusUnprocessableEntity,
	// The database cannot answer now: the client may retry (Retry-After).
	geo.EUnavailable: fiber.StatusServiceUnavailable,
}

// retryAfter is the Retry-After of every 503, in seconds: about how long
// a restarting database or a burst of load takes to pass.
const retryAfter = "2"

// statusError is an error this package answers with its own status and a
// message safe to show, for what is no domain error (a media type, a body
// where none belongs).
type statusError struct {
	status int
	msg    string
}

// Error implements error.
func (e *statusError) Error() string { return e.msg }

// fiberDetail is the detail of a problem made from Fiber's own errors, by
// status. Fiber words some of them with the request's bytes (a malformed
// header is answered with the raw request buffer, Authorization and
// Cookie included; an unknown path is quoted), so their message is never
// sent: a status not listed gets its title.
var fiberDetail = map[int]string{
	fiber.StatusBadRequest:                  "the request is malformed",
	fiber.StatusNotFound:                    "nothing is served at this path; GET / lists what is",
	fiber.StatusMethodNotAllowed:            "this path does not take this method; Allow lists those it takes",
	fiber.StatusRequestEntityTooLarge:       "the request body is larger than the server takes",
	fiber.StatusRequestHeaderFieldsTooLarge: "the request's header is larger than the server takes",
	fiber.StatusRequestTimeout:              "the request did not arrive in time",
}

// handleError turns any error a handler returns into problem+json. Domain
// errors and this package's statusError show their message; Fiber's own
// (unknown route, wrong method, malformed request) a fixed one by status;
// anything else is internal, so the client gets a generic detail and the
// cause is logged once, here.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := problem{Type: "about:blank", Status: fiber.StatusInternalServerError}
	if u := geo.Unavailable(err); u != nil {
		s.log.Warn("database unavailable", slog.String("path", c.Path()), slog.Any("err", err))
		err = u
	}
	var ferr *fiber.Error
	var serr *statusError
	switch {
	case geo.ErrorCode(err) != "":
		p.Status = statusOf[geo.ErrorCode(err)]
		p.Detail = err.Error()
		var gerr *geo.Error
		if errors.As(err, &gerr) {
			p.InvalidParams, p.Facts = gerr.Fields, gerr.Facts
		}
	case errors.As(err, &serr):
		p.Status, p.Detail = serr.status, serr.msg
	case errors.As(err, &ferr):
		p.Status, p.Detail = ferr.Code, fiberDetail[ferr.Code]
		if p.Detail == "" {
			p.Detail = statusText(ferr.Code)
		}
	case errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Detail = fiber.StatusServiceUnavailable, "the request took longer than the server allows"
		s.log.Warn("request timed out", slog.String("path", c.Path()), slog.Any("err", err))
	default:
		p.Detail = "internal error; the server log has the cause"
		s.log.Error("request failed", slog.String("path", c.Path()), slog.Any("err", err))
	}
	p.Title = fiber.ErrInternalServerError.Message
	if t := statusText(p.Status); t != "" {
		p.Title = t
	}
	switch p.Status {
	case fiber.StatusServiceUnavailable:
		c.Set(fiber.HeaderRetryAfter, retryAfter)
	case fiber.StatusMethodNotAllowed:
		if len(c.Response().Header.Peek(fiber.HeaderAllow)) == 0 {
			c.Set(fiber.HeaderAllow, allowedMethods(c.Path()))
		}
	}
	// Answers to requests Fiber could not parse come here without passing
	// edge, which sets these on every other answer.
	for _, kv := range pageHeaders {
		c.Set(kv[0], kv[1])
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	c.Status(p.Status)
	return c.JSON(p, "application/problem+json")
}

func statusText(code int) string {
	return fiber.NewError(code).Message
}
