package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestDrillDownFromTheCountry: with a province and the country above the
// demo's city, the drill-down opens on the country (the data's top, as
// GET /api/regions names it), lists the province, and steps down through
// it to the cities, the breadcrumb following.
func TestDrillDownFromTheCountry(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/")
	waitRegion := func(code string) {
		t.Helper()
		b.run(t, "wait for region "+code, chromedp.Poll(fmt.Sprintf(`window.battlemap.region && window.battlemap.region.code === %q`, code), nil, chromedp.WithPollingTimeout(30*time.Second)))
		b.waitIdle(t)
	}
	shown := func() (crumbs, children string) {
		t.Helper()
		b.eval(t, `[...document.querySelectorAll("#crumbs button, #crumbs [aria-current]")].map((e) => e.textContent).join("›")`, &crumbs)
		b.eval(t, `[...document.querySelectorAll("#children-table tbody tr")].map((r) => r.dataset.code).join(",")`, &children)
		return crumbs, children
	}
	waitRegion("100000")
	if crumbs, children := shown(); crumbs != "中华人民共和国" || children != "520000" {
		t.Errorf("opened on: breadcrumb %q, children %q; want the country and its province", crumbs, children)
	}
	b.run(t, "open 贵州省", chromedp.Navigate(b.base+"/?region=520000"))
	waitRegion("520000")
	if crumbs, children := shown(); crumbs != "中华人民共和国›贵州省" || children != "520300,"+pgtest.SecondCity.City {
		t.Errorf("the province: breadcrumb %q, children %q; want 中华人民共和国›贵州省 and its two cities", crumbs, children)
	}
}

// TestPlannerFromTheCountry: with a province and the country above the
// demo's city, the planner walks down from the country a level at a time,
// a select per level (贵州省 → 遵义市 → 习水县), each first offering the
// whole of the region above; the unassigned villages follow each choice,
// and once a county is chosen the site suitability works on it.
func TestPlannerFromTheCountry(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	const county = "520330"
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/planner")
	b.run(t, "the provinces' select", chromedp.Poll(`document.getElementById("unassigned-count").textContent !== "" && document.getElementById("province") !== null`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	unassigned := func(region string) int64 {
		t.Helper()
		return count(t, pool, `SELECT count(*) FROM unassigned_villages WHERE '`+region+`' = ANY (region_lineage(code))`)
	}
	for _, step := range []struct {
		id, label, whole, options, choose string
	}{
		{"province", "省", "全国", "520000", "520000"},
		{"city", "市", "全省", "520300," + pgtest.SecondCity.City, "520300"},
		{"county", "县（区、市）", "全市", "", county},
	} {
		b.run(t, "the select #"+step.id, chromedp.Poll(fmt.Sprintf(`document.getElementById(%q) !== null`, step.id), nil, chromedp.WithPollingTimeout(30*time.Second)))
		var shown struct{ Label, Whole, Options string }
		b.eval(t, fmt.Sprintf(`(() => { const s = document.getElementById(%q);
			return {Label: s.parentElement.firstChild.textContent, Whole: s.options[0].textContent,
				Options: [...s.options].slice(1).map((o) => o.value).join(",")}; })()`, step.id), &shown)
		if shown.Label != step.label || shown.Whole != step.whole {
			t.Errorf("#%s: labelled %q, first offering %q; want %q, %q", step.id, shown.Label, shown.Whole, step.label, step.whole)
		}
		if step.options != "" && shown.Options != step.options {
			t.Errorf("#%s offers %s, want %s", step.id, shown.Options, step.options)
		}
		if step.id == "county" && !strings.Contains(shown.Options, county) {
			t.Errorf("#county offers %s, want 习水县 (%s) among them", shown.Options, county)
		}
		b.eval(t, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change")); return true; })()`, step.id, step.choose), new(bool))
		want := unassigned(step.choose)
		b.run(t, "the unassigned villages of "+step.choose,
			chromedp.Poll(fmt.Sprintf(`document.getElementById("unassigned-count").textContent === "%d 个"`, want), nil, chromedp.WithPollingTimeout(30*time.Second)))
		var rows int
		b.eval(t, `document.querySelectorAll("#unassigned tbody tr").length`, &rows)
		if rows != min(int(want), 200) {
			t.Errorf("%s: %d unassigned villages listed, the database has %d", step.choose, rows, want)
		}
	}
	if n := unassigned(county); n == 0 {
		t.Errorf("习水县 has no unassigned villages: the test shows nothing")
	}
	// The suitability has the county: without one it proposes nothing
	// and asks for a county instead.
	b.run(t, "ask for candidates", chromedp.Click("#suit-candidates"),
		chromedp.Poll(`document.querySelectorAll("#suit-list li").length > 0`, nil, chromedp.WithPollingTimeout(60*time.Second)))
	b.screenshot(t, "planner-country")
	// Back up to the whole province: the selects below it go, and the
	// suitability has no county again.
	b.eval(t, `(() => { const s = document.getElementById("city"); s.value = ""; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	b.run(t, "the province's unassigned villages",
		chromedp.Poll(fmt.Sprintf(`document.getElementById("unassigned-count").textContent === "%d 个"`, unassigned("520000")), nil, chromedp.WithPollingTimeout(30*time.Second)))
	var left struct {
		Selects   string
		Proposals int
	}
	b.eval(t, `({Selects: [...document.querySelectorAll("#regions select")].map((s) => s.id).join(","), Proposals: document.querySelectorAll("#suit-list li").length})`, &left)
	if left.Selects != "province,city" || left.Proposals != 0 {
		t.Errorf("back at the province: selects %s, %d candidates listed; want province,city and none", left.Selects, left.Proposals)
	}
	b.checkClean(t)
}

// TestWallFromTheCountry: with a province and the country above the
// demo's city, the wall is the country's: its title names the country,
// not the city its pages began with; its figures are the country's, and
// with no start of the year to stand beside (the country entered the
// map this year) they stand alone; the tour goes round the provinces,
// and its ranking lists at most the first 15 counties and says how many
// there are.
func TestWallFromTheCountry(t *testing.T) {
	pool := pgtest.New(t)
	pgtest.AddProvince(t, pool)
	b := newBrowser(t, listen(t, pool))
	b.open(t, "/wall")
	b.run(t, "wait for the KPIs", chromedp.Poll(`document.querySelectorAll(".kpi[data-value]").length === 6`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.waitIdle(t)
	var shown struct{ Title, Page, Tour, Start string }
	b.eval(t, `({Title: document.getElementById("title").textContent, Page: document.title,
		Tour: document.getElementById("tour").textContent,
		Start: [...document.querySelectorAll(".kpi")].map((k) => k.dataset.start).join("")})`, &shown)
	if shown.Title != "中华人民共和国脱贫攻坚作战图" || shown.Page != "中华人民共和国脱贫攻坚作战图 · 指挥中心" {
		t.Errorf("wall's title %q, page title %q; want the country's", shown.Title, shown.Page)
	}
	if shown.Tour != "中华人民共和国1 个省轮巡" {
		t.Errorf("the tour's first stop says %q, want the country and its one province", shown.Tour)
	}
	if shown.Start != "" {
		t.Errorf("the figures stand beside starts %q; the country has none", shown.Start)
	}
	var poor float64
	b.eval(t, `Number(document.querySelector('.kpi[data-key="poor_population"]').dataset.value)`, &poor)
	if want := count(t, pool, `SELECT sum(poor_population) FROM villages`); poor != float64(want) {
		t.Errorf("the country's poor population %v, the database says %d", poor, want)
	}
	// The ranking's stop: the tour's second.
	counties := count(t, pool, `SELECT count(*) FROM regions WHERE level = 'county'`)
	b.run(t, "the ranking", chromedp.Poll(`document.getElementById("ranking") !== null`, nil, chromedp.WithPollingTimeout(60*time.Second)))
	var ranked struct {
		Rows int
		Of   string
	}
	b.eval(t, `({Rows: document.querySelectorAll("#ranking tbody tr").length, Of: document.getElementById("ranked-of")?.textContent ?? ""})`, &ranked)
	if counties > 15 && (ranked.Rows != 15 || ranked.Of != fmt.Sprintf("共 %d 个，列前 15 名", counties)) {
		t.Errorf("the ranking lists %d rows and says %q; want 15 of the %d counties", ranked.Rows, ranked.Of, counties)
	}
	if counties <= 15 && (ranked.Rows != int(counties) || ranked.Of != "") {
		t.Errorf("the ranking lists %d rows and says %q; want all %d counties", ranked.Rows, ranked.Of, counties)
	}
	b.checkClean(t)
}

// TestPlannerFromATownship: with the pages opened on a township (--root),
// the planner offers no walk down (its children are villages), and works
// on the township's county: its unassigned villages (the list is a
// county's at the finest) and its site suitability.
func TestPlannerFromATownship(t *testing.T) {
	pool := pgtest.New(t)
	var township string
	if err := pool.QueryRow(context.Background(), `SELECT left(code, 9) FROM unassigned_villages ORDER BY code LIMIT 1`).Scan(&township); err != nil {
		t.Fatal(err)
	}
	s, addr := serveRooted(t, pool, "127.0.0.1:0", township)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	b := newBrowser(t, "http://"+addr)
	b.open(t, "/planner")
	want := count(t, pool, `SELECT count(*) FROM unassigned_villages WHERE '`+township[:6]+`' = ANY (region_lineage(code))`)
	b.run(t, "the county's unassigned villages",
		chromedp.Poll(fmt.Sprintf(`document.getElementById("unassigned-count").textContent === "%d 个"`, want), nil, chromedp.WithPollingTimeout(30*time.Second)))
	var selects int
	b.eval(t, `document.querySelectorAll("#regions select").length`, &selects)
	if selects != 0 {
		t.Errorf("opened on township %s the planner offers %d selects, want none", township, selects)
	}
	b.run(t, "ask for candidates", chromedp.Click("#suit-candidates"),
		chromedp.Poll(`document.querySelectorAll("#suit-list li").length > 0`, nil, chromedp.WithPollingTimeout(60*time.Second)))
	b.checkClean(t)
}
