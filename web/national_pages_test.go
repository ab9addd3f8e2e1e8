package web_test

import (
	"fmt"
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
