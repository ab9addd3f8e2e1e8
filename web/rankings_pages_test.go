package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// rankingsAnswer is what the pages read of GET
// /api/regions/{code}/rankings.
type rankingsAnswer struct {
	Measure    string  `json:"measure"`
	At         string  `json:"at"`
	PreviousAt *string `json:"previous_at"`
	Rows       []struct {
		Code         string `json:"code"`
		Name         string `json:"name"`
		Rank         *int   `json:"rank"`
		PreviousRank *int   `json:"previous_rank"`
		Change       *int   `json:"change"`
		PeopleOut    int    `json:"people_out"`
	} `json:"rows"`
}

// rankingRow is a row of a ranking as a page shows it, or as the API's
// answer says the page must: code, rank, previous rank, change.
type rankingRow struct{ Code, Rank, Previous, Change string }

// orDash writes a rank as the pages do: "–" for none.
func orDash(n *int) string {
	if n == nil {
		return "–"
	}
	return strconv.Itoa(*n)
}

// changeText is common.js's rankChange: ▲ up and ▼ down by that many
// places, 0 for none, – when a rank is missing.
func changeText(c *int) string {
	switch {
	case c == nil:
		return "–"
	case *c > 0:
		return fmt.Sprintf("▲%d", *c)
	case *c < 0:
		return fmt.Sprintf("▼%d", -*c)
	}
	return "0"
}

// wantRanking is the rows the page must show for the API's answer a.
func wantRanking(a rankingsAnswer) []rankingRow {
	var rows []rankingRow
	for _, r := range a.Rows {
		rows = append(rows, rankingRow{r.Code, orDash(r.Rank), orDash(r.PreviousRank), changeText(r.Change)})
	}
	return rows
}

// TestRankingsDrillDownPage: the drill-down's 考核排名 panel of the city
// as of a day shows the API's ranking row for row (rank, the month
// before's rank, the change), follows a change of measure and of what
// is ranked, offers the same ranking as CSV, and opens a paired unit
// with exactly the API's villages.
func TestRankingsDrillDownPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	b := newBrowser(t, base)
	const day = "2016-06-30"
	shown := func(what, query string) (rankingsAnswer, []rankingRow) {
		t.Helper()
		var a rankingsAnswer
		getJSON(t, base, "/api/regions/"+city+"/rankings?"+query+"&at="+day, &a)
		want := wantRanking(a)
		var rows []rankingRow
		expr := `[...document.querySelectorAll("#ranking-rows tbody tr")].map((r) => ({Code: r.dataset.code, Rank: r.cells[0].textContent,
			Previous: r.cells[3].textContent, Change: r.cells[4].textContent}))`
		poll := fmt.Sprintf(`JSON.stringify(%s) === %s`, expr, strconv.Quote(jsonString(t, want)))
		if err := chromedp.Run(b.ctx, chromedp.Poll(poll, nil, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			b.eval(t, expr, &rows)
			t.Fatalf("%s: the panel shows\n%+v\nthe API\n%+v", what, rows, want)
		}
		return a, want
	}
	b.run(t, "open the city as of "+day, chromedp.Navigate(b.base+"/?at="+day),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#rankings[data-code="%s"] #ranking-rows')`, city), nil, chromedp.WithPollingTimeout(20*time.Second)))
	a, _ := shown("counties by exits", "by=county&measure=exits")
	if a.PreviousAt == nil || a.At[:10] != day {
		t.Errorf("the ranking as of %s compares with %v", a.At, a.PreviousAt)
	}
	b.eval(t, `(() => { const s = document.getElementById("ranking-measure"); s.value = "people_out"; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	a, _ = shown("counties by people lifted out", "by=county&measure=people_out")
	var figures []string
	b.eval(t, `[...document.querySelectorAll("#ranking-rows tbody tr")].map((r) => r.cells[2].textContent)`, &figures)
	for i, r := range a.Rows {
		if i >= len(figures) || figures[i] != thousands(r.PeopleOut)+" 人" {
			t.Errorf("%s: the panel shows %v people lifted out, the API %d", r.Code, figures, r.PeopleOut)
			break
		}
	}
	var csvHref string
	b.eval(t, `document.getElementById("ranking-csv").getAttribute("href")`, &csvHref)
	if want := "/api/regions/" + city + "/rankings?by=county&measure=people_out&at=" + day + "&f=csv"; csvHref != want {
		t.Errorf("the CSV link is %s, want %s", csvHref, want)
	}
	b.waitIdle(t)
	b.eval(t, `document.getElementById("rankings").scrollIntoView(), true`, new(bool))
	b.screenshot(t, "rankings")

	b.eval(t, `(() => { const s = document.getElementById("ranking-by"); s.value = "unit"; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	a, _ = shown("units by people lifted out", "by=unit&measure=people_out")
	unit := a.Rows[0].Code
	var u struct {
		Villages []struct{ Code string } `json:"villages"`
	}
	getJSON(t, base, "/api/units/"+url.PathEscape(unit)+"?at="+day, &u)
	var want []string
	for _, v := range u.Villages {
		want = append(want, v.Code)
	}
	b.eval(t, `document.querySelector("#ranking-rows tbody tr").click(), true`, new(bool))
	b.run(t, "open the unit", chromedp.Poll(`!!document.querySelector("#unit #unit-villages")`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	var name string
	var listed []string
	b.eval(t, `document.getElementById("unit").dataset.name`, &name)
	b.eval(t, `[...document.querySelectorAll("#unit-villages tbody tr")].map((r) => r.dataset.code)`, &listed)
	if name != unit || !slices.Equal(listed, want) || len(want) == 0 {
		t.Errorf("the unit panel shows %s with the villages %v; the API %s with %v", name, listed, unit, want)
	}
	b.eval(t, `document.getElementById("unit").scrollIntoView(), true`, new(bool))
	b.screenshot(t, "rankings-unit")
	b.checkClean(t)
}

// TestRankingsWallPage: the wall's tour stops at the counties' ranking,
// which shows the API's ranking as of the end of the progress's year,
// row for row, and stays on the screen.
func TestRankingsWallPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	b := newBrowser(t, base)
	b.open(t, "/wall")
	b.run(t, "wait for the ranking's stop", chromedp.Poll(`!!document.querySelector("#tour #ranking tbody tr")`, nil, chromedp.WithPollingTimeout(40*time.Second)))
	var measure, asked string
	b.eval(t, `document.getElementById("ranking").dataset.measure`, &measure)
	b.eval(t, `performance.getEntriesByType("resource").map((e) => e.name).filter((n) => n.includes("/rankings?")).at(-1)`, &asked)
	u, err := url.Parse(asked)
	if err != nil || u.Query().Get("by") != "county" || u.Query().Get("measure") != measure {
		t.Fatalf("the wall asked for %s", asked)
	}
	// The wall ranks as of the end of the last month anyone was lifted
	// out of poverty: in the demo, June 2016 (the history's last month),
	// compared with the end of May.
	if at, err := time.Parse(time.RFC3339, u.Query().Get("at")); err != nil ||
		at.In(geo.DataZone).Format("2006-01-02") != "2016-06-30" || at.In(geo.DataZone).Add(time.Millisecond).Day() != 1 {
		t.Errorf("the wall ranks as of %q, want the last moment of June 2016", u.Query().Get("at"))
	}
	var a rankingsAnswer
	getJSON(t, base, "/api/regions/"+city+"/rankings?"+u.RawQuery, &a)
	var rows []rankingRow
	var fits bool
	b.eval(t, `[...document.querySelectorAll("#ranking tbody tr")].map((r) => ({Code: r.dataset.code, Rank: r.cells[0].textContent,
		Previous: "", Change: r.cells[3].textContent}))`, &rows)
	b.eval(t, `document.getElementById("tour").getBoundingClientRect().bottom <= innerHeight`, &fits)
	want := wantRanking(a)
	for i := range want {
		want[i].Previous = ""
	}
	if !slices.Equal(rows, want) {
		t.Errorf("the wall shows the ranking\n%+v\nthe API (%s)\n%+v", rows, u.RawQuery, want)
	}
	if !fits {
		t.Error("the ranking runs off the screen")
	}
	b.waitIdle(t)
	b.screenshot(t, "rankings-wall")
	b.checkClean(t)
}

// jsonString is v as JSON, as JSON.stringify writes it in the page.
func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
