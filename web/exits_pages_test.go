package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web"
)

// standardLine is what the 贫困退出 panel writes of a village's figures
// against its standard (exits.js standardText), from the API's answer.
func standardLine(f geo.ExitFigures, s geo.ExitStandard) string {
	return fmt.Sprintf("贫困发生率 %.2f%%（贫困人口 %s / 户籍人口 %s），标准为低于 %s%%",
		*f.Incidence*100, zhNumber(float64(f.PoorPopulation), 0), zhNumber(float64(f.Population), 0), zhNumber(s.MaxIncidence*100, 3))
}

// TestExitsDrillDownPage: an admin in the drill-down's panel of a
// village over the standard asks to exit it, is refused with the
// standard and the village's figures as the API gives them, is offered
// the override, which needs a written reason, and makes it: the panel
// then shows the village exited, until when its policies continue and
// the event marked 越标准批准 with its reason; the flag exit_override is
// raised. Then 返贫登记 enters it into the registry again.
func TestExitsDrillDownPage(t *testing.T) {
	e := newEditSite(t, web.Config{})
	v := highVillages(t, e.pool, e.a.code, 1)[0]
	g := e.registryOf(t, "/api/regions/"+v+"/registry")
	b := newBrowser(t, e.base)
	b.expectRefusal("/api/regions/"+v+"/exit", 422)
	b.run(t, "sign in", b.signIn("admin", e.tokens["admin"], "/?region="+v))
	b.run(t, "wait for the drill-down", chromedp.WaitVisible("#exit-open"))
	b.run(t, "wait for the village's registry", chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#registry[data-code="%s"] #exit-open')`, v), nil, chromedp.WithPollingTimeout(30*time.Second)))
	var shown string
	b.eval(t, `document.querySelector('#registry [data-field="standard"]').textContent`, &shown)
	if want := standardLine(g.Figures, *g.Standard); shown != want {
		t.Errorf("the panel says %q, the API %q", shown, want)
	}

	b.run(t, "ask to exit", chromedp.Click("#exit-open"), chromedp.WaitVisible("#exit-year"),
		chromedp.SetValue("#exit-year", "2016"), chromedp.Click("#exit-submit"),
		chromedp.Poll(`!!document.querySelector('#exit-problem [data-rule="exit_standard"]')`, nil, chromedp.WithPollingTimeout(15*time.Second)))
	b.eval(t, `document.querySelector('#exit-problem [data-rule]').textContent`, &shown)
	if want := "未达到退出标准，未予出列：" + standardLine(g.Figures, *g.Standard) + "。"; shown != want {
		t.Errorf("the refusal says %q, want %q", shown, want)
	}
	b.run(t, "override without a reason", chromedp.WaitVisible("#exit-override-submit"), chromedp.Click("#exit-override-submit"),
		chromedp.Poll(`document.getElementById("exit-reason-missing").textContent === "请填写理由"`, nil, chromedp.WithPollingTimeout(5*time.Second)))
	if n := count(t, e.pool, `SELECT count(*) FROM registry_events WHERE region_code = $1 AND kind = 'exit'`, v); n != 0 {
		t.Fatalf("%d exits of %s before the reason was written", n, v)
	}
	reason := "易地扶贫搬迁已全部完成，经县级核查同意"
	b.run(t, "override with a reason", chromedp.SendKeys("#exit-reason", reason), chromedp.Click("#exit-override-submit"),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#registry[data-code="%s"] [data-field="policies_until"]')`, v), nil, chromedp.WithPollingTimeout(20*time.Second)))
	var panel struct {
		Status, Policies, Override, Reason string
		Return                             bool
	}
	b.eval(t, `(() => { const r = document.getElementById("registry"); const ev = r.querySelector('#registry-events li[data-override="true"]');
		return {Status: r.querySelector('[data-field="status"]').textContent, Policies: r.querySelector('[data-field="policies_until"]').textContent,
			Override: ev ? ev.querySelector(".override").textContent : "", Reason: ev ? ev.querySelector(".reason").textContent : "",
			Return: !!r.querySelector("#return-open")}; })()`, &panel)
	if panel.Status != "已出列" && !strings.Contains(panel.Status, "出列") || panel.Policies != "摘帽不摘政策：政策保持至2020年12月31日" ||
		!strings.Contains(panel.Override, "越标准批准") || panel.Reason != "理由："+reason || !panel.Return {
		t.Errorf("the panel after the override: %+v", panel)
	}
	if open, _ := openFlags(t, e.pool, "exit_override", v); open != 1 {
		t.Errorf("%d open exit_override flags on %s, want 1", open, v)
	}
	b.eval(t, `document.getElementById("registry").scrollIntoView(), true`, new(bool))
	b.screenshot(t, "exits")

	b.run(t, "返贫登记", chromedp.Click("#return-open"), chromedp.WaitVisible("#return-reason"),
		chromedp.SendKeys("#return-reason", "因病返贫"), chromedp.SendKeys("#return-poor_households", "2"),
		chromedp.SendKeys("#return-poor_population", "5"), chromedp.Click("#return-submit"),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#registry[data-code="%s"] #exit-open') && !!document.querySelector('#registry-events li[data-kind="return"]')`, v),
			nil, chromedp.WithPollingTimeout(20*time.Second)))
	if s := e.registryOf(t, "/api/regions/"+v+"/registry"); s.Status != "not_exited" || s.Figures.PoorPopulation != 5 {
		t.Errorf("after 返贫登记 the village is %s with %d poor people, want not_exited with 5", s.Status, s.Figures.PoorPopulation)
	}
	b.checkClean(t)
}
