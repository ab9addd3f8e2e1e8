// The command-centre wall: the region it opens on (a city, a province or
// the country), its headline figures, and a tour of its children (a
// city's counties), running all day without a hand on it. It follows
// the changes as they commit (the server's event stream) and refreshes
// its figures and tiles; when the server is away it says so and keeps
// trying, and catches up on what it missed when it is back. Above the
// figures, the year's progress against the region's target: people lifted
// out so far, a bar, and a bar a month. At the map's upper right, the
// funds: planned and disbursed, and the "33112" uses' shares against the
// rule's. The tour's second stop is the counties' ranking (考核排名), by
// a measure that changes each time round, in place of the headline
// figures. Under the figures, the count of consistency flags (数据核查)
// that hold.
import { campaign, changeInView, coalesce, createMap, el, fetchJSON, fitBBox, followChanges, int, legendColor, loadCatalogue, percent, rankChange, rankFigure, reloadTiles, renderLegend, topRegion, wan, yuan } from "./common.js";

const TOUR_MS = 12_000;

// RANKED is how many rows of a ranking the tour's panel lists: a city's
// counties, all of them; a country's 2,800, the first of them and their
// count.
const RANKED = 15;

const $ = (id) => document.getElementById(id);

function tick() {
  $("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false });
}

// kpi is one headline figure; data-key, data-value and data-start (where
// the figure stood when the year began) carry the raw numbers, so what
// the wall shows can be checked against the database.
function kpi(key, raw, label, value, of, share, start) {
  return el("div", { class: "kpi", "data-key": key, "data-value": raw, "data-start": start ?? "" },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    el("div", { class: "of" }, of),
    el("div", { class: "meter" }, el("div", { style: `width:${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%` })));
}

/**
 * renderKPIs shows the region's headline figures, each against where it
 * stood when the year reported on began (progress.start: the data's own
 * starting line, whatever the region), and the people to relocate
 * against the region's targets of every year. A figure without a start
 * (the region held none of it then) is shown alone.
 */
function renderKPIs(city, progress) {
  const f = city.figures;
  // began is where a figure stood when the year began; null for none.
  const began = (key) => progress.start?.[key] || null;
  const poor = began("poor_population"), villages = began("villages_not_exited");
  const since = `${progress.year}年初`;
  const relocation = progress.targets.reduce((n, t) => n + (t.relocation_people ?? 0), 0);
  $("kpis").replaceChildren(
    kpi("poor_population", f.poor_population, "剩余贫困人口", wan(f.poor_population),
      poor ? `${since} ${wan(poor)}` : "", poor ? 1 - f.poor_population / poor : 0, poor),
    kpi("villages_not_exited", f.villages_not_exited, "未出列贫困村", `${int(f.villages_not_exited)} 个`,
      `${villages ? `${since} ${int(villages)} 个，` : ""}已出列 ${int(f.villages_exited)} 个`,
      villages ? (villages - f.villages_not_exited) / villages : 0, villages),
    kpi("site_moved_in_people", f.site_moved_in_people, "易地搬迁入住", wan(f.site_moved_in_people),
      `计划 ${wan(f.site_capacity_people)}${relocation ? `（目标 ${wan(relocation)}）` : ""}`,
      f.site_moved_in_people / (f.site_capacity_people || relocation || 1)),
    kpi("projects_completed", f.projects_completed, "项目完工", `${int(f.projects_completed)} 个`, `共 ${int(f.projects)} 个（${percent(f.projects_completed, f.projects)}）`,
      f.projects_completed / (f.projects || 1)),
    kpi("funds_disbursed", f.funds_disbursed, "资金拨付", yuan(f.funds_disbursed), `计划 ${yuan(f.funds_planned)}`, f.funds_disbursed / (f.funds_planned || 1)),
    kpi("completion_avg", f.completion_avg ?? 0, "平均项目进度", `${(f.completion_avg ?? 0).toFixed(1)}%`, `贫困发生率 ${percent(f.poverty_incidence ?? 0, 1, 2)}`, (f.completion_avg ?? 0) / 100),
  );
}

/** today is the day it is in China Standard Time, YYYY-MM-DD: the
 * server's days are that zone's. */
function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

/** wan1 writes a count in 万 with one decimal (10.3万), as the wall's
 * headline reads, and smaller counts whole. */
function wan1(n) {
  return Math.abs(n) < 10000 ? int(n) : `${(n / 10000).toFixed(1)}万`;
}

/**
 * yearProgress reads the year the wall reports on and its timeline: the
 * latest year up to this one for which the region has a target of people
 * to lift out (this year when it has none), from January 1 (or the day
 * the map's history begins) to today or December 31. It resolves to
 * {year, goal, timeline, start, targets}: goal is the target's people to
 * lift out as it is now (null without one), timeline null when the
 * history holds none of the year, start the region's stocks at the close
 * of the period's first day (where the year began, as the history has
 * it; null with the timeline), targets the region's of every year.
 */
async function yearProgress(code) {
  const now = today();
  const [{ targets }, span] = await Promise.all([fetchJSON(`/api/regions/${code}/targets`), fetchJSON("/api/history")]);
  const thisYear = Number(now.slice(0, 4));
  const target = targets.filter((t) => t.year <= thisYear && t.poor_people_out != null).at(-1); // by year
  const year = target?.year ?? thisYear;
  const goal = target?.poor_people_out ?? null;
  const begins = span.from ? span.from.slice(0, 10) : null;
  const from = [`${year}-01-01`, begins].filter(Boolean).sort().at(-1);
  const to = [`${year}-12-31`, now].sort()[0];
  if (!begins || from > to) return { year, goal, targets, timeline: null, start: null };
  const [timeline, first] = await Promise.all([fetchJSON(`/api/regions/${code}/timeline?from=${from}&to=${to}&step=month`),
    fetchJSON(`/api/regions/${code}/timeline?from=${from}&to=${from}&step=day`)]);
  return { year, goal, targets, timeline, start: first.steps[0]?.stocks ?? null };
}

const SVG = "http://www.w3.org/2000/svg";

/** svg builds an SVG element as el builds an HTML one. */
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** monthChart draws people_out of each month of year as bars, twelve
 * slots so that the year's shape reads at a glance; months not yet
 * reached are empty. */
function monthChart(year, steps) {
  const W = 360, H = 90, top = 14, bottom = 18, slot = W / 12;
  const byMonth = new Array(12).fill(null);
  for (const s of steps) {
    if (Number(s.start.slice(0, 4)) === year) {
      const m = Number(s.start.slice(5, 7)) - 1;
      byMonth[m] = (byMonth[m] ?? 0) + s.flows.people_out;
    }
  }
  const most = Math.max(1, ...byMonth.map((n) => n ?? 0));
  const bars = byMonth.flatMap((n, i) => {
    const label = svg("text", { x: (i + 0.5) * slot, y: H - 4, class: "month" }, `${i + 1}月`);
    if (n == null) return [label];
    const h = ((H - top - bottom) * n) / most;
    return [
      svg("rect", { x: i * slot + slot * 0.15, y: H - bottom - h, width: slot * 0.7, height: h, class: "bar", "data-month": i + 1, "data-people-out": n },
        svg("title", {}, `${i + 1}月 减贫 ${int(n)} 人`)),
      n ? svg("text", { x: (i + 0.5) * slot, y: H - bottom - h - 3, class: "value" }, wan1(n)) : null,
      label,
    ].filter(Boolean);
  });
  return svg("svg", { id: "progress-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${year}年逐月减贫人数` }, ...bars);
}

/** latestActive is the last moment of the timeline's last step in which
 * people were lifted out (a step's end is its next one's start), else the
 * timeline's end; null without a timeline. */
function latestActive(timeline) {
  if (!timeline) return null;
  const active = timeline.steps.filter((s) => s.flows.people_out > 0).at(-1);
  return active ? new Date(Date.parse(active.end) - 1).toISOString() : timeline.to;
}

/** renderProgress shows the year's people lifted out against the target
 * ("减贫 10.3万 / 20.2万，51%" and a bar), or without a target the count
 * alone and a note, and the months' chart. */
function renderProgress({ year, goal, timeline }) {
  const node = $("progress");
  if (!timeline) {
    node.replaceChildren(el("h2", {}, `${year}年减贫进度`), el("p", { class: "muted" }, `历史数据未覆盖${year}年`));
    return;
  }
  const out = timeline.totals.flows.people_out;
  const share = goal ? out / goal : null;
  node.dataset.year = year;
  node.dataset.peopleOut = out;
  node.replaceChildren(
    el("h2", {}, `${year}年减贫进度`, el("span", { class: "muted" }, ` ${timeline.from} 至 ${timeline.to}`)),
    ...(share != null
      ? [
        el("p", { class: "headline", "data-target": goal, "data-share": share }, `减贫 ${wan1(out)} / ${wan1(goal)}，${Math.round(share * 100)}%`),
        el("div", { class: "meter", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(share * 100) },
          el("div", { style: `width:${Math.min(100, share * 100).toFixed(1)}%` })),
      ]
      : [el("p", { class: "headline" }, `减贫 ${wan1(out)}`), el("p", { class: "muted", id: "no-target" }, "未设定年度目标")]),
    monthChart(year, timeline.steps));
}

/** share writes a part (0–1) as a whole percentage; null is "–". */
function share(v) {
  return v == null ? "–" : `${Math.round(100 * v)}%`;
}

/**
 * renderFunds shows the region's funds: disbursed against planned, the
 * disbursement rate as a bar, and a bar per "33112" use of its share of
 * the planned funds with the rule's share marked across it (▲/▼ says
 * which side of the rule it lies). Without an answer it says why.
 */
function renderFunds(funds, catalogue, failure) {
  const node = $("funds");
  if (!funds) {
    node.replaceChildren(el("h2", {}, "资金拨付"), el("p", { class: "muted" }, `无法载入：${failure}`));
    return;
  }
  const scale = Math.max(0.4, ...funds.uses.flatMap((u) => [u.share ?? 0, u.rule_share ?? 0]));
  const w = (v) => `${Math.min(100, (100 * (v ?? 0)) / scale).toFixed(1)}%`;
  const label = (u) => catalogue.values("fund_use").find((v) => v.value === u.fund_use)?.label ?? u.label;
  const rate = funds.disbursement_rate;
  node.dataset.planned = funds.planned;
  node.dataset.disbursed = funds.disbursed;
  node.replaceChildren(
    el("h2", {}, "资金拨付", el("span", { class: "muted" }, " 33112")),
    el("p", { class: "headline" }, el("span", { class: "disbursed" }, yuan(funds.disbursed)), el("span", { class: "muted" }, " / 计划 "),
      el("span", { class: "planned" }, yuan(funds.planned))),
    el("div", { class: "rate" },
      el("div", { class: "meter", role: "progressbar", "aria-label": "拨付率", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(100 * (rate ?? 0)) },
        el("div", { style: `width:${Math.min(100, 100 * (rate ?? 0)).toFixed(1)}%` })),
      el("span", { class: "rate-value" }, `拨付率 ${rate == null ? "–" : `${(100 * rate).toFixed(1)}%`}`)),
    el("div", { class: "uses" }, funds.uses.map((u) => {
      const d = u.deviation == null ? "" : Math.round(1000 * u.deviation) / 10;
      return el("div", { class: "use", "data-use": u.fund_use, "data-share": u.share ?? "" },
        el("span", {}, label(u)),
        el("span", { class: "share-bar", role: "img", "aria-label": `占计划 ${share(u.share)}，规定 ${share(u.rule_share)}` },
          el("span", { class: "share-fg", style: `width:${w(u.share)}` }), el("span", { class: "rule-mark", style: `left:${w(u.rule_share)}` })),
        el("span", { class: "share-value" }, `${share(u.share)}${d === "" || !d ? "" : d > 0 ? " ▲" : " ▼"}`,
          el("span", { class: "muted" }, ` /${share(u.rule_share)}`)));
    })));
}

/**
 * renderRanking shows the counties' ranking in the tour's panel: each
 * county's rank, its figure, and its change since the end of the month
 * before in the legend's comparison colours (▲/▼ says it without them);
 * the first RANKED of them, and how many there are when there are more.
 * Without an answer it says why.
 */
function renderRanking(rs, catalogue, schemes, failure) {
  if (!rs) {
    $("tour").replaceChildren(el("h2", {}, "考核排名"), el("p", { class: "muted" }, `无法载入：${failure}`));
    return;
  }
  $("tour").replaceChildren(
    el("h2", {}, "考核排名", el("span", { class: "muted" }, ` ${catalogue.label("ranking_measure", rs.measure)}`)),
    el("p", { class: "muted" }, `${rs.year}年，截至 ${rs.at.slice(0, 10)}；${rs.previous_at ? `名次对比 ${rs.previous_at.slice(0, 10)}` : "无上月对比"}`),
    el("table", { class: "ranking", id: "ranking", "data-measure": rs.measure },
      el("tbody", {}, rs.rows.slice(0, RANKED).map((r) => {
        const [text, cls] = rankChange(r.change);
        return el("tr", { "data-code": r.code, "data-rank": r.rank ?? "" },
          el("td", { class: "rank" }, r.rank ?? "–"),
          el("td", {}, r.name),
          el("td", { class: "figure" }, rankFigure(r, rs.measure)),
          el("td", { class: "change", "data-change": r.change ?? "", style: cls ? `color:${legendColor(schemes, "compare", cls)}` : null }, text));
      }))),
    rs.rows.length > RANKED ? el("p", { class: "muted", id: "ranked-of" }, `共 ${int(rs.rows.length)} 个，列前 ${RANKED} 名`) : "");
}

/**
 * renderFlagCount reads the top region's consistency flags and says how
 * many hold: "数据核查：N 条，其中严重 M 条" (the worst severity named as
 * the catalogue names it), each severity's count in its legend colour.
 * Without an answer it says why; the rest of the wall still shows.
 */
async function renderFlagCount(code, catalogue, schemes) {
  const node = $("flags");
  let flags;
  try {
    flags = await fetchJSON(`/api/regions/${code}/flags`);
  } catch (err) {
    node.replaceChildren(el("p", { class: "muted" }, `数据核查：无法载入（${err.message}）`));
    return;
  }
  const [worst] = catalogue.values("flag_severity");
  node.dataset.total = flags.total;
  node.dataset.worst = flags[worst.value];
  node.replaceChildren(
    el("p", { class: "headline" }, `数据核查：${int(flags.total)} 条，其中${worst.label} ${int(flags[worst.value])} 条`),
    el("p", { class: "by-severity" }, catalogue.values("flag_severity").map((s) => el("span", { "data-severity": s.value },
      el("span", { class: "swatch", style: `background:${legendColor(schemes, "flag_severity", s.value)}` }), `${s.label} ${int(flags[s.value])}`))));
}

function renderCounty(c, index, total) {
  const f = c.figures;
  $("tour").replaceChildren(
    el("h2", {}, c.name, el("span", { class: "muted" }, ` ${index + 1}/${total}`)),
    el("dl", { class: "facts" },
      el("dt", {}, "贫困人口"), el("dd", {}, wan(f.poor_population)),
      el("dt", {}, "未出列贫困村"), el("dd", {}, `${int(f.villages_not_exited)} 个`),
      el("dt", {}, "搬迁入住 / 计划"), el("dd", {}, `${wan(f.site_moved_in_people)} / ${wan(f.site_capacity_people)}`),
      el("dt", {}, "项目完工 / 总数"), el("dd", {}, `${int(f.projects_completed)} / ${int(f.projects)}`),
      el("dt", {}, "资金拨付 / 计划"), el("dd", {}, `${yuan(f.funds_disbursed)} / ${yuan(f.funds_planned)}`)));
}

async function main() {
  tick();
  setInterval(tick, 1000);
  const map = await createMap("map", { interactive: false });
  const schemes = await renderLegend($("legend"), ["village_status", "poverty_incidence", "completion", "flag_severity"]);
  const catalogue = await loadCatalogue();

  let city = null;
  let stop = 0;
  // The ranking's moment: the end of the progress's latest month in
  // which anyone was lifted out (the period's end when none was), so
  // that both speak of one year and the month before it is one with
  // news to compare with; and how many times the tour has shown it,
  // which picks the measure.
  let rankedAt = null;
  let rankings = 0;

  async function refresh() {
    const { code } = await topRegion();
    let progress;
    let funds, failure;
    [city, progress, funds] = await Promise.all([fetchJSON(`/api/regions/${code}`), yearProgress(code),
      // The funds are a panel of their own: without them the rest still shows.
      fetchJSON(`/api/regions/${code}/funds`).catch((err) => { failure = err.message; return null; })]);
    rankedAt = latestActive(progress.timeline);
    $("title").textContent = `${campaign(city)}作战图`;
    document.title = `${campaign(city)}作战图 · 指挥中心`;
    renderKPIs(city, progress);
    renderProgress(progress);
    renderFunds(funds, catalogue, failure);
    await renderFlagCount(code, catalogue, schemes);
  }

  // The tour: the whole city, the counties' ranking, then each county in
  // turn, forever. The progress and the legend sit over the map's upper
  // and lower left, the funds over its upper right: keep the view clear
  // of them.
  const padding = () => ({ top: $("progress").offsetHeight + 30, right: $("funds").offsetWidth + 30, left: 30, bottom: $("legend").offsetHeight + 30 });
  let toured = false;
  // A stop still loading (a country's ranking is large) holds the tour:
  // the next tick does not start another over it.
  let touring = false;
  async function tour() {
    if (!city || touring) return;
    touring = true;
    try {
      await stopAt(city.children);
    } finally {
      touring = false;
    }
  }
  async function stopAt(counties) {
    // The ranking's stop takes the whole side panel (its rows need the
    // height of the headline figures too) once its answer is in: until
    // then, a country's takes seconds, the figures stay.
    const side = document.querySelector("aside.side");
    if (stop !== 1) side.classList.remove("ranking");
    if (stop === 0) {
      // The first view is the city at once, not a flight from the whole
      // world: below the counties' zoom the map would draw provinces.
      fitBBox(map, city.bbox, { ...(toured ? { duration: 2000 } : { animate: false }), padding: padding() });
      toured = true;
      $("tour").replaceChildren(el("h2", {}, city.name), el("p", { class: "muted" }, `${counties.length} 个${catalogue.label("region_level", counties[0]?.level ?? "county")}轮巡`));
    } else if (stop === 1) {
      const measures = catalogue.values("ranking_measure");
      const measure = measures[rankings++ % measures.length].value;
      let failure;
      const rs = await fetchJSON(`/api/regions/${city.code}/rankings?by=county&measure=${measure}${rankedAt ? `&at=${rankedAt}` : ""}`)
        .catch((err) => { failure = err.message; return null; });
      side.classList.add("ranking");
      renderRanking(rs, catalogue, schemes, failure);
    } else {
      const c = counties[(stop - 2) % counties.length];
      fitBBox(map, c.bbox, { duration: 3000, padding: padding() });
      renderCounty(c, (stop - 2) % counties.length, counties.length);
    }
    stop = (stop + 1) % (counties.length + 2);
  }

  // The time of the last change applied, as the change log has it.
  const changedAt = (at) => {
    $("changed").textContent = new Date(at).toLocaleString("zh-CN", { hour12: false });
  };
  // A burst of changes (an import) redraws once: the figures always, the
  // tiles when a change lay in a county the map shows (or nobody knows
  // where it lay), since tiles out of view are not drawn anyway.
  let tilesTouched = false;
  const redraw = coalesce(async () => {
    const tiles = tilesTouched;
    tilesTouched = false;
    try {
      await refresh();
      if (tiles) reloadTiles(map);
    } catch (err) {
      $("status").textContent = `刷新失败：${err.message}`;
    }
  }, 300);
  changedAt((await fetchJSON("/api/version")).changed_at);
  await refresh();
  await tour();
  followChanges({
    onChange: (change) => {
      changedAt(change.at);
      tilesTouched ||= changeInView(map, city?.children, change);
      redraw();
    },
    onDown: () => {
      $("status").textContent = "连接中断，正在重试…";
      document.body.classList.add("offline");
    },
    onUp: () => {
      // Back after an outage: what was missed arrives as changes; the
      // figures are read again in case the server itself was replaced.
      if (document.body.classList.contains("offline")) {
        tilesTouched = true;
        redraw();
      }
      $("status").textContent = "";
      document.body.classList.remove("offline");
    },
  });
  setInterval(tour, TOUR_MS);
}

main().catch((err) => {
  document.getElementById("status").textContent = `加载失败：${err.message}`;
  console.error(err);
});
