package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// getJSON GETs base+path, which must answer 200, into out.
func getJSON(t *testing.T, base, path string, out any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// topRegion is the code of the first region without a parent (the demo's
// city), where the pages start.
func topRegion(t *testing.T, base string) string {
	t.Helper()
	var top struct {
		Regions []struct{ Code string } `json:"regions"`
	}
	getJSON(t, base, "/api/regions", &top)
	if len(top.Regions) == 0 {
		t.Fatal("no top region")
	}
	return top.Regions[0].Code
}

// regionAnswer is what the pages read of GET /api/regions/{code}.
type regionAnswer struct {
	Figures struct {
		PoorPopulation int64 `json:"poor_population"`
	} `json:"figures"`
}

// TestDrillDownHistoryPage opens the drill-down of a county as of a past
// day over the dated history (timeline_test.go): the figures are the
// API's as of then, the tiles are the past's, a change committed now
// leaves the view alone; a second date compares, listing and ringing
// exactly the villages /changes names; a village's panel lists its
// versions with links to their audit entries. The URL holds both days.
func TestDrillDownHistoryPage(t *testing.T) {
	pool := pgtest.New(t)
	d := writeDatedHistory(t, pool)
	base := listen(t, pool)
	const day, compare = "2016-03-31", "2016-02-29"
	var past, now regionAnswer
	getJSON(t, base, "/api/regions/"+d.county+"?at="+day, &past)
	getJSON(t, base, "/api/regions/"+d.county, &now)
	if past.Figures.PoorPopulation == now.Figures.PoorPopulation {
		t.Fatalf("the county has %d poor people both on %s and now: the history does not tell them apart", now.Figures.PoorPopulation, day)
	}

	b := newBrowser(t, base)
	b.open(t, "/?region="+d.county+"&at="+day)
	b.run(t, "wait for the county", chromedp.Poll(fmt.Sprintf(`window.battlemap.region && window.battlemap.region.code === %q && document.querySelector('#facts [data-field="poor_population"]')`, d.county),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	b.waitIdle(t)
	shownPoor := func() string {
		var s string
		b.eval(t, `document.querySelector('#facts [data-field="poor_population"]').textContent`, &s)
		return s
	}
	wantPoor := fmt.Sprintf(" / %s 人", thousands(int(past.Figures.PoorPopulation)))
	if got := shownPoor(); !strings.HasSuffix(got, wantPoor) {
		t.Errorf("as of %s the panel shows %q, want the API's %s", day, got, wantPoor)
	}
	var banner, control, tilesURL string
	b.eval(t, `document.getElementById("asof").hidden ? "" : document.getElementById("asof").textContent`, &banner)
	b.eval(t, `document.getElementById("at").value`, &control)
	b.eval(t, `window.battlemap.map.getSource("battlemap").url`, &tilesURL)
	if !strings.HasPrefix(banner, "历史视图："+day) || control != day || !strings.HasSuffix(tilesURL, "/tiles/battlemap.json?at="+day) {
		t.Errorf("as of %s: banner %q, date control %q, tiles %q", day, banner, control, tilesURL)
	}
	// Village c exited before the day and returned to poverty after it:
	// its dot is drawn as it was.
	lon, lat := point(t, pool, `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`, d.c)
	dot := fmt.Sprintf(`(() => { const f = window.battlemap.map.queryRenderedFeatures({layers: ["villages-circle"]}).find((f) => String(f.properties.code) === %q);
		return f ? f.properties.status : ""; })()`, d.c)
	b.eval(t, fmt.Sprintf(`window.battlemap.map.jumpTo({center: [%f, %f], zoom: 12}), true`, lon, lat), new(bool))
	b.waitIdle(t)
	var status string
	b.eval(t, dot, &status)
	if status != "exited" {
		t.Errorf("as of %s village %s is drawn %q, want exited", day, d.c, status)
	}

	// A change committed now in the county reaches the page, which keeps
	// to its day: it does not even read the region again.
	b.eval(t, `window.battlemap.region.seen = true`, new(bool))
	change(t, pool, `UPDATE villages SET poor_population = poor_population - 2 WHERE code = $1`, d.a)
	b.run(t, "let the change arrive", chromedp.Sleep(1500*time.Millisecond))
	var kept bool
	b.eval(t, `window.battlemap.region.seen === true`, &kept)
	if got := shownPoor(); !kept || !strings.HasSuffix(got, wantPoor) {
		t.Errorf("after a change now, the view as of %s shows %q (region kept: %v), want still %s", day, got, kept, wantPoor)
	}

	// The second date, chosen in its control: the figures side by side
	// and the villages that changed, listed and ringed.
	b.eval(t, `(() => { const c = document.getElementById("compare"); c.value = "`+compare+`"; c.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	b.run(t, "wait for the comparison", chromedp.Poll(`!!document.querySelector("#compare-figures")`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var diff struct {
		Figures  struct{ Before, After map[string]int64 } `json:"figures"`
		Villages []struct{ Code string }                  `json:"villages"`
	}
	getJSON(t, base, "/api/regions/"+d.county+"/changes?from="+compare+"&to="+day, &diff)
	var want []string
	for _, v := range diff.Villages {
		want = append(want, v.Code)
	}
	if !slices.Equal(want, []string{d.a, d.b}) {
		t.Errorf("/changes lists %v between %s and %s, the dated history changed %s and %s", want, compare, day, d.a, d.b)
	}
	var location string
	b.eval(t, `location.search`, &location)
	q, _ := url.ParseQuery(strings.TrimPrefix(location, "?"))
	if q.Get("region") != d.county || q.Get("at") != day || q.Get("compare") != compare {
		t.Errorf("the URL holds %s, want region %s, at %s and compare %s", location, d.county, day, compare)
	}
	var listed []string
	b.eval(t, `[...document.querySelectorAll("#changed-villages tbody tr")].map((r) => r.dataset.code)`, &listed)
	if !slices.Equal(listed, want) {
		t.Errorf("the page lists %v as changed, /changes %v", listed, want)
	}
	var poorDiff int64
	b.eval(t, `Number(document.querySelector('#compare-figures tr[data-figure="poor_population"] td[data-diff]').dataset.diff)`, &poorDiff)
	if w := diff.Figures.After["poor_population"] - diff.Figures.Before["poor_population"]; poorDiff != w {
		t.Errorf("the comparison shows a change of %d poor people, /changes %d", poorDiff, w)
	}
	// The rings drawn over the county: the villages whose ring shows.
	b.eval(t, `window.battlemap.map.fitBounds(window.battlemap.region.bbox, {animate: false, padding: 20}), true`, new(bool))
	b.waitIdle(t)
	var ringed []string
	b.eval(t, `[...new Set(window.battlemap.map.queryRenderedFeatures({layers: ["compare-changed"]})
		.filter((f) => f.layer.paint["circle-stroke-opacity"] === 1).map((f) => String(f.properties.code)))].sort()`, &ringed)
	if !slices.Equal(ringed, want) {
		t.Errorf("the map rings %v, /changes lists %v", ringed, want)
	}
	b.screenshot(t, "drill-history")

	// Village a from the list: its versions, newest first, with their
	// audit entries.
	b.run(t, "open village a", chromedp.Click(fmt.Sprintf(`#changed-villages tr[data-code="%s"]`, d.a)),
		chromedp.Poll(`document.querySelectorAll("#versions > li").length > 0`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var history struct {
		Versions []struct {
			From     string         `json:"valid_from"`
			Changed  []string       `json:"changed"`
			AuditIDs []int64        `json:"audit_ids"`
			Record   map[string]any `json:"record"`
		} `json:"versions"`
	}
	getJSON(t, base, "/api/villages/"+d.a+"/history", &history)
	type version struct {
		From   string
		Audits []int64
		Poor   string
	}
	var shown []version
	b.eval(t, `[...document.querySelectorAll("#versions > li")].map((li) => ({From: li.dataset.from,
		Audits: [...li.querySelectorAll("a[data-audit]")].map((a) => Number(a.dataset.audit)),
		Poor: (li.querySelector('[data-field="poor_population"]') || {}).textContent || ""}))`, &shown)
	if len(shown) != len(history.Versions) {
		t.Fatalf("the panel lists %d versions, the API %d", len(shown), len(history.Versions))
	}
	audited := 0
	for i, v := range history.Versions {
		wantPoor := ""
		if slices.Contains(v.Changed, "poor_population") {
			wantPoor = fmt.Sprintf("贫困人口：%s → %s", thousands(int(history.Versions[i+1].Record["poor_population"].(float64))),
				thousands(int(v.Record["poor_population"].(float64))))
		}
		got := shown[i]
		if got.From != v.From || !slices.Equal(got.Audits, v.AuditIDs) || got.Poor != wantPoor {
			t.Errorf("version %d: shown %+v, want from %s, audits %v, %q", i, got, v.From, v.AuditIDs, wantPoor)
		}
		audited += len(v.AuditIDs)
	}
	if audited == 0 {
		t.Fatal("no version of village a names an audit entry")
	}
	// An audit link opens that entry.
	var href string
	var id int64
	b.eval(t, `document.querySelector("#versions a[data-audit]").getAttribute("href")`, &href)
	b.eval(t, `Number(document.querySelector("#versions a[data-audit]").dataset.audit)`, &id)
	var entries struct {
		Entries []struct {
			ID     int64  `json:"id"`
			RowKey string `json:"row_key"`
		} `json:"entries"`
	}
	getJSON(t, base, href, &entries)
	if len(entries.Entries) != 1 || entries.Entries[0].ID != id {
		t.Errorf("audit link %s gives %+v, want entry %d", href, entries.Entries, id)
	}
	b.checkClean(t)
}

// wan1 is the wall's count in 万 with one decimal.
func wan1(n int64) string {
	if n < 10000 {
		return thousands(int(n))
	}
	return fmt.Sprintf("%.1f万", float64(n)/10000)
}

// TestWallProgressPage: on the demo data the wall shows 2016's progress
// against the city's target, the published "减贫 10.3万 / 20.2万，51%", its
// bar and a bar a month, each as the timeline gives it; without a target
// it shows the year's people lifted out and says there is none.
func TestWallProgressPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	b := newBrowser(t, base)
	const goal = 202_000

	var tl struct {
		Steps []struct {
			Start string `json:"start"`
			Flows struct {
				PeopleOut int64 `json:"people_out"`
			} `json:"flows"`
		} `json:"steps"`
		Totals struct {
			Flows struct {
				PeopleOut int64 `json:"people_out"`
			} `json:"flows"`
		} `json:"totals"`
	}
	getJSON(t, base, "/api/regions/"+city+"/timeline?from=2016-01-01&to=2016-12-31&step=month", &tl)
	out := tl.Totals.Flows.PeopleOut
	if out == 0 || len(tl.Steps) != 12 {
		t.Fatalf("the city's 2016: %d people out in %d steps", out, len(tl.Steps))
	}

	b.open(t, "/wall")
	b.run(t, "wait for the progress against the target", chromedp.Poll(`!!document.querySelector("#progress .headline[data-target]")`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	var shown struct {
		Year, Headline string
		Bar            float64
		Months         []int64
	}
	b.eval(t, `(() => { const p = document.getElementById("progress");
		return {Year: p.dataset.year, Headline: p.querySelector(".headline").textContent,
			Bar: parseFloat(p.querySelector(".meter div").style.width),
			Months: [...p.querySelectorAll("#progress-chart rect")].map((r) => Number(r.dataset.peopleOut))}; })()`, &shown)
	share := float64(out) / goal
	if want := fmt.Sprintf("减贫 %s / %s，%d%%", wan1(out), wan1(goal), int(math.Round(share*100))); shown.Year != "2016" || shown.Headline != want {
		t.Errorf("the wall shows %s: %q, want 2016: %q", shown.Year, shown.Headline, want)
	}
	if math.Abs(shown.Bar-100*share) > 0.1 {
		t.Errorf("the bar is %v%% long, want %v%%", shown.Bar, 100*share)
	}
	var months []int64
	for _, s := range tl.Steps {
		months = append(months, s.Flows.PeopleOut)
	}
	if !slices.Equal(shown.Months, months) {
		t.Errorf("the chart's months %v, the timeline's %v", shown.Months, months)
	}
	if shown.Headline != "减贫 10.3万 / 20.2万，51%" {
		t.Errorf("the wall shows %q, want the published 减贫 10.3万 / 20.2万，51%%", shown.Headline)
	}
	b.waitIdle(t)
	b.screenshot(t, "wall-progress")

	// Without a target: the year's people lifted out, and a note.
	if _, err := geo.Change(context.Background(), pool, geo.Actor{Name: "test", All: true}, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `DELETE FROM region_targets WHERE region_code = $1`, city)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b.open(t, "/wall")
	b.run(t, "wait for the progress", chromedp.Poll(`!!document.querySelector("#progress .headline") && !document.querySelector("#progress .headline[data-target]")`,
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	var note string
	b.eval(t, `(document.getElementById("no-target") || {}).textContent || ""`, &note)
	if note != "未设定年度目标" {
		t.Errorf("without a target the wall notes %q", note)
	}
	b.checkClean(t)
}

// TestDrillDownSeedHistory is what the issue asks a user to be able to
// do on the demo data: open the city's drill-down at 2016-03-31, compare
// it with 2016-06-30, and find the figures and the villages that changed
// as the API gives them.
func TestDrillDownSeedHistory(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	const city, day, compare = "520300", "2016-03-31", "2016-06-30"
	var past regionAnswer
	getJSON(t, base, "/api/regions/"+city+"?at="+day, &past)
	var diff struct {
		Figures  struct{ Before, After map[string]int64 } `json:"figures"`
		Villages []struct{ Code string }                  `json:"villages"`
	}
	getJSON(t, base, "/api/regions/"+city+"/changes?from="+day+"&to="+compare, &diff)
	if len(diff.Villages) == 0 || diff.Figures.After["poor_population"] != 558_300 {
		t.Fatalf("the demo's second quarter: %d villages changed, %d poor people at its end", len(diff.Villages), diff.Figures.After["poor_population"])
	}

	b := newBrowser(t, base)
	b.open(t, "/?region="+city+"&at="+day+"&compare="+compare)
	b.run(t, "wait for the comparison", chromedp.Poll(`!!document.querySelector("#compare-figures") && document.querySelectorAll("#changed-villages tbody tr").length > 0`,
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	var poor string
	b.eval(t, `document.querySelector('#facts [data-field="poor_population"]').textContent`, &poor)
	if want := fmt.Sprintf(" / %s 人", thousands(int(past.Figures.PoorPopulation))); !strings.HasSuffix(poor, want) {
		t.Errorf("as of %s the city shows %q, want the API's %s", day, poor, want)
	}
	var poorDiff int64
	var listed int
	b.eval(t, `Number(document.querySelector('#compare-figures tr[data-figure="poor_population"] td[data-diff]').dataset.diff)`, &poorDiff)
	b.eval(t, `document.querySelectorAll("#changed-villages tbody tr").length`, &listed)
	if w := diff.Figures.After["poor_population"] - diff.Figures.Before["poor_population"]; poorDiff != w || listed != len(diff.Villages) {
		t.Errorf("the comparison shows %d poor people and %d villages changed; /changes %d and %d", poorDiff, listed, w, len(diff.Villages))
	}
	b.waitIdle(t)
	b.screenshot(t, "drill-seed-compare")
	b.checkClean(t)
}
