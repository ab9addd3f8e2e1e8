package web_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestFlagsDrillDownPage: after an edit raises a flag, the drill-down's
// 数据核查 panel of the city and of a county shows the API's counts by
// severity, its child regions in its order and its flags in its order; a
// flag opens its detail with the audit entries of the change that raised
// it (those of audit_log for its transaction); its subject's name selects
// the village; a past view reads the flags of its day.
func TestFlagsDrillDownPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	project, county, _, village := flagProject(t, pool)
	change(t, pool, `UPDATE projects SET completion = 100, status = 'under_construction' WHERE code = $1`, project)
	var id string
	var raisedTx int64
	if err := pool.QueryRow(context.Background(), `SELECT id, raised_txid FROM flags WHERE rule = 'completion_not_marked' AND subject_code = $1`,
		project).Scan(&id, &raisedTx); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, base)
	type shown struct {
		Counts   map[string]string
		Children []string
		Flags    []string
	}
	check := func(path, code, query string) {
		t.Helper()
		var want geo.RegionFlags
		getJSON(t, base, "/api/regions/"+code+"/flags"+query, &want)
		b.run(t, "open "+path, chromedp.Navigate(b.base+path),
			chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#flags[data-code="%s"] h3')`, code), nil, chromedp.WithPollingTimeout(20*time.Second)))
		var got shown
		b.eval(t, `({Counts: Object.fromEntries([...document.querySelectorAll("#flags .flag-counts [data-count]")].map((s) => [s.dataset.severity, s.dataset.count])),
			Children: [...document.querySelectorAll("#flag-children tbody tr")].map((r) => r.dataset.code),
			Flags: [...document.querySelectorAll("#flag-list > li")].map((l) => l.dataset.id)})`, &got)
		wantCounts := map[string]string{"high": strconv.Itoa(want.High), "medium": strconv.Itoa(want.Medium), "low": strconv.Itoa(want.Low)}
		var children, flags []string
		for _, c := range want.Children {
			children = append(children, c.Code)
		}
		for _, f := range want.Flags {
			flags = append(flags, f.ID)
		}
		if fmt.Sprint(got.Counts) != fmt.Sprint(wantCounts) || !slices.Equal(got.Children, children) || !slices.Equal(got.Flags, flags) {
			t.Errorf("%s: the panel shows %+v\nthe API %v, children %v, flags %v", path, got, wantCounts, children, flags)
		}
	}
	check("/", city, "")
	check("/?region="+county, county, "")

	// The flag's detail: the audit entries behind it.
	b.run(t, "open the flag", chromedp.Evaluate(fmt.Sprintf(`document.querySelector('#flag-list li[data-id="%s"] .flag-open').click()`, id), nil),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#flag-detail[data-id="%s"] .statement')`, id), nil, chromedp.WithPollingTimeout(20*time.Second)))
	var audits []string
	b.eval(t, `[...document.querySelectorAll("#flag-detail [data-audit]")].map((e) => e.dataset.audit)`, &audits)
	var want []string
	for _, a := range auditIDs(t, pool, raisedTx, project) {
		want = append(want, strconv.FormatInt(a, 10))
	}
	if len(want) == 0 || !slices.Equal(audits, want) {
		t.Errorf("the flag's detail lists the audit entries %v, audit_log of its transaction %v", audits, want)
	}
	var statement string
	b.eval(t, `document.querySelector("#flag-detail .statement").textContent`, &statement)
	if statement != geo.FlagRuleOf("completion_not_marked").Statement {
		t.Errorf("the detail states %q, the catalogue %q", statement, geo.FlagRuleOf("completion_not_marked").Statement)
	}
	b.waitIdle(t)
	b.eval(t, `document.getElementById("flags").scrollIntoView(), true`, new(bool))
	b.screenshot(t, "flags")

	// Its subject selects the project's village.
	b.run(t, "select the subject", chromedp.Evaluate(fmt.Sprintf(`document.querySelector('#flag-list li[data-id="%s"] .flag-subject').click()`, id), nil),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#flags[data-code="%s"] h3')`, village), nil, chromedp.WithPollingTimeout(20*time.Second)))

	const day = "2016-06-30"
	check("/?region="+county+"&at="+day, county, "?at="+day)
	var asked bool
	b.eval(t, fmt.Sprintf(`performance.getEntriesByType("resource").some((e) => e.name.endsWith("/api/regions/%s/flags?at=%s"))`, county, day), &asked)
	if !asked {
		t.Errorf("the view as of %s did not read the flags of that day", day)
	}
	b.checkClean(t)
}

// TestFlagsWallPage: the wall says how many flags hold in the top region
// and how many of them are severe, as SQL over flags counts them; after
// an edit raises a flag, the count moves by itself.
func TestFlagsWallPage(t *testing.T) {
	pool := pgtest.New(t)
	base := listen(t, pool)
	city := topRegion(t, base)
	truth := func() (total, high int64) {
		return count(t, pool, `SELECT count(*) FROM flags WHERE cleared_at IS NULL AND $1 = ANY (lineage)`, city),
			count(t, pool, `SELECT count(*) FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
				WHERE fl.cleared_at IS NULL AND $1 = ANY (fl.lineage) AND fr.severity = 'high'`, city)
	}
	b := newBrowser(t, base)
	b.open(t, "/wall")
	wait := func(total, high int64) {
		t.Helper()
		b.run(t, "wait for the flag count", chromedp.Poll(fmt.Sprintf(`(() => { const f = document.getElementById("flags");
			return f.dataset.total === "%d" && f.dataset.worst === "%d"; })()`, total, high), nil, chromedp.WithPollingTimeout(20*time.Second)))
		var headline string
		b.eval(t, `document.querySelector("#flags .headline").textContent`, &headline)
		if want := fmt.Sprintf("数据核查：%d 条，其中严重 %d 条", total, high); headline != want {
			t.Errorf("the wall says %q, want %q", headline, want)
		}
	}
	total, high := truth()
	wait(total, high)
	b.waitIdle(t)
	b.screenshot(t, "flags-wall")

	project, _, _, _ := flagProject(t, pool)
	change(t, pool, `UPDATE projects SET completion = 100, status = 'under_construction' WHERE code = $1`, project)
	after, afterHigh := truth()
	if after <= total {
		t.Fatalf("the edit raised no flag: %d before, %d after", total, after)
	}
	wait(after, afterHigh)
	b.checkClean(t)
}
