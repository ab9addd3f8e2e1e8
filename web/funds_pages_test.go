package web_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zunyi/battlemap/geo/pgtest"
)

// fundsAnswer is what the pages read of GET /api/regions/{code}/funds.
type fundsAnswer struct {
	Code      string  `json:"code"`
	Planned   float64 `json:"planned"`
	Disbursed float64 `json:"disbursed"`
	Uses      []struct {
		FundUse   string   `json:"fund_use"`
		Planned   float64  `json:"planned"`
		Share     *float64 `json:"share"`
		Deviation *float64 `json:"deviation"`
	} `json:"uses"`
	KeyProjects []struct {
		Code string `json:"code"`
	} `json:"key_projects"`
}

// zhNumber writes x as the pages' Intl.NumberFormat("zh-CN") does with
// at most digits decimals: rounded half away from zero, trailing zeros
// dropped, thousands separated.
func zhNumber(x float64, digits int) string {
	p := math.Pow10(digits)
	s := strconv.FormatFloat(math.Round(x*p)/p, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.Atoi(whole)
	if frac != "" {
		return thousands(n) + "." + frac
	}
	return thousands(n)
}

// yuanText is common.js's yuan: an amount in 亿元 or 万元.
func yuanText(n float64) string {
	switch {
	case math.Abs(n) >= 1e8:
		return zhNumber(n/1e8, 2) + "亿元"
	case math.Abs(n) >= 1e4:
		return zhNumber(n/1e4, 1) + "万元"
	}
	return thousands(int(n)) + "元"
}

// deviationText is how the drill-down writes a use's deviation from the
// rule's share, in percentage points (its column's heading says so).
func deviationText(d *float64) string {
	if d == nil {
		return "–"
	}
	p := math.Copysign(math.Round(math.Abs(1000**d)), *d) / 10
	switch {
	case p > 0:
		return fmt.Sprintf("▲ %.1f", p)
	case p < 0:
		return fmt.Sprintf("▼ %.1f", -p)
	}
	return "0.0"
}

// TestFundsDrillDownPage: the drill-down's 资金（33112） panel of the city
// and of a county shows, for each use in the API's order, the planned
// amount and the deviation from the rule's share the API gives, and lists
// exactly the API's key projects; a past view reads the funds of its day.
func TestFundsDrillDownPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	var cityRegion struct {
		Children []struct{ Code string } `json:"children"`
	}
	getJSON(t, base, "/api/regions/"+city, &cityRegion)
	county := cityRegion.Children[0].Code

	b := newBrowser(t, base)
	type row struct{ Use, Planned, PlannedText, Deviation string }
	check := func(path, code, query string) {
		t.Helper()
		var want fundsAnswer
		getJSON(t, base, "/api/regions/"+code+"/funds"+query, &want)
		if len(want.Uses) != 5 {
			t.Fatalf("%s: the API gives %d uses, want the 5 of 33112", code, len(want.Uses))
		}
		b.run(t, "open "+path, chromedp.Navigate(b.base+path),
			chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#funds[data-code="%s"] #fund-uses')`, code), nil, chromedp.WithPollingTimeout(20*time.Second)))
		var rows []row
		b.eval(t, `[...document.querySelectorAll("#fund-uses tbody tr")].map((r) => ({Use: r.dataset.use, Planned: r.dataset.planned,
			PlannedText: r.querySelector(".planned").textContent, Deviation: r.cells[3].textContent}))`, &rows)
		var wantRows []row
		for _, u := range want.Uses {
			wantRows = append(wantRows, row{u.FundUse, strconv.FormatFloat(u.Planned, 'f', -1, 64), yuanText(u.Planned), deviationText(u.Deviation)})
		}
		if !slices.Equal(rows, wantRows) {
			t.Errorf("%s: the panel shows the uses\n%+v\nthe API\n%+v", path, rows, wantRows)
		}
		var listed []string
		b.eval(t, `[...document.querySelectorAll("#key-projects tbody tr")].map((r) => r.dataset.code)`, &listed)
		var wantKeys []string
		for _, p := range want.KeyProjects {
			wantKeys = append(wantKeys, p.Code)
		}
		if !slices.Equal(listed, wantKeys) {
			t.Errorf("%s: the panel lists the key projects %v, the API %v", path, listed, wantKeys)
		}
	}
	check("/", city, "")
	check("/?region="+county, county, "")
	b.waitIdle(t)
	b.eval(t, `document.getElementById("funds").scrollIntoView(), true`, new(bool))
	b.screenshot(t, "funds")
	const day = "2016-03-31"
	check("/?region="+county+"&at="+day, county, "?at="+day)
	var asked bool
	b.eval(t, fmt.Sprintf(`performance.getEntriesByType("resource").some((e) => e.name.endsWith("/api/regions/%s/funds?at=%s"))`, county, day), &asked)
	if !asked {
		t.Errorf("the view as of %s did not read the funds of that day", day)
	}
	b.checkClean(t)
}

// TestFundsWallPage: the wall's 资金拨付 panel shows the top region's
// planned and disbursed funds as the API gives them, each use's share,
// and fits beside the side panel and the year's progress.
func TestFundsWallPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	var want fundsAnswer
	getJSON(t, base, "/api/regions/"+city+"/funds", &want)

	b := newBrowser(t, base)
	b.open(t, "/wall")
	b.run(t, "wait for the funds", chromedp.Poll(`!!document.querySelector("#funds[data-planned]") && !!document.querySelector("#progress .headline")`,
		nil, chromedp.WithPollingTimeout(20*time.Second)))
	var shown struct {
		Planned, Disbursed, PlannedText, DisbursedText string
		Shares                                         []string
		Fits                                           bool
	}
	b.eval(t, `(() => { const f = document.getElementById("funds"), r = f.getBoundingClientRect();
		const apart = (e) => { const o = e.getBoundingClientRect(); return r.right <= o.left || r.left >= o.right || r.bottom <= o.top || r.top >= o.bottom; };
		return {Planned: f.dataset.planned, Disbursed: f.dataset.disbursed,
			PlannedText: f.querySelector(".planned").textContent, DisbursedText: f.querySelector(".disbursed").textContent,
			Shares: [...f.querySelectorAll(".use")].map((u) => u.dataset.share),
			Fits: r.bottom <= innerHeight && r.left >= 0 && apart(document.querySelector("aside.side")) && apart(document.getElementById("progress"))}; })()`, &shown)
	if shown.Planned != strconv.FormatFloat(want.Planned, 'f', -1, 64) || shown.Disbursed != strconv.FormatFloat(want.Disbursed, 'f', -1, 64) ||
		shown.PlannedText != yuanText(want.Planned) || shown.DisbursedText != yuanText(want.Disbursed) {
		t.Errorf("the wall shows planned %s (%s), disbursed %s (%s); the API %v (%s), %v (%s)", shown.Planned, shown.PlannedText, shown.Disbursed, shown.DisbursedText,
			want.Planned, yuanText(want.Planned), want.Disbursed, yuanText(want.Disbursed))
	}
	var wantShares []string
	for _, u := range want.Uses {
		s := ""
		if u.Share != nil {
			s = strconv.FormatFloat(*u.Share, 'f', -1, 64)
		}
		wantShares = append(wantShares, s)
	}
	if !slices.Equal(shown.Shares, wantShares) {
		t.Errorf("the wall's uses have the shares %v, the API %v", shown.Shares, wantShares)
	}
	if !shown.Fits {
		t.Error("the funds panel overlaps the side panel or the year's progress, or leaves the screen")
	}
	b.waitIdle(t)
	b.screenshot(t, "funds-wall")
	b.checkClean(t)
}
