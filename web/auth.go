package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
)

// Who is asking: every request passes authenticate, which reads a Bearer
// token or the login page's session cookie and puts the verified user in
// the request's locals. Reads are public unless Config.ReadAccess is
// "viewer"; writes always need a user whose role edits, and the user's
// scope goes with the write to PostgreSQL (geo.Actor), whose row-level
// security has the last word.

// Read access settings (Config.ReadAccess).
const (
	// ReadPublic lets anyone read: the demo's default.
	ReadPublic = "public"
	// ReadViewer needs a signed-in user (any role, a kiosk's viewer token
	// included) for everything but the login page and health checks.
	ReadViewer = "viewer"
)

// sessionCookie names the login page's session cookie.
const sessionCookie = "battlemap_session"

// csrfHeader carries the anti-forgery token of a cookie session on every
// write (account.CSRFToken); /api/me and /api/login hand it to the page.
const csrfHeader = "X-CSRF-Token"

// sessionTTL is how long a login lasts: a working day and then some. A
// viewer's lasts kioskTTL: a wall display signed in with its kiosk token
// stays so for weeks, and a viewer changes nothing.
const (
	sessionTTL = 12 * time.Hour
	kioskTTL   = 30 * 24 * time.Hour
)

// credentialCacheFor is how long a verified credential is believed
// without asking the database: the delay after which a disabled user or
// a revoked token stops working on another instance.
const credentialCacheFor = 30 * time.Second

// userKey is the locals key of the request's verified user.
const userKey = "battlemap.user"

// viaCookie is the locals key set when the user came by session cookie,
// whose writes need the CSRF header.
const viaCookie = "battlemap.via-cookie"

// userOf is the request's verified user, or nil.
func userOf(c *fiber.Ctx) *account.User {
	u, _ := c.Locals(userKey).(*account.User)
	return u
}

// bearer is the token of an "Authorization: Bearer" header, "" without one.
func bearer(c *fiber.Ctx) (string, bool) {
	h := c.Get(fiber.HeaderAuthorization)
	if h == "" {
		return "", false
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// unauthenticated is the 401 of a request that needs a user: API clients
// are told to send a Bearer token.
func unauthenticated(c *fiber.Ctx, why string) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="battlemap"`)
	return &statusError{fiber.StatusUnauthorized, why}
}

// authenticate verifies the request's credential, if it has one. A
// Bearer token that does not verify is a 401 (and counts against the
// address, like a failed login); a session cookie that does not (expired,
// logged out elsewhere) is dropped and the request goes on anonymously.
// With ReadAccess "viewer", a request without a user gets 401, or, for a
// page, a redirect to the login page.
func (s *Server) authenticate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	if tok, ok := bearer(c); ok {
		addr := c.IP()
		if wait := s.logins.blocked("", addr); wait > 0 {
			return tooManyAttempts(c, wait)
		}
		u, err := s.verifier.Verify(ctx, tok)
		if errors.Is(err, account.ErrUnauthenticated) {
			s.logins.failed("", addr)
			s.log.Warn("bearer token refused", slog.String("addr", addr), slog.String("path", c.Path()))
			return unauthenticated(c, "the Bearer token is not valid (unknown, expired, revoked, or its user disabled)")
		}
		if err != nil {
			return err
		}
		c.Locals(userKey, u)
	} else if cookie := c.Cookies(sessionCookie); cookie != "" {
		u, err := s.verifier.Verify(ctx, cookie)
		switch {
		case errors.Is(err, account.ErrUnauthenticated):
			s.clearSession(c)
		case err != nil:
			return err
		default:
			c.Locals(userKey, u)
			c.Locals(viaCookie, true)
		}
	}
	if s.cfg.ReadAccess == ReadViewer && userOf(c) == nil && !openWithoutLogin(c) {
		if isPage(c) {
			return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
		}
		return unauthenticated(c, "this server's data needs a signed-in user: log in at /login, or send a Bearer token")
	}
	return c.Next()
}

// openWithoutLogin reports whether the request is one anyone may make
// when reads need a login: the login page and what it loads, signing in,
// and the health checks.
func openWithoutLogin(c *fiber.Ctx) bool {
	switch p := c.Path(); {
	case p == "/login", p == "/api/login", p == "/api/me", p == "/healthz", p == "/readyz":
		return true
	case p == "/static/login.js", p == "/static/common.js", p == "/static/app.css":
		return true
	}
	return false
}

// isPage reports whether the request is a browser's for a page.
func isPage(c *fiber.Ctx) bool {
	switch c.Path() {
	case "/wall", "/planner":
		return true
	case "/":
		return prefersHTML(c)
	}
	return false
}

// writer is the user a write is made as: 401 without one, 403 for a
// role that does not edit, and for a cookie session, 403 unless the
// request carries the session's CSRF token (another site can make a
// browser send the cookie, never the header).
func (s *Server) writer(c *fiber.Ctx) (*account.User, error) {
	u := userOf(c)
	if u == nil {
		return nil, unauthenticated(c, "changes need a signed-in user: log in at /login, or send a Bearer token")
	}
	if via, _ := c.Locals(viaCookie).(bool); via && !account.CheckCSRF(c.Cookies(sessionCookie), c.Get(csrfHeader)) {
		return nil, &statusError{fiber.StatusForbidden, "the request lacks the session's " + csrfHeader + " header (GET /api/me gives it)"}
	}
	if !u.MayEdit() {
		return nil, geo.Errorf(geo.EForbidden, "user %s has the role %s, which only reads", u.Name, u.Role)
	}
	return u, nil
}

// admin is writer for what only admins change (the things, plural, named
// in the refusal): any other user is EForbidden.
func (s *Server) admin(c *fiber.Ctx, things string) (*account.User, error) {
	u, err := s.writer(c)
	if err != nil {
		return nil, err
	}
	if u.Role != account.Admin {
		return nil, geo.Errorf(geo.EForbidden, "%s are set by admins; user %s has the role %s", things, u.Name, u.Role)
	}
	return u, nil
}

// meDoc is the answer of GET /api/me and POST /api/login.
type meDoc struct {
	User       *account.User `json:"user"`
	CSRF       *string       `json:"csrf"`
	ReadAccess string        `json:"read_access"`
}

// me serves GET /api/me: who the request is from (null when nobody), the
// CSRF token of its session, and whether reads need a login.
func (s *Server) me(c *fiber.Ctx) error {
	d := meDoc{User: userOf(c), ReadAccess: s.cfg.ReadAccess}
	if via, _ := c.Locals(viaCookie).(bool); via {
		t := account.CSRFToken(c.Cookies(sessionCookie))
		d.CSRF = &t
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(d)
}

// loginBody is what the login page posts.
type loginBody struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// maxLoginBytes bounds a login's body: a name and a token.
const maxLoginBytes = 4 << 10

// login serves POST /api/login: a user name and one of the user's tokens
// make a session, given as an HttpOnly, SameSite=Strict cookie (Secure
// over HTTPS), with its CSRF token in the answer. The body must be JSON,
// which a form on another site cannot send. Failures are logged and, per
// account and per address, limited (429 with Retry-After).
func (s *Server) login(c *fiber.Ctx) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return &statusError{fiber.StatusUnsupportedMediaType, "send the login as application/json: {\"name\": …, \"token\": …}"}
	}
	raw, err := readSmallBody(c, maxLoginBytes)
	if err != nil {
		return err
	}
	var b loginBody
	if err := json.Unmarshal(raw, &b); err != nil || b.Name == "" || b.Token == "" {
		return geo.Errorf(geo.EInvalid, "a login is a JSON object with a name and a token")
	}
	addr := c.IP()
	if wait := s.logins.blocked(b.Name, addr); wait > 0 {
		s.log.Warn("login refused: too many failures", slog.String("user", b.Name), slog.String("addr", addr))
		return tooManyAttempts(c, wait)
	}
	ctx := c.UserContext()
	u, err := s.verifier.Verify(ctx, b.Token)
	if err == nil && u.Name != b.Name {
		err = account.ErrUnauthenticated
	}
	if errors.Is(err, account.ErrUnauthenticated) {
		s.logins.failed(b.Name, addr)
		s.log.Warn("login failed", slog.String("user", b.Name), slog.String("addr", addr))
		return &statusError{fiber.StatusUnauthorized, "the name and token do not match an enabled user's valid token"}
	}
	if err != nil {
		return err
	}
	ttl := sessionTTL
	if u.Role == account.Viewer {
		ttl = kioskTTL
	}
	session, err := account.Create(ctx, s.pool, u.Name, account.Session, ttl)
	if err != nil {
		return err
	}
	s.logins.succeeded(b.Name)
	s.log.Info("login", slog.String("user", u.Name), slog.String("addr", addr))
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: session, Path: "/", MaxAge: int(ttl.Seconds()),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secure(c)})
	csrf := account.CSRFToken(session)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(meDoc{User: u, CSRF: &csrf, ReadAccess: s.cfg.ReadAccess})
}

// logout serves POST /api/logout: the session ends here and in the
// database, and the cookie is cleared.
func (s *Server) logout(c *fiber.Ctx) error {
	cookie := c.Cookies(sessionCookie)
	if cookie != "" {
		if !account.CheckCSRF(cookie, c.Get(csrfHeader)) {
			return &statusError{fiber.StatusForbidden, "the request lacks the session's " + csrfHeader + " header"}
		}
		if err := s.verifier.Revoke(c.UserContext(), cookie); err != nil {
			return err
		}
	}
	s.clearSession(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// clearSession tells the browser to drop the session cookie.
func (s *Server) clearSession(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.secure(c)})
}

// secure reports whether the session cookie must be Secure: the request
// came over HTTPS (as a trusted proxy says), or the public URL is HTTPS.
func (s *Server) secure(c *fiber.Ctx) bool {
	return c.Protocol() == "https" || strings.HasPrefix(s.cfg.PublicURL, "https:")
}

// readSmallBody reads a body of at most limit bytes, decoded.
func readSmallBody(c *fiber.Ctx, limit int64) ([]byte, error) {
	r, err := decodedBody(c, limit)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, geo.Errorf(geo.ETooLarge, "the body is larger than %d bytes, the most this endpoint takes", limit)
	}
	return b, nil
}

// tooManyAttempts is the 429 of an account or address that failed too
// often, with when to try again.
func tooManyAttempts(c *fiber.Ctx, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
	return &statusError{fiber.StatusTooManyRequests, "too many failed attempts; try again later"}
}

// loginLimits count failed logins per account and per address over a
// sliding window: past perAccount failures for one name, or perAddress
// from one address, attempts are refused until the oldest failure leaves
// the window. Each instance counts its own.
type loginLimits struct {
	window                 time.Duration
	perAccount, perAddress int
	now                    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time // "user:NAME" or "addr:ADDRESS" → times, oldest first
}

// newLoginLimits are the limits of a server: five failures per account
// and twenty per address in fifteen minutes.
func newLoginLimits() *loginLimits {
	return &loginLimits{window: 15 * time.Minute, perAccount: 5, perAddress: 20, now: time.Now,
		failures: map[string][]time.Time{}}
}

// blocked is how long attempts for name (if not "") from addr must wait;
// 0 when they may go on.
func (l *loginLimits) blocked(name, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait := l.waitLocked("addr:"+addr, l.perAddress, now)
	if name != "" {
		wait = max(wait, l.waitLocked("user:"+name, l.perAccount, now))
	}
	return wait
}

// waitLocked drops key's failures older than the window and says how
// long until fewer than limit remain.
func (l *loginLimits) waitLocked(key string, limit int, now time.Time) time.Duration {
	ts := l.failures[key]
	for len(ts) > 0 && now.Sub(ts[0]) >= l.window {
		ts = ts[1:]
	}
	if len(ts) == 0 {
		delete(l.failures, key)
		return 0
	}
	l.failures[key] = ts
	if len(ts) < limit {
		return 0
	}
	return l.window - now.Sub(ts[len(ts)-limit])
}

// maxTracked bounds the accounts and addresses whose failures are kept:
// past it the counts start afresh, so that failures from many addresses
// cannot grow the map without end.
const maxTracked = 100_000

// failed counts a failure for name (if not "") and addr.
func (l *loginLimits) failed(name, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.failures) >= maxTracked {
		clear(l.failures)
	}
	keys := []string{"addr:" + addr}
	if name != "" {
		keys = append(keys, "user:"+name)
	}
	for _, k := range keys {
		ts := append(l.failures[k], now)
		if len(ts) > 2*l.perAddress {
			ts = ts[len(ts)-2*l.perAddress:]
		}
		l.failures[k] = ts
	}
}

// succeeded forgets the account's failures: its owner knows the token.
func (l *loginLimits) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "user:"+name)
}
