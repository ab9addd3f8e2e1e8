package web_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

var screenshots = flag.String("screenshots", "", "also write the pages' screenshots into this directory (e.g. ../docs)")

// listen serves the app on a loopback port until the test ends and
// returns its base URL.
func listen(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	s, addr := serveAt(t, pool, "127.0.0.1:0")
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return "http://" + addr
}

// serveAt starts a server over pool listening on addr (a port of 0 picks
// a free one) and returns it with the address it listens on.
func serveAt(t *testing.T, pool *pgxpool.Pool, addr string) (*web.Server, string) {
	return serveRooted(t, pool, addr, "")
}

// serveRooted is serveAt with the pages opening on region root ("": the
// data's top), as --root sets it.
func serveRooted(t *testing.T, pool *pgxpool.Pool, addr, root string) (*web.Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := web.New(web.Config{RequestTimeout: 30 * time.Second, BodyLimit: 1 << 20, CacheBytes: 64 << 20, TileCacheBytes: 64 << 20, Root: root}, pool, tiles.NewService(tiles.Config{}, pool), log)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go s.App().Listener(ln)
	return s, ln.Addr().String()
}

// browser is a headless Chromium looking at one server. It records every
// console error and every request to a host other than the server.
type browser struct {
	ctx  context.Context
	base string

	mu      sync.Mutex
	errors  []string
	foreign []string
	// refusals are the answers a test provokes on purpose (a 422 to a
	// bad value): Chromium logs each as an error, which checkClean
	// then lets pass.
	refusals []refusal
}

// refusal is an answer of status to a request whose URL ends in path.
type refusal struct {
	path   string
	status int
}

// newBrowser starts Chromium from Debian's package. Without it the test
// fails, saying how to install it: nothing is skipped silently.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed for the page tests: apt-get install -y chromium fonts-noto-cjk (make test installs them): %v", err)
	}
	if _, err := os.Stat("dist/vendor/maplibre-gl.js"); err != nil {
		t.Fatalf("the front end is not built: run make web (npm ci and npm run build in web/): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// No UserDataDir: the allocator makes a fresh profile and removes
		// it once Chromium has exited.
		chromedp.WindowSize(1920, 1080),
		// Software WebGL: the machines have no GPU.
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		chromedp.Flag("ignore-gpu-blocklist", true),
		// Nothing of Chromium's own may reach out: the only host is ours.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, base: base}
	chromedp.ListenTarget(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console: "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, "exception: "+e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError && !b.refused(e.Entry) {
				b.errors = append(b.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			u := e.Request.URL
			if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
				b.foreign = append(b.foreign, u)
			}
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), cdplog.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// run runs chromedp actions with a deadline, failing the test on error.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (console errors so far: %v)", what, err, b.consoleErrors())
	}
}

// open loads a page and waits until its map has drawn everything.
func (b *browser) open(t *testing.T, path string) {
	t.Helper()
	b.run(t, "open "+path, chromedp.Navigate(b.base+path))
	b.waitIdle(t)
}

// waitIdle waits for the map's idle event after the last change.
func (b *browser) waitIdle(t *testing.T) {
	t.Helper()
	b.run(t, "wait for the map to be idle",
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Poll(`window.battlemap && window.battlemap.idle && window.battlemap.map.loaded()`, nil, chromedp.WithPollingTimeout(80*time.Second)))
}

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(t *testing.T, expr string, out any) {
	t.Helper()
	b.run(t, "evaluate "+expr, chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// rendered counts the features drawn by each style layer.
//
// A page sets its first view once it knows its region, which may be after
// the map was first idle at the style's own view: each layer is given up
// to 20 s to draw something before it is counted.
func (b *browser) rendered(t *testing.T, layers ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, l := range layers {
		expr := fmt.Sprintf(`window.battlemap.map.queryRenderedFeatures({layers: [%q]}).length`, l)
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		_ = chromedp.Run(ctx, chromedp.Poll(expr+` > 0`, nil)) // a timeout leaves the count to say 0
		cancel()
		var n int
		b.eval(t, expr, &n)
		out[l] = n
	}
	return out
}

// screenshot saves the viewport as name.png among the test's artefacts
// (and in -screenshots, when set).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	var png []byte
	b.run(t, "screenshot", chromedp.CaptureScreenshot(&png))
	dirs := []string{filepath.Join(os.TempDir(), "battlemap-screenshots")}
	if *screenshots != "" {
		dirs = append(dirs, *screenshots)
	}
	for _, d := range dirs {
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
	t.Logf("screenshot %s.png in %v", name, dirs)
}

// expectRefusal tells the browser that the test provokes answers of
// status to path (and only those): Chromium's log of them is no error.
func (b *browser) expectRefusal(path string, status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refusals = append(b.refusals, refusal{path, status})
}

// refused reports whether the log entry is Chromium's note of an
// expected refusal; b.mu is held.
func (b *browser) refused(e *cdplog.Entry) bool {
	if e.Source != cdplog.SourceNetwork {
		return false
	}
	for _, r := range b.refusals {
		if strings.HasSuffix(e.URL, r.path) && strings.Contains(e.Text, fmt.Sprintf("status of %d", r.status)) {
			return true
		}
	}
	return false
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// checkClean fails on any console error or request to another host.
func (b *browser) checkClean(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("console error: %s", e)
	}
	for _, u := range b.foreign {
		t.Errorf("request to a host other than the server: %s", u)
	}
}

// signIn fills in and sends the login form as name with token, from the
// login page asked to return to next.
func (b *browser) signIn(name, token, next string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(b.base + "/login?next=" + url.QueryEscape(next)),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#token", token),
		chromedp.Click(`#login button[type="submit"]`),
	}
}

// click sends a real mouse click at the screen position of lon, lat.
func (b *browser) clickAt(t *testing.T, lon, lat float64) {
	t.Helper()
	var p struct{ X, Y float64 }
	b.eval(t, fmt.Sprintf(`(() => { const r = document.getElementById("map").getBoundingClientRect();
		const p = window.battlemap.map.project([%f, %f]); return {X: p.x + r.left, Y: p.y + r.top}; })()`, lon, lat), &p)
	b.run(t, "click", chromedp.MouseClickXY(p.X, p.Y))
}
