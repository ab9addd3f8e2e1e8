package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// point is a region's or site's point.
func point(t *testing.T, pool *pgxpool.Pool, sql, code string) (lon, lat float64) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), sql, code).Scan(&lon, &lat); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return lon, lat
}

// legendColour is the legend's colour for a village status.
func legendColour(status string) string {
	for _, s := range tiles.Legend {
		if s.ID != "village_status" {
			continue
		}
		for _, c := range s.Classes {
			if c.Value == status {
				return c.Color
			}
		}
	}
	return ""
}

func TestWallPage(t *testing.T) {
	pool := pgtest.New(t)
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/wall")
	b.run(t, "wait for the KPIs", chromedp.Poll(`document.querySelectorAll(".kpi[data-value]").length === 6`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.waitIdle(t)
	for layer, n := range b.rendered(t, "counties-fill", "counties-line", "counties-label", "sites-circle", "projects-cluster") {
		if n == 0 {
			t.Errorf("wall: style layer %s drew nothing", layer)
		}
	}
	want := map[string]int64{
		"poor_population":      count(t, pool, `SELECT sum(poor_population) FROM villages`),
		"villages_not_exited":  count(t, pool, `SELECT count(*) FROM regions WHERE level = 'village' AND poverty_status = 'not_exited'`),
		"site_moved_in_people": count(t, pool, `SELECT sum(moved_in_people) FROM sites`),
		"projects_completed":   count(t, pool, `SELECT count(*) FROM projects WHERE status = 'completed'`),
		"funds_disbursed":      count(t, pool, `SELECT sum(funds_disbursed) FROM projects`),
	}
	var shown map[string]float64
	b.eval(t, `Object.fromEntries([...document.querySelectorAll(".kpi")].map((k) => [k.dataset.key, Number(k.dataset.value)]))`, &shown)
	for key, v := range want {
		if shown[key] != float64(v) {
			t.Errorf("wall KPI %s = %v, database says %v", key, shown[key], v)
		}
	}
	// Each figure stands beside where it stood when the year reported on
	// began (at the close of its first day): 2016, the year of the demo's
	// targets, whose first instant is where the map's history begins.
	var start map[string]string
	b.eval(t, `Object.fromEntries([...document.querySelectorAll(".kpi")].map((k) => [k.dataset.key, k.dataset.start]))`, &start)
	for key, sql := range map[string]string{
		"poor_population":     `SELECT sum(poor_population) FROM villages_history WHERE valid @> '2016-01-01 23:59:59.999999+08'::timestamptz`,
		"villages_not_exited": `SELECT count(*) FROM regions_history WHERE level = 'village' AND poverty_status = 'not_exited' AND valid @> '2016-01-01 23:59:59.999999+08'::timestamptz`,
	} {
		if want := strconv.FormatInt(count(t, pool, sql), 10); start[key] != want {
			t.Errorf("wall KPI %s at the start of 2016 = %q, the history says %s", key, start[key], want)
		}
	}
	var title string
	b.eval(t, `document.getElementById("title").textContent + "|" + document.title`, &title)
	if title != "遵义市脱贫攻坚作战图|遵义市脱贫攻坚作战图 · 指挥中心" {
		t.Errorf("wall's title and page title: %q, want the top region's (遵义市)", title)
	}
	var clock string
	b.eval(t, `document.getElementById("clock").textContent + "|" + document.getElementById("changed").textContent`, &clock)
	if len(clock) < 10 || clock[len(clock)-1] == '-' {
		t.Errorf("clock and last change: %q", clock)
	}
	b.screenshot(t, "wall")

	// The same wall on a 3840×2160 screen: everything still fits, larger.
	var fontBefore, fontAfter float64
	b.eval(t, `parseFloat(getComputedStyle(document.body).fontSize)`, &fontBefore)
	b.run(t, "4K viewport", chromedp.EmulateViewport(3840, 2160))
	b.waitIdle(t)
	b.eval(t, `parseFloat(getComputedStyle(document.body).fontSize)`, &fontAfter)
	var fits bool
	b.eval(t, `[...document.querySelectorAll(".kpi, #legend, #clock")].every((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.bottom <= innerHeight && r.right <= innerWidth; })`, &fits)
	if !fits || fontAfter < 1.5*fontBefore {
		t.Errorf("at 3840×2160: KPIs, legend and clock fit: %v; type %vpx (was %vpx at 1920×1080)", fits, fontAfter, fontBefore)
	}
	if n := b.rendered(t, "counties-fill")["counties-fill"]; n == 0 {
		t.Error("at 3840×2160 the map draws no county")
	}
	b.checkClean(t)
}

func TestDrillDownPage(t *testing.T) {
	pool := pgtest.New(t)
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/")
	regionCode := func() string {
		var code string
		b.eval(t, `window.battlemap.region ? window.battlemap.region.code : ""`, &code)
		return code
	}
	waitRegion := func(code string) {
		t.Helper()
		b.run(t, "wait for region "+code, chromedp.Poll(fmt.Sprintf(`window.battlemap.region && window.battlemap.region.code === %q`, code), nil, chromedp.WithPollingTimeout(30*time.Second)))
		b.waitIdle(t)
	}
	waitRegion("520300")

	// Click a county on the map: the breadcrumb and the child list follow.
	lon, lat := point(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`, "520322")
	b.clickAt(t, lon, lat)
	waitRegion("520322")
	var crumbs, firstChild string
	b.eval(t, `[...document.querySelectorAll("#crumbs button, #crumbs [aria-current]")].map((e) => e.textContent).join("›")`, &crumbs)
	b.eval(t, `document.querySelector("#children-table tbody tr").dataset.code`, &firstChild)
	if crumbs != "遵义市›桐梓县" || len(firstChild) != 9 || firstChild[:6] != "520322" {
		t.Errorf("after clicking 桐梓县: breadcrumb %q, first child %q", crumbs, firstChild)
	}
	for layer, n := range b.rendered(t, "townships-fill", "villages-circle") {
		if n == 0 {
			t.Errorf("county view: style layer %s drew nothing", layer)
		}
	}

	// Into 花茂村's township by the keyboard, then click the village.
	b.run(t, "open 枫香镇", chromedp.Navigate(b.base+"/?region=520304116"))
	waitRegion("520304116")
	lon, lat = point(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`, "520304116203")
	b.eval(t, fmt.Sprintf(`window.battlemap.map.jumpTo({center: [%f, %f], zoom: 13}), true`, lon, lat), new(bool))
	b.waitIdle(t)
	var colour string
	b.eval(t, `(() => { const f = window.battlemap.map.queryRenderedFeatures({layers: ["villages-circle"]}).find((f) => f.properties.code === "520304116203");
		if (!f) return "";
		const c = f.layer.paint["circle-color"];
		const hex = (x) => Math.round(x * 255).toString(16).padStart(2, "0").toUpperCase();
		return typeof c === "string" ? c.toUpperCase() : "#" + hex(c.r) + hex(c.g) + hex(c.b); })()`, &colour)
	var status string
	if err := pool.QueryRow(context.Background(), `SELECT poverty_status FROM regions WHERE code = '520304116203'`).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if colour != legendColour(status) {
		t.Errorf("花茂村 (%s) is drawn %q, the legend says %s", status, colour, legendColour(status))
	}
	b.clickAt(t, lon, lat)
	waitRegion("520304116203")
	var panel string
	b.eval(t, `document.querySelector('[data-field="poor_population"]').textContent`, &panel)
	var households, people int
	if err := pool.QueryRow(context.Background(), `SELECT poor_households, poor_population FROM villages WHERE code = '520304116203'`).Scan(&households, &people); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s 户 / %s 人", thousands(households), thousands(people)); panel != want {
		t.Errorf("village panel says %q, database says %q", panel, want)
	}
	// Nobody is signed in: the village's history, no edit button, and a
	// way to sign in that comes back here.
	b.run(t, "wait for the history", chromedp.Poll(`document.querySelectorAll("#history > li").length > 0`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var edit bool
	b.eval(t, `!!document.getElementById("edit-village")`, &edit)
	if edit {
		t.Error("signed out, the village panel has an edit button")
	}
	var login string
	b.run(t, "follow 登录", chromedp.Click("#user a"), chromedp.WaitVisible("#token"), chromedp.Evaluate(`location.pathname + location.search`, &login))
	if want := "/login?next=" + url.QueryEscape("/?region=520304116203"); login != want {
		t.Errorf("登录 leads to %q, want %q", login, want)
	}

	// Search 花茂村 from the city: the map flies there.
	b.run(t, "back to the city", chromedp.Navigate(b.base+"/"))
	waitRegion("520300")
	b.run(t, "search", chromedp.SendKeys("#q", "花茂村"),
		chromedp.Poll(`document.querySelectorAll("#results li").length > 0`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.SendKeys("#q", kb.Enter))
	waitRegion("520304116203")
	var centre struct{ Lon, Lat float64 }
	b.eval(t, `(() => { const c = window.battlemap.map.getCenter(); return {Lon: c.lng, Lat: c.lat}; })()`, &centre)
	if math.Abs(centre.Lon-lon) > 0.01 || math.Abs(centre.Lat-lat) > 0.01 {
		t.Errorf("after searching 花茂村 the map is at %v, want near %f, %f", centre, lon, lat)
	}
	if regionCode() != "520304116203" {
		t.Errorf("region %s after the search", regionCode())
	}
	// Back returns to the city, as the URL holds the state.
	b.run(t, "back", chromedp.NavigateBack())
	waitRegion("520300")
	b.screenshot(t, "drilldown")
	b.checkClean(t)
}

func TestPlannerPage(t *testing.T) {
	pool := pgtest.New(t)
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/planner")
	if n := b.rendered(t, "sites-circle")["sites-circle"]; n == 0 {
		t.Error("planner: no site drawn")
	}
	var code string
	var capacity int
	if err := pool.QueryRow(context.Background(), `SELECT code, capacity_people FROM sites ORDER BY capacity_people DESC, code LIMIT 1`).Scan(&code, &capacity); err != nil {
		t.Fatal(err)
	}
	openSite(t, b, pool, code)
	var shown string
	b.eval(t, `document.querySelector('[data-field="capacity_people"]').textContent`, &shown)
	if want := thousands(capacity) + " 人"; len(shown) < len(want) || shown[:len(want)] != want {
		t.Errorf("site panel capacity %q, database says %s", shown, want)
	}
	if n := b.rendered(t, "flows-line")["flows-line"]; n == 0 {
		t.Error("planner: the selected site's flows are not drawn")
	}
	var rows int
	b.eval(t, `document.querySelectorAll("#unassigned tbody tr").length`, &rows)
	unassigned := int(count(t, pool, `SELECT count(*) FROM regions r JOIN villages v USING (code)
		WHERE r.poverty_status = 'not_exited' AND v.poor_population > 0 AND NOT EXISTS (SELECT FROM relocation_assignments a WHERE a.village_code = r.code)`))
	if rows != min(unassigned, 200) {
		t.Errorf("unassigned villages listed: %d, database has %d", rows, unassigned)
	}
	// Under the demo's city the region is chosen from one select, the
	// counties', the city as a whole first.
	var choice string
	b.eval(t, `[...document.querySelectorAll("#regions select")].map((s) => s.id + ":" + s.parentElement.firstChild.textContent + ":" + s.options[0].textContent).join(",")`, &choice)
	if want := "county:县（区、市）:全市"; choice != want {
		t.Errorf("the region's selects: %s, want %s", choice, want)
	}
	b.screenshot(t, "planner")
	b.checkClean(t)
}

// TestLoginPage: a wrong token is refused with the server's words in
// the alert, and a ?next= naming another host sends the signed-in user to
// the drill-down instead.
func TestLoginPage(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "admin1", Role: account.Admin}); err != nil {
		t.Fatal(err)
	}
	tok, err := account.Create(ctx, pool, "admin1", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, listen(t, pool))
	b.expectRefusal("/api/login", http.StatusUnauthorized)
	var alert string
	b.run(t, "sign in with a wrong token",
		chromedp.Navigate(b.base+"/login?next="+url.QueryEscape("//example.com/x")),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#name", "admin1"),
		chromedp.SendKeys("#token", tok+"x"),
		chromedp.Click(`#login button[type="submit"]`),
		chromedp.Poll(`document.getElementById("problem").textContent !== ""`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text("#problem", &alert))
	if alert == "" || alert == "请输入用户名和访问令牌。" {
		t.Errorf("a wrong token: the alert says %q, want the server's detail", alert)
	}
	var path string
	b.run(t, "sign in",
		chromedp.SetValue("#token", tok),
		chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#children-table"),
		chromedp.Evaluate(`location.origin + location.pathname`, &path))
	if path != b.base+"/" {
		t.Errorf("after signing in with next=//example.com/x the browser is at %s, want %s/", path, b.base)
	}
	b.checkClean(t)
}

// TestPlannerEditPage signs in as a county user and edits a site of that
// county in the planner: the server's reason beside a refused value, then
// the saved value in the panel and first in the site's history.
func TestPlannerEditPage(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var code, county string
	var progress int
	if err := pool.QueryRow(ctx, `SELECT code, county_code, progress FROM sites ORDER BY capacity_people DESC, code LIMIT 1`).Scan(&code, &county, &progress); err != nil {
		t.Fatal(err)
	}
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "li", Role: account.County, Counties: []string{county}}); err != nil {
		t.Fatal(err)
	}
	tok, err := account.Create(ctx, pool, "li", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := listen(t, pool)
	item := "/collections/sites/items/" + url.PathEscape(code)
	reason := refusalReason(t, base+item, tok, map[string]any{"progress": 101}, "progress")

	b := newBrowser(t, base)
	b.expectRefusal(item, http.StatusUnprocessableEntity)
	b.run(t, "sign in", b.signIn("li", tok, "/planner"), chromedp.WaitVisible("#unassigned"))
	b.waitIdle(t)
	openSite(t, b, pool, code)

	b.run(t, "submit a bad value", chromedp.Click("#edit-site"), chromedp.WaitVisible("#edit-progress"),
		chromedp.SetValue("#edit-progress", "101"), chromedp.Click(`form.edit button[type="submit"]`))
	fieldError := `document.querySelector('.field-error[data-field="progress"]').textContent`
	b.run(t, "wait for the server's reason", chromedp.Poll(fieldError+` !== ""`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var beside string
	b.eval(t, fieldError, &beside)
	if beside != reason {
		t.Errorf("beside progress: %q, the server says %q", beside, reason)
	}

	saved := progress + 1
	if saved > 100 {
		saved = progress - 1
	}
	b.run(t, "submit a good value",
		chromedp.SetValue("#edit-progress", strconv.Itoa(saved)),
		chromedp.Click(`form.edit button[type="submit"]`),
		chromedp.Poll(`document.getElementById("status").textContent === "已保存" && !document.querySelector("form.edit")`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	if n := count(t, pool, `SELECT progress FROM sites WHERE code = $1`, code); n != int64(saved) {
		t.Errorf("after saving, progress is %d, want %d", n, saved)
	}
	var panel string
	b.eval(t, `document.querySelector('#site [data-field="progress"]').textContent`, &panel)
	if want := fmt.Sprintf("%d%% ", saved); panel != want {
		t.Errorf("the panel shows progress %q, want %q", panel, want)
	}
	b.run(t, "wait for the history", chromedp.Poll(`document.querySelector("#history > li[data-actor]") && document.querySelector("#history > li").dataset.actor === "li"`,
		nil, chromedp.WithPollingTimeout(20*time.Second)))
	var change string
	b.eval(t, `(document.querySelector('#history > li [data-field="progress"]') || {}).textContent || ""`, &change)
	if want := fmt.Sprintf("建设进度：%d → %d", progress, saved); change != want {
		t.Errorf("first history entry says %q, want %q", change, want)
	}
	b.checkClean(t)
}

// openSite clicks site code on the planner's map until its panel opens.
func openSite(t *testing.T, b *browser, pool *pgxpool.Pool, code string) {
	t.Helper()
	// The page moves the map to the city once it has the city's box,
	// before it counts the villages without a site: wait for the count,
	// or that move may undo the jump to the site.
	b.run(t, "wait for the planner's first view", chromedp.Poll(`document.getElementById("unassigned-count").textContent !== ""`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	lon, lat := point(t, pool, `SELECT ST_X(geom), ST_Y(geom) FROM sites WHERE code = $1`, code)
	b.eval(t, fmt.Sprintf(`window.battlemap.map.jumpTo({center: [%f, %f], zoom: 12}), true`, lon, lat), new(bool))
	b.waitIdle(t)
	// A click while the map still settles can go astray: try a few times.
	selected := fmt.Sprintf(`!!window.battlemap.selectedSite && window.battlemap.selectedSite.code === %q`, code)
	// On a loaded machine the site may not be drawn yet when the map says
	// idle: click only once it is under the cursor.
	drawn := fmt.Sprintf(`window.battlemap.map.queryRenderedFeatures(window.battlemap.map.project([%f, %f]), {layers: ["sites-circle"]}).some(f => f.properties.code === %q)`, lon, lat, code)
	for try := 0; ; try++ {
		b.run(t, "wait for site "+code+" under the cursor", chromedp.Poll(drawn, nil, chromedp.WithPollingTimeout(60*time.Second)))
		b.clickAt(t, lon, lat)
		var ok bool
		b.run(t, "wait for the site panel", chromedp.Sleep(time.Second), chromedp.Evaluate(selected, &ok))
		if ok {
			break
		}
		if try == 4 {
			var page string
			b.eval(t, `document.getElementById("status").textContent + " | " + document.getElementById("site").textContent.slice(0, 60)`, &page)
			t.Fatalf("clicking site %s at %f, %f did not open its panel; the page says %q", code, lon, lat, page)
		}
		b.waitIdle(t)
	}
	b.waitIdle(t)
}

// thousands writes n with comma separators, as the pages do for zh-CN.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestWallRecovers stops the server under a running wall and starts it
// again at the same address: the wall must say it lost the connection,
// then recover by itself.
func TestWallRecovers(t *testing.T) {
	pool := pgtest.New(t)
	s, addr := serveAt(t, pool, "127.0.0.1:0")
	b := newBrowser(t, "http://"+addr)
	b.open(t, "/wall")
	b.run(t, "wait for the KPIs", chromedp.Poll(`document.querySelectorAll(".kpi[data-value]").length === 6`, nil, chromedp.WithPollingTimeout(30*time.Second)))

	s.Shutdown(context.Background())
	b.run(t, "wait for the wall to notice", chromedp.Poll(`document.body.classList.contains("offline") && document.getElementById("status").textContent.includes("连接中断")`,
		nil, chromedp.WithPollingTimeout(40*time.Second)))

	s, _ = serveAt(t, pool, addr)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	b.run(t, "wait for the wall to recover", chromedp.Poll(`!document.body.classList.contains("offline") && document.getElementById("status").textContent === ""`,
		nil, chromedp.WithPollingTimeout(40*time.Second)))
	// The wall reads its figures again and reloads its tiles a moment
	// after it is back (a burst of changes redraws once): rendered waits
	// for the counties, which an idle map may not show yet.
	if n := b.rendered(t, "counties-fill")["counties-fill"]; n == 0 {
		t.Error("after recovering the wall draws no county")
	}
}

// TestDrillDownEditPage signs in as a county user, edits a village of
// that county in the drill-down, sees the server's reason beside the
// field it refused, then the saved value and its history entry.
func TestDrillDownEditPage(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var code, county string
	var population, poor, cooperatives int
	if err := pool.QueryRow(ctx, `SELECT v.code, v.county_code, v.population, v.poor_population, v.cooperatives
		FROM villages v JOIN regions r USING (code) WHERE r.poverty_status = 'not_exited' ORDER BY v.code LIMIT 1`).
		Scan(&code, &county, &population, &poor, &cooperatives); err != nil {
		t.Fatal(err)
	}
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "zhang", Role: account.County, Counties: []string{county}}); err != nil {
		t.Fatal(err)
	}
	tok, err := account.Create(ctx, pool, "zhang", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := listen(t, pool)
	item := "/collections/villages/items/" + code
	// What the server says of more poor people than people, asked
	// directly with the token: the page must show this reason.
	bad := population + 1
	reason := refusalReason(t, base+item, tok, map[string]any{"poor_population": bad}, "poor_population")

	b := newBrowser(t, base)
	b.expectRefusal(item, http.StatusUnprocessableEntity)
	b.run(t, "sign in", b.signIn("zhang", tok, "/?region="+code))
	// The drill-down of the village, with the edit button for zhang.
	b.run(t, "wait for the drill-down", chromedp.WaitVisible("#edit-village"))
	b.run(t, "wait for the village", chromedp.Poll(fmt.Sprintf(`location.pathname === "/" && !!window.battlemap && !!window.battlemap.region && window.battlemap.region.code === %q`, code),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.waitIdle(t)
	var who string
	b.eval(t, `document.querySelector("#user [data-user]") ? document.querySelector("#user").textContent : ""`, &who)
	if who != "zhang（县级）· 退出" {
		t.Errorf("header says %q, want zhang（县级）· 退出", who)
	}

	// A bad value: the server's reason beside the field, the problem on top.
	b.run(t, "open the form", chromedp.Click("#edit-village"), chromedp.WaitVisible("#edit-poor_population"))
	var shown int
	b.eval(t, `Number(document.getElementById("edit-cooperatives").value)`, &shown)
	if shown != cooperatives {
		t.Errorf("the form shows %d cooperatives, the database %d", shown, cooperatives)
	}
	b.run(t, "submit a bad value", chromedp.SetValue("#edit-poor_population", strconv.Itoa(bad)), chromedp.Click(`form.edit button[type="submit"]`))
	fieldError := `document.querySelector('.field-error[data-field="poor_population"]').textContent`
	b.run(t, "wait for the server's reason", chromedp.Poll(fieldError+` !== ""`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var beside, top string
	b.eval(t, fieldError, &beside)
	b.eval(t, `document.querySelector('form.edit').previousElementSibling.textContent`, &top)
	if beside != reason || top == "" {
		t.Errorf("beside poor_population: %q (the server says %q); on top: %q", beside, reason, top)
	}
	b.eval(t, `document.querySelector('.field-error[data-field="poor_population"]').scrollIntoView({block: "center"}), true`, new(bool))
	b.screenshot(t, "drilldown-edit")
	if n := count(t, pool, `SELECT poor_population FROM villages WHERE code = $1`, code); n != int64(poor) {
		t.Errorf("after the refusal poor_population is %d, was %d", n, poor)
	}

	// Someone else changes the village meanwhile: the save is refused
	// (412), and the form says so and reloads what the server now holds.
	b.expectRefusal(item, http.StatusPreconditionFailed)
	if _, err := geo.Change(ctx, pool, geo.Actor{Name: "wang", All: true}, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE villages SET population = population + 10 WHERE code = $1`, code)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b.run(t, "submit over another's change",
		chromedp.SetValue("#edit-poor_population", strconv.Itoa(poor)),
		chromedp.SetValue("#edit-cooperatives", strconv.Itoa(cooperatives+1)),
		chromedp.Click(`form.edit button[type="submit"]`),
		chromedp.Poll(fmt.Sprintf(`document.querySelector("form.edit").previousElementSibling.textContent.includes("已被他人修改") && document.getElementById("edit-population").value === "%d"`, population+10),
			nil, chromedp.WithPollingTimeout(20*time.Second)))

	// A good value: saved, shown in the panel, first in the history.
	b.run(t, "submit a good value",
		chromedp.SetValue("#edit-poor_population", strconv.Itoa(poor)),
		chromedp.SetValue("#edit-cooperatives", strconv.Itoa(cooperatives+1)),
		chromedp.Click(`form.edit button[type="submit"]`),
		chromedp.Poll(`document.getElementById("status").textContent === "已保存" && !document.querySelector("form.edit")`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	if n := count(t, pool, `SELECT cooperatives FROM villages WHERE code = $1`, code); n != int64(cooperatives+1) {
		t.Errorf("after saving, cooperatives is %d, want %d", n, cooperatives+1)
	}
	var panel string
	b.eval(t, `document.querySelector('#facts [data-field="cooperatives"]').textContent`, &panel)
	if want := thousands(cooperatives+1) + " 个"; panel != want {
		t.Errorf("the panel shows %q cooperatives, want %q", panel, want)
	}
	// Read in the poll itself: the panel is drawn again as the change's
	// event arrives, and its history refills a moment after.
	var first struct{ Actor, Change string }
	b.run(t, "wait for the history", chromedp.Poll(`(() => { const li = document.querySelector("#history > li");
		const c = li && li.querySelector('[data-field="cooperatives"]');
		return c ? {Actor: li.dataset.actor, Change: c.textContent} : null; })()`, &first, chromedp.WithPollingTimeout(20*time.Second)))
	if want := fmt.Sprintf("合作社：%s → %s", thousands(cooperatives), thousands(cooperatives+1)); first.Actor != "zhang" || first.Change != want {
		t.Errorf("first history entry: %+v, want actor zhang and %q", first, want)
	}

	// 退出 ends the session: the header offers to sign in again.
	b.run(t, "sign out", chromedp.Click("#user button"), chromedp.WaitVisible("#user a"))
	var signedIn bool
	b.eval(t, `fetch("/api/me").then((r) => r.json()).then((m) => m.user !== null)`, &signedIn)
	if signedIn {
		t.Error("after 退出, /api/me still names a user")
	}
	b.checkClean(t)
}

// refusalReason PATCHes the feature at itemURL with properties as the
// token's user, expects a 422 and returns the reason it gives for field.
func refusalReason(t *testing.T, itemURL, token string, properties map[string]any, field string) string {
	t.Helper()
	send := func(method string, body []byte, header ...string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, itemURL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, _ := send(http.MethodGet, nil)
	etag := resp.Header.Get("ETag")
	patch, _ := json.Marshal(map[string]any{"properties": properties})
	resp, body := send(http.MethodPatch, patch, "Content-Type", "application/merge-patch+json", "If-Match", etag)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("PATCH %s %s: status %d, want 422; %s", itemURL, patch, resp.StatusCode, body)
	}
	var problem struct {
		InvalidParams []struct{ Name, Reason string } `json:"invalid-params"`
	}
	if err := json.Unmarshal(body, &problem); err != nil {
		t.Fatalf("PATCH %s: %v; %s", itemURL, err, body)
	}
	for _, p := range problem.InvalidParams {
		if p.Name == field {
			return p.Reason
		}
	}
	t.Fatalf("PATCH %s %s: no reason for %s in %s", itemURL, patch, field, body)
	return ""
}

// TestWallFollowsChanges: a PATCH through one server reaches a wall
// served by another, a process of its own, within two seconds, by the
// event stream, without a reload: the village's dot takes its new status
// (and so its colour), and the KPI of poverty villages not exited moves.
func TestWallFollowsChanges(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	edits := newEditBase(t, pool)
	b := newBrowser(t, startProcess(t, pool))
	b.open(t, "/wall")
	b.run(t, "wait for the KPIs", chromedp.Poll(`document.querySelectorAll(".kpi[data-value]").length === 6`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var village string
	var lon, lat float64
	if err := pool.QueryRow(ctx, `SELECT code, ST_X(point), ST_Y(point) FROM regions
WHERE level = 'village' AND poverty_status = 'not_exited' ORDER BY code LIMIT 1`).Scan(&village, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	// The dot of the village as the wall draws it, the map held over it
	// (the tour would move on).
	dot := fmt.Sprintf(`(() => { const m = window.battlemap.map; m.jumpTo({center: [%f, %f], zoom: 13});
		const f = m.queryRenderedFeatures({layers: ["villages-circle"]}).find((f) => f.properties.code === %q);
		return f ? f.properties.status : ""; })()`, lon, lat, village)
	b.run(t, "wait for the village's dot", chromedp.Poll(dot+` === "not_exited"`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var before float64
	b.eval(t, `Number(document.querySelector('.kpi[data-key="villages_not_exited"]').dataset.value)`, &before)
	a := edits.patch(t, edits.tokens["admin"], "villages", village, edits.etag(t, "villages", village), `{"poverty_status": "exited", "exit_year": 2016, "poor_households": 0, "poor_population": 0}`)
	if a.status != 200 {
		t.Fatalf("PATCH through the other server: %d %s", a.status, a.body)
	}
	start := time.Now()
	b.run(t, "wait for the wall to follow", chromedp.Poll(fmt.Sprintf(`Number(document.querySelector('.kpi[data-key="villages_not_exited"]').dataset.value) === %v && %s === "exited"`,
		before-1, dot), nil, chromedp.WithPollingTimeout(2*time.Second)))
	t.Logf("PATCH on one server → the KPI and the dot on the wall of another process: %s", time.Since(start))
	b.checkClean(t)
}

// TestPlannerSuitabilityPage is issue 14's planner on the demo data: a
// county user of 习水县, which has 39 poverty villages without a site,
// shows the suitability surface (drawn under the sites), clicks a spot
// and reads why it scores as it does, asks for candidates for the
// county's unassigned villages, and turns the first into a planned site:
// the site and its assignments are in the database, audited as the
// user, and its villages leave the page's unassigned list.
func TestPlannerSuitabilityPage(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	const county = "520330"
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: "zhou", Role: account.County, Counties: []string{county}}); err != nil {
		t.Fatal(err)
	}
	tok, err := account.Create(ctx, pool, "zhou", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	const unassigned = `SELECT count(*) FROM unassigned_villages WHERE county_code = '` + county + `'`
	before := count(t, pool, unassigned)
	if before != 39 {
		t.Errorf("习水县 has %d poverty villages without a site, the demo 39", before)
	}

	b := newBrowser(t, listen(t, pool))
	b.run(t, "sign in", b.signIn("zhou", tok, "/planner"),
		chromedp.WaitVisible("#suit-show"),
		chromedp.Poll(`document.getElementById("unassigned-count").textContent !== ""`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.eval(t, `(() => { const s = document.getElementById("county"); s.value = "`+county+`"; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	b.run(t, "the county's unassigned villages",
		chromedp.Poll(fmt.Sprintf(`document.getElementById("unassigned-count").textContent === "%d 个"`, before), nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.run(t, "show the surface", chromedp.Click("#suit-show"))
	b.waitIdle(t)
	if n := b.rendered(t, "suitability-fill")["suitability-fill"]; n == 0 {
		b.screenshot(t, "planner-suitability")
		t.Fatal("no suitability cells drawn")
	}
	var above bool
	b.eval(t, `(() => { const layers = window.battlemap.map.getStyle().layers;
		const sites = layers.findIndex((l) => l["source-layer"] === "sites");
		return layers.findIndex((l) => l.id === "suitability-fill") < sites; })()`, &above)
	if !above {
		t.Error("the suitability surface is drawn over the sites, want under")
	}

	lon, lat := point(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`, county)
	b.clickAt(t, lon, lat)
	b.run(t, "the spot explained", chromedp.Poll(`document.querySelectorAll("#suit-explain tr[data-factor]").length === 4`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var heading string
	b.eval(t, `document.querySelector("#suit-explain h3").textContent`, &heading)
	if !strings.Contains(heading, "习水县") {
		t.Errorf("the explanation's heading %q does not name the county", heading)
	}

	b.run(t, "ask for candidates", chromedp.Click("#suit-candidates"),
		chromedp.Poll(`document.querySelectorAll("#suit-list li").length > 0`, nil, chromedp.WithPollingTimeout(60*time.Second)))
	b.waitIdle(t)
	b.screenshot(t, "planner-suitability")
	var first struct {
		Code     string
		Villages int
	}
	b.eval(t, `(() => { const li = document.querySelector("#suit-list li");
		return {Code: li.dataset.siteCode, Villages: li.querySelector("p").textContent.split("、").length}; })()`, &first)
	// The answer is kept as the poll sees it: the change it makes comes
	// back as an event, after which the page looks for candidates again
	// and its status says so.
	b.run(t, "create the first candidate's site", chromedp.Click("#suit-list li button.create"),
		chromedp.Poll(`(() => { const t = document.getElementById("suit-status").textContent;
			if (!/^(已创建|未能创建)/.test(t)) return false; window.createdStatus = t; return true; })()`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var created string
	b.eval(t, `window.createdStatus`, &created)
	if !strings.HasPrefix(created, "已创建安置点") {
		t.Fatalf("creating the candidate's site: %q", created)
	}

	var status, actor string
	var assigned int
	if err := pool.QueryRow(ctx, `SELECT s.status, (SELECT count(*) FROM relocation_assignments a WHERE a.site_code = s.code),
		(SELECT actor FROM audit_log WHERE table_name = 'sites' AND row_key = s.code ORDER BY id DESC LIMIT 1)
		FROM sites s WHERE s.code = $1`, first.Code).Scan(&status, &assigned, &actor); err != nil {
		t.Fatalf("the created site %s: %v", first.Code, err)
	}
	if status != "planned" || assigned != first.Villages || actor != "zhou" {
		t.Errorf("site %s: status %s, %d assignments, written by %q; want planned, %d, zhou", first.Code, status, assigned, actor, first.Villages)
	}
	after := count(t, pool, unassigned)
	if after != before-int64(first.Villages) {
		t.Errorf("unassigned villages of the county: %d after, %d before, want %d fewer", after, before, first.Villages)
	}
	b.run(t, "the list follows", chromedp.Poll(fmt.Sprintf(`document.getElementById("unassigned-count").textContent === "%d 个"`, after), nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.checkClean(t)
}
