// The drill-down: city → county → township → village, one click (or
// Enter) per step. The URL holds the state, so a link can be shared and
// back/forward work; every number comes from /api/regions. Changes that
// commit while it is open (the server's event stream) redraw the figures
// of the region shown when they touch it, and the tiles.
import { changeInView, coalesce, createMap, el, fetchJSON, filterLayers, fitBBox, followChanges, int, loadCatalogue, mayEdit, me, percent, reloadTiles, renderLegend, renderUser, styleLayers, topRegion, wan, yuan } from "./common.js";
import { openEditor, renderHistory } from "./edit.js";

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
  };
}

function writeState(state, push) {
  const q = new URLSearchParams();
  if (state.region !== top) q.set("region", state.region);
  if (state.status) q.set("status", state.status);
  if (state.category) q.set("category", state.category);
  if (state.completion) q.set("completion_lt", state.completion);
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
    ...(mayEdit(user, countyOf(region)) ? [edit] : []),
    editor,
    el("h3", {}, `项目（${projects.length}）`),
    el("table", { class: "grid" }, el("tbody", {}, projects.map((p) => el("tr", {},
      el("td", {}, p.name), el("td", {}, catalogue.label("project_category", p.category)), el("td", {}, bar(p.completion), ` ${p.completion}%`))))),
    el("h3", {}, "易地搬迁"),
    relocation.length
      ? el("table", { class: "grid" }, el("tbody", {}, relocation.map((a) => el("tr", {},
        el("td", {}, a.site_name), el("td", {}, `${int(a.households)} 户`), el("td", {}, `${int(a.people)} 人`)))))
      : el("p", { class: "muted" }, "无搬迁安排"),
    history);
  // A village's name, status, exit year and demonstration mark are its
  // region's, in table regions; its figures are in table villages.
  renderHistory(history, { tables: ["villages", "regions"], row: region.code, collection: "villages", catalogue });
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
  const base = region.level === "village" ? `/collections/villages/items/${region.code}` : `/collections/villages/items?${q}`;
  const sep = base.includes("?") ? "&" : "?";
  $("export").replaceChildren("导出当前村列表：", el("a", { href: `${base}${sep}f=json`, download: "villages.geojson" }, "GeoJSON"), " · ",
    el("a", { href: `${base}${sep}f=csv`, download: "villages.csv" }, "CSV"));
}

/** load shows state.region, fetching it; push adds a history entry. */
async function load(push) {
  writeState(state, push);
  $("status").textContent = "加载中…";
  if (await show()) {
    $("status").textContent = "";
    fitBBox(map, region.bbox, { maxZoom: region.level === "village" ? 13 : 12, duration: 800 });
  }
}

/**
 * show reads the region of the state and draws its panels, but the
 * village's while its edit form is open, which a change made elsewhere
 * must not close under the user's hands. It reports whether it could.
 */
async function show() {
  try {
    region = await fetchJSON(`/api/regions/${state.region}`);
  } catch (err) {
    $("status").textContent = err.message;
    return false;
  }
  window.battlemap.region = region;
  renderCrumbs();
  renderFacts();
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
        matches = (await fetchJSON(`/api/search?q=${encodeURIComponent(q)}&limit=10`)).matches ?? [];
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
  top = (await learnt).code;
  // The counties with their boxes, to tell whether a change lay in view.
  const { children: counties } = await fetchJSON(`/api/regions/${top}`);
  state = readState();
  await renderLegend($("legend"), ["village_status", "poverty_incidence", "completion"]);
  setupFilters();
  setupSearch();
  // A click drills into the deepest region under the pointer: the
  // villages' dots are drawn over the townships' and counties' areas.
  const regions = [["villages", "circle"], ["townships", "fill"], ["counties", "fill"]].flatMap(([l, type]) => styleLayers(map, l, type));
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
  // burst redraws once.
  const redrawRegion = coalesce(show, 300);
  const redrawTiles = coalesce(() => reloadTiles(map), 300);
  followChanges({
    onChange: (change) => {
      if ((change.regions ?? []).includes(state.region) || change.feature === state.region) redrawRegion();
      if (changeInView(map, counties, change)) redrawTiles();
    },
  });
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
