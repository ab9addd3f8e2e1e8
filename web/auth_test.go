package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/web"
)

// TestSessionLoginCSRFLogout: the login page's session works for writes
// only with its CSRF token, and ends at logout.
func TestSessionLoginCSRFLogout(t *testing.T) {
	e := newEditSite(t, web.Config{})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	send := func(method, path, body string, header ...string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	status, header, body := send(http.MethodPost, "/api/login", `{"name":"zhang","token":"`+e.tokens["county"]+`"}`, "Content-Type", "application/json")
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	cookie := header.Get("Set-Cookie")
	for _, attr := range []string{"httponly", "samesite=strict", "path=/"} {
		if !strings.Contains(strings.ToLower(cookie), attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	var me struct {
		User struct{ Name string }
		CSRF string
	}
	if err := json.Unmarshal(body, &me); err != nil || me.User.Name != "zhang" || me.CSRF == "" {
		t.Fatalf("login answer %s: want the user and a CSRF token", body)
	}
	etag := e.etag(t, "villages", e.a.village)
	patch := func(csrf string) int {
		h := []string{"Content-Type", "application/merge-patch+json", "If-Match", etag}
		if csrf != "" {
			h = append(h, "X-CSRF-Token", csrf)
		}
		s, hdr, b := send(http.MethodPatch, "/collections/villages/items/"+e.a.village, `{"properties":{"cooperatives":3}}`, h...)
		if s == 200 {
			etag = hdr.Get("ETag")
		} else {
			t.Logf("PATCH: %d %s", s, b)
		}
		return s
	}
	if s := patch(""); s != 403 {
		t.Errorf("cookie session without CSRF token: %d, want 403", s)
	}
	if s := patch("forged"); s != 403 {
		t.Errorf("cookie session with a forged CSRF token: %d, want 403", s)
	}
	if s := patch(me.CSRF); s != 200 {
		t.Errorf("cookie session with its CSRF token: %d, want 200", s)
	}
	if s, _, b := send(http.MethodPost, "/api/logout", "", "X-CSRF-Token", me.CSRF); s != 204 {
		t.Fatalf("logout: %d %s", s, b)
	}
	if s := patch(me.CSRF); s != 401 {
		t.Errorf("after logout: %d, want 401", s)
	}
	if s, _, _ := send(http.MethodPost, "/api/login", `{"name":"zhang","token":"`+e.tokens["county"]+`"}`, "Content-Type", "text/plain"); s != 415 {
		t.Errorf("login as text/plain (what a form on another site sends): %d, want 415", s)
	}
}

// TestLoginRateLimit: five failures for one account block its logins,
// the right token included, with 429 and Retry-After; other accounts from
// the same address go on until the address's own limit.
func TestLoginRateLimit(t *testing.T) {
	e := newEditSite(t, web.Config{})
	login := func(name, token string) answer {
		return e.do(t, http.MethodPost, "/api/login", "", `{"name":"`+name+`","token":"`+token+`"}`, "Content-Type", "application/json")
	}
	for i := range 5 {
		if a := login("zhang", "bm_0000000000000000_wrong"); a.status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, a.status)
		}
	}
	a := login("zhang", e.tokens["county"])
	if a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Errorf("after five failures: %d, Retry-After %q; want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	if a := login("admin", e.tokens["admin"]); a.status != 200 {
		t.Errorf("another account from the same address: %d, want 200", a.status)
	}
	for i := range 15 {
		login(fmt.Sprint("nobody", i), "bm_0000000000000000_wrong")
	}
	if a := login("wall", e.tokens["viewer"]); a.status != 429 {
		t.Errorf("after twenty failures from the address: %d, want 429", a.status)
	}
	if a := e.do(t, http.MethodGet, "/collections/villages/items/"+e.a.village, "bm_0000000000000000_wrong", ""); a.status != 429 && a.status != 401 {
		t.Errorf("a wrong Bearer token: %d, want 401 or 429", a.status)
	}
}

// TestReadAccessViewer: with --read-access viewer, nothing is read
// without a user (pages send to the login page), a viewer's kiosk token
// reads, and answers are private: one cached for a user is never served
// to a request without one.
func TestReadAccessViewer(t *testing.T) {
	e := newEditSite(t, web.Config{ReadAccess: web.ReadViewer, CacheBytes: 1 << 20, TileCacheBytes: 1 << 20})
	paths := []string{"/collections/villages/items/" + e.a.village, "/collections/villages/items?limit=5",
		"/tiles/villages/8/207/107.mvt", "/api/regions/" + e.a.code, "/api/audit", "/api/search?q=" + e.a.code}
	for _, p := range paths {
		a := e.do(t, http.MethodGet, p, e.tokens["viewer"], "")
		if a.status != 200 && a.status != 204 {
			t.Errorf("viewer GET %s: %d, want 200: %s", p, a.status, a.body)
		}
		if cc := a.header.Get("Cache-Control"); a.status == 200 && !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store") {
			t.Errorf("viewer GET %s: Cache-Control %q, want private", p, cc)
		}
		if a := e.do(t, http.MethodGet, p, "", ""); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("anonymous GET %s (cached for the viewer): %d, want 401 with WWW-Authenticate", p, a.status)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/wall", "/planner"} {
		resp, err := noRedirect.Get(e.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("anonymous %s: %d → %q, want 303 to the login page", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/login", "/static/login.js", "/api/me", "/healthz"} {
		if a := e.do(t, http.MethodGet, p, "", ""); a.status != 200 {
			t.Errorf("anonymous %s: %d, want 200", p, a.status)
		}
	}
}
