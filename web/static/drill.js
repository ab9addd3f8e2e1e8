// The drill-down: from the region the pages open on (the country, a
// province or a city) down to a village, one click (or Enter) per step.
// The URL holds the state, so a link can be shared and
// back/forward work; every number comes from /api/regions. Changes that
// commit while it is open (the server's event stream) redraw the figures
// of the region shown when they touch it, and the tiles.
//
// A date (历史日期) shows the map as that day closed: every read takes
// ?at=, the tiles are the past's, and live changes leave the view alone.
// A second date (对比日期) compares the region's figures at both days and
// rings the villages that changed between them.
import { campaign, changeInView, coalesce, createMap, el, fetchJSON, filterLayers, fitBBox, followChanges, int, legendColor, loadCatalogue, mayEdit, me, percent, rankChange, rankFigure, reloadTiles, renderLegend, renderUser, styleLayers, topRegion, wan, yuan } from "./common.js";
import { openEditor, renderHistory } from "./edit.js";
import { renderRegistry } from "./exits.js";

const $ = (id) => document.getElementById(id);

/** The code of the region the drill-down starts from, learnt from the data. */
let top;

/** The page's state: which region, and the filters. */
function readState() {
  const q = new URLSearchParams(location.search);
  return {
    region: /^\d{6}(\d{3}){0,2}$/.test(q.get("region") ?? "") ? q.get("region") : top,
    status: q.get("status") ?? "",
    category: q.get("category") ?? "",
    completion: q.get("completion_lt") ?? "",
    at: day(q.get("at")),
    compare: day(q.get("compare")),
  };
}

/** day is s when it is a day (YYYY-MM-DD), else "". */
function day(s) {
  return /^\d{4}-\d{2}-\d{2}$/.test(s ?? "") ? s : "";
}

/** asOf is the query string that reads as of the state's date: "" for now. */
function asOf(sep = "?") {
  return state.at ? `${sep}at=${state.at}` : "";
}

function writeState(state, push) {
  const q = new URLSearchParams();
  if (state.region !== top) q.set("region", state.region);
  if (state.status) q.set("status", state.status);
  if (state.category) q.set("category", state.category);
  if (state.completion) q.set("completion_lt", state.completion);
  if (state.at) q.set("at", state.at);
  if (state.compare) q.set("compare", state.compare);
  const url = `${location.pathname}${q.size ? `?${q}` : ""}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

// Columns of the children table: label, value, and how to show it.
const COLUMNS = [
  ["名称", (r) => r.name, (v) => v],
  ["贫困人口", (r) => r.figures.poor_population, wan],
  ["未出列村", (r) => r.figures.villages_not_exited, int],
  ["贫困发生率", (r) => r.figures.poverty_incidence ?? 0, (v) => percent(v, 1)],
  ["项目进度", (r) => r.figures.completion_avg ?? 0, (v) => `${v.toFixed(1)}%`],
];

let map;
let catalogue;
let state;
let region;
/** Who is signed in (null for nobody), from /api/me. */
let user = null;
let sortBy = { column: 1, descending: true };
/** The legend's schemes, from /legend.json: the comparison's colours. */
let schemes;

/** figureLabel names a figure or a village record's field: as the edit
 * forms label the stored field of that name (a village's first), else as
 * the catalogue labels the rolled-up figure (a county's properties carry
 * them all). */
function figureLabel(name) {
  const stored = name === "status" ? "poverty_status" : name;
  const { villages = [], ...others } = catalogue.edits ?? {};
  const figures = catalogue.collections?.find((c) => c.id === "counties")?.properties ?? [];
  return [...villages, ...Object.values(others).flat()].find((f) => f.name === stored)?.label
    ?? figures.find((p) => p.name === name && p.label)?.label ?? name;
}

/** figureValue writes a village record's value of field name. */
function figureValue(name, v) {
  if (v == null) return "（无）";
  if (name === "status") return catalogue.label("poverty_status", v);
  if (name === "funds_disbursed") return yuan(v);
  if (name === "exit_year") return String(v); // a year, not a count: no separator
  return typeof v === "number" ? int(v) : String(v);
}

/** moment writes an RFC 3339 time the server gave in China Standard
 * Time as "2016-03-05 10:00", as it reads there. */
function moment(s) {
  return `${s.slice(0, 10)} ${s.slice(11, 16)}`;
}

function applyFilters() {
  filterLayers(map, "villages", state.status ? ["==", ["get", "status"], state.status] : null);
  const project = [];
  if (state.category) project.push(["==", ["get", "category"], state.category]);
  if (state.completion) project.push(["<", ["get", "completion"], Number(state.completion)]);
  // A summary point stands for all its region's projects: the filters
  // choose among single projects only.
  filterLayers(map, "projects", project.length ? ["any", ["has", "cluster"], ["all", ...project]] : null);
}

function renderCrumbs() {
  const items = [];
  region.breadcrumb.forEach((r, i) => {
    if (i > 0) items.push(el("span", { class: "sep" }, "›"));
    items.push(i === region.breadcrumb.length - 1
      ? el("span", { "aria-current": "page" }, r.name)
      : el("button", { onclick: () => go(r.code) }, r.name));
  });
  $("crumbs").replaceChildren(...items);
}

function renderFacts() {
  const f = region.figures;
  $("title").textContent = `${region.name}（${catalogue.label("region_level", region.level)}）`;
  $("facts").replaceChildren(el("dl", { class: "facts" },
    el("dt", {}, "贫困户 / 贫困人口"), el("dd", { "data-field": "poor_population" }, `${int(f.poor_households)} 户 / ${int(f.poor_population)} 人`),
    el("dt", {}, "贫困发生率"), el("dd", {}, percent(f.poverty_incidence ?? 0, 1, 2)),
    region.level === "village"
      ? [el("dt", {}, "贫困状态"), el("dd", { "data-field": "status" }, catalogue.label("poverty_status", region.status) + (region.exit_year ? `（${region.exit_year}年出列）` : ""))]
      : [el("dt", {}, "未出列 / 已出列贫困村"), el("dd", {}, `${int(f.villages_not_exited)} / ${int(f.villages_exited)} 个`)],
    region.level === "village" ? [el("dt", {}, "合作社"), el("dd", { "data-field": "cooperatives" }, `${int(f.cooperatives)} 个`)] : null,
    el("dt", {}, "搬迁人口"), el("dd", {}, `${int(f.relocation_people)} 人`),
    el("dt", {}, "安置点入住 / 规划"), el("dd", {}, `${int(f.site_moved_in_people)} / ${int(f.site_capacity_people)} 人`),
    el("dt", {}, "项目完工 / 总数"), el("dd", {}, `${int(f.projects_completed)} / ${int(f.projects)} 个`),
    el("dt", {}, "平均完成度"), el("dd", {}, `${(f.completion_avg ?? 0).toFixed(1)}%`),
    el("dt", {}, "资金拨付 / 计划"), el("dd", {}, `${yuan(f.funds_disbursed)} / ${yuan(f.funds_planned)}`)));
}

function bar(v) {
  return el("span", { class: "bar-bg", role: "img", "aria-label": `${v}%` }, el("span", { class: "bar-fg", style: `display:block;width:${v}%` }));
}

/** pct writes a share (0–1) as a percentage; null is "–". */
function pct(v, digits = 1) {
  return v == null ? "–" : `${(100 * v).toFixed(digits)}%`;
}

/** wanYuan writes an amount in 万元 without the unit (326.5). */
function wanYuan(n) {
  return n == null ? "–" : (n / 1e4).toLocaleString("zh-CN", { maximumFractionDigits: 1 });
}

/** shareBar draws a use's share of the planned funds against the rule's
 * (a mark across the bar), both on a scale of at most scale. */
function shareBar(share, rule, scale) {
  const w = (v) => `${Math.min(100, (100 * (v ?? 0)) / scale).toFixed(1)}%`;
  return el("span", { class: "share-bar", role: "img", "aria-label": `占比 ${pct(share)}，规定 ${pct(rule, 0)}` },
    el("span", { class: "share-fg", style: `width:${w(share)}` }),
    el("span", { class: "rule-mark", style: `left:${w(rule)}` }));
}

/** deviationCell shows a use's share minus the rule's in percentage
 * points (the column says so), ▲ above the rule and ▼ below, in the legend's comparison
 * colours (the arrow says it without them). */
function deviationCell(d) {
  if (d == null) return el("td", { class: "muted" }, "–");
  const points = (Math.sign(d) * Math.round(Math.abs(1000 * d))) / 10; // half away from zero
  if (!points) return el("td", { "data-deviation": d, class: "muted" }, "0.0");
  const [sign, cls] = points > 0 ? ["▲", "increase"] : ["▼", "decrease"];
  return el("td", { "data-deviation": d, style: `color:${legendColor(schemes, "compare", cls)}` }, `${sign} ${Math.abs(points).toFixed(1)}`);
}

// Which reading of the funds is the latest asked for: an answer to an
// earlier one (the user went on) is dropped.
let fundsAsked = 0;

/**
 * renderFunds fills the 资金（33112） panel with the region's funds as of
 * the state's day: the totals, each use's planned share against the
 * rule's with the deviation and its disbursement rate, and the key
 * projects to check (≥ the API's threshold), each opening its village.
 */
async function renderFunds() {
  const asked = ++fundsAsked;
  const node = $("funds");
  let funds;
  try {
    funds = await fetchJSON(`/api/regions/${state.region}/funds${asOf()}`);
  } catch (err) {
    if (asked === fundsAsked) node.replaceChildren(el("h3", {}, "资金（33112）"), el("p", { class: "muted" }, `无法载入资金：${err.message}`));
    return;
  }
  if (asked !== fundsAsked) return;
  window.battlemap.funds = funds;
  const scale = Math.max(0.4, ...funds.uses.flatMap((u) => [u.share ?? 0, u.rule_share ?? 0]));
  const rule = (u) => u.rule_share ?? catalogue.values("fund_use").find((v) => v.value === u.fund_use)?.share;
  const open = (p) => p.village_code && go(p.village_code);
  node.dataset.code = funds.code;
  node.replaceChildren(
    el("h3", {}, "资金（33112）"),
    el("dl", { class: "facts" },
      el("dt", {}, "计划 / 拨付"), el("dd", { "data-field": "funds" }, `${yuan(funds.planned)} / ${yuan(funds.disbursed)}`),
      el("dt", {}, "拨付率"), el("dd", { "data-field": "disbursement_rate" }, pct(funds.disbursement_rate)),
      el("dt", {}, "项目 / 平均完成度"), el("dd", {}, `${int(funds.projects)} 个 / ${funds.completion_avg == null ? "–" : `${funds.completion_avg.toFixed(1)}%`}`)),
    el("table", { class: "grid funds-uses", id: "fund-uses" },
      el("thead", {}, el("tr", {}, ["用途", "计划", "占比（规定）", "偏差（百分点）", "拨付率"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, funds.uses.map((u) => el("tr", { "data-use": u.fund_use, "data-planned": u.planned },
        el("td", {}, catalogue.values("fund_use").find((v) => v.value === u.fund_use)?.label ?? u.label),
        el("td", { class: "planned" }, yuan(u.planned)),
        el("td", { class: "share", title: `占计划 ${pct(u.share)}，33112 规定 ${pct(rule(u), 0)}` }, shareBar(u.share, rule(u), scale), ` ${pct(u.share)}`,
          el("span", { class: "muted" }, `（${pct(rule(u), 0)}）`)),
        deviationCell(u.deviation),
        el("td", {}, pct(u.disbursement_rate)))))),
    el("h3", {}, `重点检查项目（≥ ${wanYuan(funds.key_threshold)}万元，${funds.key_projects.length} 个）`),
    funds.key_projects.length
      ? el("table", { class: "grid", id: "key-projects" },
        el("thead", {}, el("tr", {}, ["项目", "计划 / 拨付（万元）", "完成度"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, funds.key_projects.map((p) => el("tr", {
          "data-code": p.code, tabindex: p.village_code ? 0 : null, title: p.village_code ? "打开项目所在村" : null,
          onclick: () => open(p), onkeydown: (e) => e.key === "Enter" && open(p),
        },
        el("td", {}, p.name, el("span", { class: "muted" }, ` ${catalogue.label("project_category", p.category)}`)),
        el("td", { class: "amounts" }, `${wanYuan(p.funds_planned)} / ${wanYuan(p.funds_disbursed)}`),
        el("td", {}, `${p.completion}%`)))))
      : el("p", { class: "muted" }, "无"));
}

// The ranking the panel shows: what is ranked and by which measure, kept
// as the user drills ("" for the first that fits).
let rankingBy = "";
let rankingMeasure = "";
// Which reading of the ranking is the latest asked for, as fundsAsked.
let rankingAsked = 0;

/** What can be ranked under a region of each level, the default first. */
const RANKABLE = { country: ["county", "township", "unit"], province: ["county", "township", "unit"], city: ["county", "township", "unit"], county: ["township", "unit"], township: ["unit"] };

/** momentDay is the day of a moment the API wrote in China Standard Time. */
function momentDay(t) {
  return t ? t.slice(0, 10) : "";
}

/** changeCell shows a rank's change in the legend's comparison colours. */
function changeCell(change) {
  const [text, cls] = rankChange(change);
  return el("td", { class: cls ? "change" : "change muted", "data-change": change ?? "", style: cls ? `color:${legendColor(schemes, "compare", cls)}` : null }, text);
}

/**
 * renderRankings fills the 考核排名 panel: the counties, townships or
 * paired units under the region ranked by the chosen measure as of the
 * state's day, each with its rank at the end of the month before and the
 * change, and a link to the same ranking as CSV. A region's row drills
 * into it; a unit's opens its villages (renderUnit).
 */
async function renderRankings() {
  const asked = ++rankingAsked;
  const node = $("rankings");
  const groupings = RANKABLE[region.level] ?? [];
  if (!groupings.length) {
    node.replaceChildren();
    return;
  }
  const by = groupings.includes(rankingBy) ? rankingBy : groupings[0];
  const measure = rankingMeasure || catalogue.values("ranking_measure")[0].value;
  const url = `/api/regions/${state.region}/rankings?by=${by}&measure=${measure}${asOf("&")}`;
  let rs;
  try {
    rs = await fetchJSON(url);
  } catch (err) {
    if (asked === rankingAsked) node.replaceChildren(el("h3", {}, "考核排名"), el("p", { class: "muted" }, `无法载入排名：${err.message}`));
    return;
  }
  if (asked !== rankingAsked) return;
  window.battlemap.rankings = rs;
  const choose = (id, name, values, value, set) => el("label", {}, `${catalogue.enums.find((e) => e.name === name)?.title ?? ""} `,
    el("select", { id, onchange: (e) => { set(e.target.value); renderRankings(); } },
      values.map((v) => el("option", { value: v.value, selected: v.value === value }, v.label))));
  const open = (r) => (by === "unit" ? renderUnit(r.code) : go(r.code));
  node.dataset.code = rs.region.code;
  node.replaceChildren(
    el("h3", {}, "考核排名"),
    el("div", { class: "ranking-controls" },
      choose("ranking-by", "ranking_by", catalogue.values("ranking_by").filter((v) => groupings.includes(v.value)), by, (v) => { rankingBy = v; }),
      choose("ranking-measure", "ranking_measure", catalogue.values("ranking_measure"), measure, (v) => { rankingMeasure = v; }),
      el("a", { id: "ranking-csv", href: `${url}&f=csv`, download: "" }, "导出 CSV")),
    el("p", { class: "muted", id: "ranking-moments" }, `${rs.year}年，截至 ${momentDay(rs.at)}；`,
      rs.previous_at ? `名次变化对比 ${momentDay(rs.previous_at)}（上月末）` : "上月末早于历史数据，无对比"),
    el("table", { class: "grid rankings", id: "ranking-rows" },
      el("thead", {}, el("tr", {}, ["名次", catalogue.label("ranking_by", by), catalogue.label("ranking_measure", measure), "上月", "变化"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rs.rows.map((r) => el("tr", {
        "data-code": r.code, "data-rank": r.rank ?? "", tabindex: 0, onclick: () => open(r), onkeydown: (e) => e.key === "Enter" && open(r),
      },
      el("td", { class: "rank" }, r.rank ?? "–"),
      el("td", {}, r.name),
      el("td", { class: "figure" }, rankFigure(r, measure)),
      el("td", { class: "rank" }, r.previous_rank ?? "–"),
      changeCell(r.change))))),
    el("section", { id: "unit", "aria-live": "polite" }));
}

/**
 * renderUnit shows a paired unit under the ranking: its figures and its
 * villages with their progress as of the state's day, each opening its
 * village.
 */
async function renderUnit(name) {
  const node = $("unit");
  let u;
  try {
    u = await fetchJSON(`/api/units/${encodeURIComponent(name)}${asOf()}`);
  } catch (err) {
    node.replaceChildren(el("p", { class: "muted" }, `无法载入包保单位：${err.message}`));
    return;
  }
  window.battlemap.unit = u;
  node.dataset.name = u.name;
  node.replaceChildren(
    el("h3", {}, `包保单位：${u.name}`, el("span", { class: "muted" }, `（${catalogue.label("pairing_level", u.level)}，${u.villages.length} 个村）`)),
    el("dl", { class: "facts" },
      ...catalogue.values("ranking_measure").flatMap((m) => [el("dt", {}, m.label), el("dd", { "data-measure": m.value }, rankFigure(u, m.value))])),
    el("table", { class: "grid rankings", id: "unit-villages" },
      el("thead", {}, el("tr", {}, ["村", ...catalogue.values("ranking_measure").map((m) => m.label)].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, u.villages.map((v) => el("tr", {
        "data-code": v.code, tabindex: 0, onclick: () => go(v.code), onkeydown: (e) => e.key === "Enter" && go(v.code),
      },
      el("td", {}, v.name),
      ...catalogue.values("ranking_measure").map((m) => el("td", { "data-measure": m.value }, rankFigure(v, m.value))))))));
}

/**
 * renderExits fills the 贫困退出 panel (exits.js) with the region's place
 * in the registry as of the state's day; an exit or return form open on
 * the same region stays as it is, as the village's edit form does. Once
 * an exit or a return is made, the region and the tiles are drawn again.
 */
function renderExits() {
  const node = $("registry");
  if (node.querySelector("form") && node.dataset.code === region.code) return;
  renderRegistry(node, region.code, state.at, {
    catalogue, user, county: countyOf(region),
    onChanged: async () => {
      node.replaceChildren();
      await load(false);
      reloadTiles(map);
      $("status").textContent = "已保存";
    },
  });
}

// Which reading of the flags is the latest asked for: an answer to an
// earlier one (the user went on) is dropped.
let flagsAsked = 0;

/** severityLabel names a flag severity as the catalogue does. */
function severityLabel(s) {
  return catalogue.label("flag_severity", s);
}

/** severityBadge is a severity in its legend colour, named in words so
 * that the colour is never the only sign. */
function severityBadge(s) {
  return el("span", { class: "severity", "data-severity": s, style: `border-color:${legendColor(schemes, "flag_severity", s)}` }, severityLabel(s));
}

/** flagFact writes one figure of a flag's facts, as the catalogue's
 * flag_facts says to. */
function flagFact(name, v) {
  const f = (catalogue.flag_facts ?? []).find((x) => x.name === name) ?? { label: name, kind: "text" };
  let text;
  if (v == null) text = "（无）";
  else if (f.kind === "count") text = `${int(v)} ${f.unit ?? ""}`.trim();
  else if (f.kind === "percent") text = `${Number(v).toFixed(1)}%`;
  else if (f.kind === "share") text = pct(v, 2);
  else if (f.kind === "money") text = yuan(v);
  else if (f.kind === "status") text = catalogue.label("site_status", v);
  else if (f.kind === "time") text = moment(v);
  else text = String(v);
  return [f.label, text];
}

/** flagFacts writes a flag's facts in words, in the catalogue's order:
 * "贫困人口 120 人，完成进度 100.0%". */
function flagFacts(facts) {
  const order = (catalogue.flag_facts ?? []).map((f) => f.name);
  return Object.keys(facts ?? {})
    .sort((a, b) => order.indexOf(a) - order.indexOf(b))
    .map((k) => flagFact(k, facts[k]).join(" "))
    .join("，");
}

/** flagRule is the catalogue's rule of code. */
function flagRule(code) {
  return (catalogue.flag_rules ?? []).find((r) => r.code === code) ?? { code, message: code, statement: "" };
}

/** selectFlagSubject drills into what a flag is about: its region, or
 * the finest region a project or site lies in. */
function selectFlagSubject(f) {
  go(["village", "township", "county"].includes(f.subject) ? f.subject_code : f.lineage.at(-1));
}

/**
 * renderFlags fills the 数据核查 panel with the flags that hold in the
 * state's region as of its day: the counts by severity, the child regions
 * worst first (a click drills in), and the list, each flag's message,
 * what it is about (a click selects it), when it was raised and its facts;
 * a flag opens its detail.
 */
async function renderFlags() {
  const asked = ++flagsAsked;
  const node = $("flags");
  let flags;
  try {
    flags = await fetchJSON(`/api/regions/${state.region}/flags${asOf()}`);
  } catch (err) {
    if (asked === flagsAsked) node.replaceChildren(el("h3", {}, "数据核查"), el("p", { class: "muted" }, `无法载入数据核查：${err.message}`));
    return;
  }
  if (asked !== flagsAsked) return;
  window.battlemap.flags = flags;
  const severities = catalogue.values("flag_severity");
  const detail = el("section", { id: "flag-detail", "aria-live": "polite" });
  const row = (f) => el("li", { "data-id": f.id, "data-severity": f.severity },
    severityBadge(f.severity), " ",
    el("button", { type: "button", class: "link flag-open", onclick: () => renderFlagDetail(detail, f.id) }, flagRule(f.rule).message),
    el("div", {},
      el("button", { type: "button", class: "link flag-subject", "data-code": f.subject_code, onclick: () => selectFlagSubject(f) },
        `${catalogue.label("flag_subject", f.subject)} ${f.name}`),
      el("time", { class: "muted", datetime: f.raised_at }, ` 发现于 ${moment(f.raised_at)}`)),
    el("div", { class: "muted facts-words" }, flagFacts(f.facts)));
  node.dataset.code = flags.code;
  node.dataset.total = flags.total;
  // A part that does not apply is null, which replaceChildren would write.
  node.replaceChildren(...[
    el("h3", {}, `数据核查（${int(flags.total)} 条）`),
    el("p", { class: "flag-counts" }, severities.map((s) => el("span", { "data-severity": s.value, "data-count": flags[s.value] },
      severityBadge(s.value), ` ${int(flags[s.value])} 条 `))),
    flags.children.length
      ? el("table", { class: "grid", id: "flag-children" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "下级"), severities.map((s) => el("th", { scope: "col" }, s.label)), el("th", { scope: "col" }, "合计"))),
        el("tbody", {}, flags.children.map((c) => el("tr", {
          tabindex: 0, "data-code": c.code, onclick: () => go(c.code), onkeydown: (e) => e.key === "Enter" && go(c.code),
        }, el("td", {}, c.name), severities.map((s) => el("td", { "data-severity": s.value }, int(c[s.value]))), el("td", {}, int(c.total))))))
      : null,
    flags.flags.length
      ? el("ol", { id: "flag-list", class: "flag-list" }, flags.flags.map(row))
      : el("p", { class: "muted" }, "未发现数据问题"),
    flags.total > flags.flags.length ? el("p", { class: "muted" }, `仅列出前 ${flags.flags.length} 条`) : null,
    detail].filter((c) => c));
}

/** renderFlagDetail opens flag id in node: its rule's statement, its
 * facts, and the audit entries of the change that raised it (and of the
 * one that cleared it), each linking to its entry of the audit log. */
async function renderFlagDetail(node, id) {
  let f;
  try {
    f = await fetchJSON(`/api/flags/${encodeURIComponent(id)}`);
  } catch (err) {
    node.replaceChildren(el("p", { class: "muted" }, `无法载入：${err.message}`));
    return;
  }
  const entries = (title, list) => [
    el("h4", {}, title),
    list.length
      ? el("ol", { class: "history" }, list.map((e) => el("li", { "data-audit": e.id },
        el("time", { datetime: e.at }, moment(e.at)), ` ${e.actor} `,
        el("a", { href: `/api/audit?row=${encodeURIComponent(e.row_key ?? "")}&cursor=${e.id + 1}&limit=1`, target: "_blank", rel: "noopener" }, `审计 #${e.id}`),
        el("ul", {}, Object.keys(e.after ?? {}).map((k) => el("li", { "data-field": k },
          `${figureLabel(k)}：${figureValue(k, e.before?.[k])} → ${figureValue(k, e.after[k])}`))))))
      : el("p", { class: "muted" }, "无审计记录（由导入或历史数据产生）"),
  ];
  const about = f.links.find((l) => l.rel === "about");
  node.dataset.id = f.id;
  node.replaceChildren(
    el("h4", {}, severityBadge(f.severity), ` ${f.message}`),
    el("p", { class: "statement" }, f.statement),
    el("dl", { class: "facts" }, Object.keys(f.facts).flatMap((k) => {
      const [label, text] = flagFact(k, f.facts[k]);
      return [el("dt", {}, label), el("dd", { "data-fact": k }, text)];
    })),
    el("p", { class: "muted" }, `${catalogue.label("flag_subject", f.subject)} ${f.name}`,
      about ? [" · ", el("a", { href: about.href, target: "_blank", rel: "noopener" }, "要素")] : null,
      ` · 发现于 ${moment(f.raised_at)}`, f.cleared_at ? ` · 解除于 ${moment(f.cleared_at)}` : ""),
    ...entries("发现该问题的变更", f.raised_by),
    ...(f.cleared_at ? entries("解除该问题的变更", f.cleared_by) : []),
    el("button", { type: "button", onclick: () => node.replaceChildren() }, "关闭"));
}

/** countyOf is the code of the county a region lies in, from its breadcrumb. */
function countyOf(r) {
  return r.breadcrumb.find((b) => b.level === "county")?.code;
}

function renderVillage() {
  if (!region.village) {
    $("village").replaceChildren();
    return;
  }
  const { projects, relocation } = region.village;
  const editor = el("section", { id: "village-edit", "aria-live": "polite" });
  const history = el("section", { id: "village-history" });
  const versions = el("section", { id: "village-versions" });
  const edit = el("button", {
    type: "button", id: "edit-village",
    onclick: () => {
      edit.hidden = true;
      openEditor(editor, {
        collection: "villages", code: region.code, noun: "该村", catalogue,
        onSaved: async () => {
          await load(false);
          // The village's dot may change colour with its status.
          reloadTiles(map);
          $("status").textContent = "已保存";
          // The form is gone: the keyboard goes back to where it opened.
          $("edit-village")?.focus();
        },
        onClose: () => { edit.hidden = false; edit.focus(); },
      });
    },
  }, "编辑");
  $("village").replaceChildren(
    // The past is read, never edited.
    ...(!state.at && mayEdit(user, countyOf(region)) ? [edit] : []),
    editor,
    el("h3", {}, `项目（${projects.length}）`),
    el("table", { class: "grid" }, el("tbody", {}, projects.map((p) => el("tr", {},
      el("td", {}, p.name), el("td", {}, catalogue.label("project_category", p.category)), el("td", {}, bar(p.completion), ` ${p.completion}%`))))),
    el("h3", {}, "易地搬迁"),
    relocation.length
      ? el("table", { class: "grid" }, el("tbody", {}, relocation.map((a) => el("tr", {},
        el("td", {}, a.site_name), el("td", {}, `${int(a.households)} 户`), el("td", {}, `${int(a.people)} 人`)))))
      : el("p", { class: "muted" }, "无搬迁安排"),
    versions,
    history);
  renderVersions(versions, region.code);
  // A village's name, status, exit year and demonstration mark are its
  // region's, in table regions; its figures are in table villages.
  renderHistory(history, { tables: ["villages", "regions"], row: region.code, collection: "villages", catalogue });
}

/**
 * renderVersions fills node with the village's 变更记录: its versions
 * over time, newest first, each with the day it took effect, every field
 * that changed as "label：old → new", and links to the audit entries of
 * the change that made it.
 */
async function renderVersions(node, code) {
  let versions;
  try {
    ({ versions } = await fetchJSON(`/api/villages/${code}/history`));
  } catch (err) {
    node.replaceChildren(el("h3", {}, "变更记录"), el("p", { class: "muted" }, `无法载入变更记录：${err.message}`));
    return;
  }
  node.replaceChildren(el("h3", {}, "变更记录"), el("ol", { id: "versions", class: "history" }, versions.map((v, i) => {
    const before = versions[i + 1]?.record ?? {};
    const changes = v.changed == null
      ? [el("li", {}, "建档")]
      : v.changed.map((k) => el("li", { "data-field": k }, `${figureLabel(k)}：${figureValue(k, before[k])} → ${figureValue(k, v.record[k])}`));
    // The audit has no page of its own: an entry is its JSON, the one
    // page of the row's entries that starts at it.
    const audits = v.audit_ids.map((id) => el("a", {
      href: `/api/audit?row=${code}&cursor=${id + 1}&limit=1`, "data-audit": id, target: "_blank", rel: "noopener",
    }, `审计 #${id}`));
    return el("li", { "data-from": v.valid_from },
      el("time", { datetime: v.valid_from }, moment(v.valid_from)), " ", audits.flatMap((a, j) => (j ? [" ", a] : [a])),
      el("ul", {}, changes));
  })));
}

function renderChildren() {
  if (!region.children.length) {
    $("children").replaceChildren();
    return;
  }
  let rows = region.children;
  if (state.status && region.children[0].level === "village") rows = rows.filter((r) => r.status === state.status);
  const [, value] = COLUMNS[sortBy.column];
  rows = [...rows].sort((a, b) => {
    const x = value(a), y = value(b);
    const c = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
    return sortBy.descending ? -c : c;
  });
  const head = el("tr", {}, COLUMNS.map(([label], i) => el("th", {
    tabindex: 0, scope: "col", "aria-sort": sortBy.column === i ? (sortBy.descending ? "descending" : "ascending") : "none",
    onclick: () => sort(i), onkeydown: (e) => e.key === "Enter" && sort(i),
  }, label, sortBy.column === i ? (sortBy.descending ? " ▼" : " ▲") : "")));
  $("children").replaceChildren(
    el("h3", {}, `下级（${rows.length}）`),
    el("table", { class: "grid", id: "children-table" }, el("thead", {}, head), el("tbody", {}, rows.map((r) => el("tr", {
      tabindex: 0, "data-code": r.code, onclick: () => go(r.code), onkeydown: (e) => e.key === "Enter" && go(r.code),
    }, COLUMNS.map(([, v, show]) => el("td", {}, show(v(r)))))))));
}

function sort(i) {
  sortBy = { column: i, descending: sortBy.column === i ? !sortBy.descending : i !== 0 };
  renderChildren();
}

function renderExport() {
  const q = new URLSearchParams({ limit: "10000" });
  if (region.level === "county") q.set("county", region.code);
  if (region.level === "township") q.set("township", region.code);
  if (state.status) q.set("status", state.status);
  if (state.at) q.set("at", state.at);
  const base = region.level === "village" ? `/collections/villages/items/${region.code}${asOf()}` : `/collections/villages/items?${q}`;
  const sep = base.includes("?") ? "&" : "?";
  $("export").replaceChildren("导出当前村列表：", el("a", { href: `${base}${sep}f=json`, download: "villages.geojson" }, "GeoJSON"), " · ",
    el("a", { href: `${base}${sep}f=csv`, download: "villages.csv" }, "CSV"));
}

/** load shows state.region, fetching it; push adds a history entry; fit
 * moves the map to the region. */
async function load(push, { fit = true } = {}) {
  writeState(state, push);
  $("status").textContent = "加载中…";
  if (await show()) {
    $("status").textContent = "";
    if (fit) fitBBox(map, region.bbox, { maxZoom: region.level === "village" ? 13 : 12, duration: 800 });
  }
}

// The style's description of the present tiles, kept when the map first
// switches to the past's.
let presentTiles;

/** showDates draws what the state's dates change around the panels: the
 * banner of a past view, the date controls, the tiles (the server's
 * description of the tiles as of the day names the past's), and the
 * legend (with the comparison's colours while there is one). */
async function showDates() {
  $("asof").hidden = !state.at;
  $("asof").textContent = state.at ? `历史视图：${state.at}（数据不随实时更新变化）` : "";
  document.body.classList.toggle("past", !!state.at);
  $("at").value = state.at;
  $("compare").value = state.compare;
  const src = map.getSource("battlemap");
  presentTiles ??= src.url;
  const want = state.at ? `${presentTiles}?at=${state.at}` : presentTiles;
  if (src.url !== want) src.setUrl(want);
  if (schemes && legendCompares === !!state.compare) return;
  legendCompares = !!state.compare;
  schemes = await renderLegend($("legend"), ["village_status", "poverty_incidence", "completion", "flag_severity", ...(legendCompares ? ["compare"] : [])]);
}

// Whether the legend drawn shows the comparison's colours.
let legendCompares;

/** period is the comparison's two days in order, the later "" for now. */
function period() {
  return state.at && state.at < state.compare ? [state.at, state.compare] : [state.compare, state.at];
}

/** compareRegion reads what changed under the state's region between the
 * two days; null when there is no comparison. */
function compareRegion() {
  if (!state.compare) return Promise.resolve(null);
  const [from, to] = period();
  return fetchJSON(`/api/regions/${state.region}/changes?from=${from}${to ? `&to=${to}` : ""}`);
}

/** diffCell shows after − before, ▲ or ▼ in the legend's colour. */
function diffCell(before, after) {
  const d = after - before;
  if (!d) return el("td", { "data-diff": 0, class: "muted" }, "–");
  const [sign, cls] = d > 0 ? ["▲", "increase"] : ["▼", "decrease"];
  return el("td", { "data-diff": d, style: `color:${legendColor(schemes, "compare", cls)}` }, `${sign} ${int(Math.abs(d))}`);
}

/** renderCompare fills the comparison's panel with the region's figures
 * at both days and the villages that changed, and rings those villages on
 * the map. */
function renderCompare(diff) {
  const codes = diff ? diff.villages.map((v) => v.code) : [];
  window.battlemap.changed = codes;
  map.setPaintProperty(RING, "circle-stroke-opacity", ["case", ["in", ["to-string", ["get", "code"]], ["literal", codes]], 1, 0]);
  if (!diff) {
    $("compare-panel").replaceChildren();
    return;
  }
  const [from, to] = period();
  const { before, after } = diff.figures;
  const status = (s) => (s ? figureValue("status", s.status) : "（无）");
  const poor = (s) => (s ? int(s.poor_population) : "（无）");
  $("compare-panel").replaceChildren(
    el("h3", {}, `对比：${from} → ${to || "现在"}`),
    el("table", { class: "grid", id: "compare-figures" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "指标"), el("th", { scope: "col" }, from), el("th", { scope: "col" }, to || "现在"), el("th", { scope: "col" }, "变化"))),
      el("tbody", {}, Object.keys(before).map((k) => el("tr", { "data-figure": k },
        el("td", {}, figureLabel(k)), el("td", {}, int(before[k])), el("td", {}, int(after[k])), diffCell(before[k], after[k]))))),
    el("h3", {}, `有变化的村（${diff.villages.length}）`),
    diff.villages.length
      ? el("table", { class: "grid", id: "changed-villages" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "村"), el("th", { scope: "col" }, "贫困状态"), el("th", { scope: "col" }, "贫困人口"))),
        el("tbody", {}, diff.villages.map((v) => el("tr", {
          tabindex: 0, "data-code": v.code, onclick: () => go(v.code), onkeydown: (e) => e.key === "Enter" && go(v.code),
        }, el("td", {}, v.name), el("td", {}, `${status(v.before)} → ${status(v.after)}`), el("td", {}, `${poor(v.before)} → ${poor(v.after)}`)))))
      : el("p", { class: "muted" }, "两日之间没有村发生变化"));
}

// The ring round the villages that changed between the two days.
const RING = "compare-changed";

/** addRing adds the ring's layer over the villages' dots: every village,
 * its ring shown (renderCompare) only for those that changed. */
function addRing() {
  const dots = styleLayers(map, "villages", "circle")[0];
  const colour = legendColor(schemes, "compare", "changed");
  map.addLayer({
    id: RING, type: "circle", source: map.getLayer(dots).source, "source-layer": "villages", minzoom: map.getLayer(dots).minzoom,
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 6, 12, 10, 14, 14],
      "circle-color": colour, "circle-opacity": 0,
      "circle-stroke-color": colour, "circle-stroke-width": 3, "circle-stroke-opacity": 0,
    },
  });
}

/**
 * show reads the region of the state and draws its panels, but the
 * village's while its edit form is open, which a change made elsewhere
 * must not close under the user's hands. It reports whether it could.
 */
async function show() {
  await showDates();
  let diff;
  try {
    [region, diff] = await Promise.all([fetchJSON(`/api/regions/${state.region}${asOf()}`), compareRegion()]);
  } catch (err) {
    $("status").textContent = err.message;
    return false;
  }
  window.battlemap.region = region;
  renderCompare(diff);
  renderCrumbs();
  renderFacts();
  renderFunds();
  renderRankings();
  renderExits();
  renderFlags();
  if (!document.querySelector("#village-edit form")) renderVillage();
  renderChildren();
  renderExport();
  applyFilters();
  return true;
}

function go(code) {
  if (code === state.region) return;
  state = { ...state, region: code };
  load(true);
}

function setupFilters() {
  for (const [id, name] of [["f-status", "poverty_status"], ["f-category", "project_category"]]) {
    $(id).append(...catalogue.values(name).map((v) => el("option", { value: v.value }, v.label)));
  }
  const bind = (id, key) => {
    $(id).value = state[key];
    $(id).addEventListener("change", (e) => { state = { ...state, [key]: e.target.value }; writeState(state, true); applyFilters(); renderChildren(); renderExport(); });
  };
  bind("f-status", "status");
  bind("f-category", "category");
  bind("f-completion", "completion");
}

function setupSearch() {
  const input = $("q");
  const list = $("results");
  let matches = [];
  let active = -1;
  let timer;
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; };
  const choose = (m) => { close(); input.value = m.name; go(m.code); };
  const show = () => {
    list.replaceChildren(...matches.map((m, i) => el("li", {
      role: "option", "aria-selected": i === active ? "true" : "false", onmousedown: () => choose(m),
    }, m.name, el("span", { class: "muted" }, ` ${m.breadcrumb.slice(1, -1).map((b) => b.name).join(" ")} ${catalogue.label("region_level", m.level)}`))));
    list.hidden = !matches.length;
    input.setAttribute("aria-expanded", String(!list.hidden));
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { matches = []; show(); return; }
    timer = setTimeout(async () => {
      try {
        matches = (await fetchJSON(`/api/search?q=${encodeURIComponent(q)}&limit=10${asOf("&")}`)).matches ?? [];
      } catch (err) {
        matches = [];
        $("status").textContent = err.message;
      }
      active = matches.length ? 0 : -1;
      show();
    }, 150);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % Math.max(1, matches.length);
      show();
    } else if (e.key === "Enter" && matches[active]) {
      choose(matches[active]);
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    } else if (e.key === "Escape" && document.activeElement !== input && region.breadcrumb.length > 1) {
      go(region.breadcrumb[region.breadcrumb.length - 2].code);
    }
  });
}

async function main() {
  const learnt = topRegion(); // asked for while the map loads
  [map, catalogue, { user }] = await Promise.all([createMap("map"), loadCatalogue(), me()]);
  renderUser($("user"));
  const root = await learnt;
  top = root.code;
  document.title = `${campaign(root)} · 逐级下钻`;
  // The counties with their boxes, to tell whether a change lay in view.
  const { children: counties } = await fetchJSON(`/api/regions/${top}`);
  state = readState();
  await showDates();
  addRing();
  setupFilters();
  await setupDates();
  setupSearch();
  // A click drills into the deepest region under the pointer: the
  // villages' dots are drawn over the townships' and counties' areas (and,
  // zoomed out over a country, the cities' and provinces').
  const regions = [["villages", "circle"], ["townships", "fill"], ["counties", "fill"], ["cities", "fill"], ["provinces", "fill"]]
    .flatMap(([l, type]) => styleLayers(map, l, type));
  map.on("click", (e) => {
    const f = map.queryRenderedFeatures(e.point, { layers: regions })[0];
    if (f) go(String(f.properties.code));
  });
  map.on("mouseenter", regions, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", regions, () => { map.getCanvas().style.cursor = ""; });
  window.addEventListener("popstate", () => { state = readState(); setupFiltersValues(); load(false); });
  await load(false);
  // A change redraws the region shown when it lies in it (its lineage
  // names the region), and the tiles when it lay in a county in view; a
  // burst redraws once. A past view stays as it was.
  const redrawRegion = coalesce(show, 300);
  const redrawTiles = coalesce(() => reloadTiles(map), 300);
  followChanges({
    onChange: (change) => {
      if (state.at) return;
      if ((change.regions ?? []).includes(state.region) || change.feature === state.region) redrawRegion();
      if (changeInView(map, counties, change)) redrawTiles();
    },
  });
}

/** setupDates bounds the date controls by the map's history (they are
 * off while it has none) and makes them, and their reset buttons, change
 * the view where it is. */
async function setupDates() {
  const { from, to } = await fetchJSON("/api/history");
  for (const id of ["at", "compare"]) {
    // The span's ends are written in China Standard Time: their first
    // ten characters are the days.
    if (from) Object.assign($(id), { min: from.slice(0, 10), max: to.slice(0, 10) });
    else $(id).disabled = true;
  }
  const set = (key, value) => {
    if (value === state[key]) return;
    state = { ...state, [key]: value };
    load(true, { fit: false });
  };
  $("at").addEventListener("change", (e) => set("at", day(e.target.value)));
  $("compare").addEventListener("change", (e) => set("compare", day(e.target.value)));
  $("at-now").addEventListener("click", () => set("at", ""));
  $("compare-clear").addEventListener("click", () => set("compare", ""));
}

function setupFiltersValues() {
  $("f-status").value = state.status;
  $("f-category").value = state.category;
  $("f-completion").value = state.completion;
}

main().catch((err) => {
  $("status").textContent = `加载失败：${err.message}`;
  console.error(err);
});
