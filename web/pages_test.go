package web_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jackc/pgx/v5/pgxpool"

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
	b.screenshot(t, "planner")
	b.checkClean(t)
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
	b.waitIdle(t)
	if n := b.rendered(t, "counties-fill")["counties-fill"]; n == 0 {
		t.Error("after recovering the wall draws no county")
	}
}
