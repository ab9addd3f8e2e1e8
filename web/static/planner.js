// The planner's view: relocation sites sized by capacity and coloured by
// progress, the flows from villages to their sites, a site's panel with
// its source villages, the poverty villages still without a site, and
// where a new site should go (suitability.js).
import { createMap, el, fetchJSON, filterLayers, fitBBox, int, loadCatalogue, mayEdit, me, percent, reloadTiles, renderLegend, renderUser, styleLayers, topRegion, wan } from "./common.js";
import { openEditor, renderHistory } from "./edit.js";
import { setupSuitability } from "./suitability.js";

const $ = (id) => document.getElementById(id);

function bar(part, whole) {
  const w = whole ? Math.min(100, (100 * part) / whole) : 0;
  return el("span", { class: "bar-bg", role: "img", "aria-label": percent(part, whole) }, el("span", { class: "bar-fg", style: `display:block;width:${w}%` }));
}

async function showSite(map, catalogue, user, code) {
  const s = await fetchJSON(`/api/sites/${encodeURIComponent(code)}`);
  window.battlemap.selectedSite = s;
  filterLayers(map, "flows", ["==", ["get", "site_code"], s.code]);
  const editor = el("section", { id: "site-edit", "aria-live": "polite" });
  const history = el("section", { id: "site-history" });
  const edit = el("button", {
    type: "button", id: "edit-site",
    onclick: () => {
      edit.hidden = true;
      openEditor(editor, {
        collection: "sites", code: s.code, noun: "该安置点", catalogue,
        onSaved: async () => {
          await showSite(map, catalogue, user, s.code);
          // Capacity and progress size and colour the site's circle.
          reloadTiles(map);
          $("status").textContent = "已保存";
          // The form is gone: the keyboard goes back to where it opened.
          $("edit-site")?.focus();
        },
        onClose: () => { edit.hidden = false; edit.focus(); },
      });
    },
  }, "编辑");
  $("site").replaceChildren(
    el("h2", {}, s.name),
    el("p", { class: "muted" }, `${s.county_name} · ${catalogue.label("site_type", s.type)} · ${catalogue.label("site_status", s.status)}`),
    el("dl", { class: "facts" },
      el("dt", {}, "规划容量"), el("dd", { "data-field": "capacity_people" }, `${int(s.capacity_people)} 人 / ${int(s.capacity_households)} 户`),
      el("dt", {}, "已入住"), el("dd", { "data-field": "moved_in_people" }, `${int(s.moved_in_people)} 人 `, bar(s.moved_in_people, s.capacity_people)),
      el("dt", {}, "建设进度"), el("dd", { "data-field": "progress" }, `${s.progress}% `, bar(s.progress, 100)),
      el("dt", {}, "计划完工"), el("dd", { "data-field": "planned_completion" }, s.planned_completion ?? "–")),
    ...(mayEdit(user, s.county_code) ? [edit] : []),
    editor,
    el("h3", {}, `来源村（${s.sources.length}）`),
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, el("th", {}, "村"), el("th", {}, "户"), el("th", {}, "人"))),
      el("tbody", {}, s.sources.map((v) => el("tr", { "data-code": v.village_code },
        el("td", {}, v.village_name), el("td", {}, int(v.households)), el("td", {}, int(v.people)))))),
    history,
    el("button", { onclick: () => { filterLayers(map, "flows", null); $("site").replaceChildren(); window.battlemap.selectedSite = null; } }, "清除选择"));
  renderHistory(history, { tables: ["sites"], row: s.code, collection: "sites", catalogue });
}

// LISTED is how many unassigned villages the list shows, most poor people
// first; the count above it is of all of them (a country has tens of
// thousands).
const LISTED = 200;

// unassignedOf is the region whose unassigned villages the list is for:
// an answer for an earlier choice is dropped.
let unassignedOf = "";

async function showUnassigned(map, region) {
  unassignedOf = region;
  const { villages, count } = await fetchJSON(`/api/relocation/unassigned?region=${encodeURIComponent(region)}&limit=${LISTED}`);
  if (region !== unassignedOf) return;
  $("unassigned-count").textContent = `${count} 个`;
  $("unassigned").tBodies[0].replaceChildren(...villages.map((v) => {
    const go = () => map.flyTo({ center: [v.lon, v.lat], zoom: 13 });
    return el("tr", { tabindex: 0, onclick: go, onkeydown: (e) => e.key === "Enter" && go() },
      el("td", {}, v.name), el("td", {}, wan(v.poor_population)));
  }));
}

/**
 * chooseRegion fills #regions with the walk from the top region down to a
 * county: one select per step, listing the children of the choice above
 * ("全市" and the like first, for the region above as a whole), labelled
 * and named (id) for its children's level, so that the counties' select
 * is #county whatever the top. The demo's top is a city, so it has that
 * one select; under the country it has a province's, a city's and a
 * county's. onChoose(region) is told of each choice: a region of the API's
 * (code, name, level, bbox).
 */
function chooseRegion(catalogue, top, onChoose) {
  const level = (l) => catalogue.label("region_level", l);
  // The walk ends at a county: below it (a township or a village opened
  // with --root) there is nothing to choose.
  const order = catalogue.values("region_level").map((v) => v.value);
  const atOrBelowCounty = (l) => order.indexOf(l) >= order.indexOf("county");
  // The country's label already says the whole of it (全国).
  const whole = (l) => (level(l).startsWith("全") ? level(l) : `全${level(l)}`);
  let asked = 0;
  const step = (region) => {
    if (atOrBelowCounty(region.level) || region.children.length === 0) return;
    // A province may have counties beside its cities: both are named.
    const levels = [...new Set(region.children.map((c) => c.level))];
    const select = el("select", { id: levels[0], "data-parent": region.code },
      el("option", { value: "" }, whole(region.level)),
      region.children.map((c) => el("option", { value: c.code }, c.name)));
    const label = el("label", {}, levels.map(level).join("、"), select);
    select.addEventListener("change", async () => {
      const n = ++asked;
      // What was chosen below this step no longer holds.
      while ($("regions").lastChild !== label) $("regions").lastChild.remove();
      const child = region.children.find((c) => c.code === select.value);
      try {
        await Promise.all([
          onChoose(child ?? region),
          child && !atOrBelowCounty(child.level) && fetchJSON(`/api/regions/${child.code}`).then((r) => n === asked && step(r)),
        ]);
      } catch (err) {
        $("status").textContent = err.message;
      }
    });
    $("regions").append(label);
  };
  step(top);
}

/** countyOf is the county a region is or lies in (its breadcrumb's,
 * for a township or a village), where the site suitability works; ""
 * above the counties. */
function countyOf(region) {
  if (region.level === "county") return region.code;
  return region.breadcrumb?.find((r) => r.level === "county")?.code ?? "";
}

/** areaOf is the region whose unassigned villages the planner lists for
 * region: itself, or below the counties its county (sites serve a
 * county, and the list is a county's at the finest). */
function areaOf(region) {
  return countyOf(region) || region.code;
}

async function main() {
  // The root region (GET /api/regions: the demo's city) is asked for while
  // the map loads; its children start the walk down to a county.
  const learnt = topRegion().then((top) => fetchJSON(`/api/regions/${top.code}`));
  const [map, catalogue, { user }] = await Promise.all([createMap("map"), loadCatalogue(), me()]);
  renderUser($("user"));
  await renderLegend($("legend"), ["completion", "suitability"]);
  const top = await learnt;
  fitBBox(map, top.bbox, { animate: false });
  const sites = styleLayers(map, "sites", "circle");
  // region is the chosen region: the unassigned villages are its, and the
  // suitability works on it when it is a county.
  let region = top;
  const suitability = await setupSuitability({
    map, user,
    // A site made from a candidate takes its villages off the list and
    // opens in the panel; the tiles draw it.
    onCreated: async (code) => {
      await showUnassigned(map, areaOf(region));
      await showSite(map, catalogue, user, code);
      reloadTiles(map);
    },
  });
  const choose = async (r) => {
    region = r;
    fitBBox(map, r.bbox);
    suitability.setCounty(countyOf(r));
    await showUnassigned(map, areaOf(r));
  };
  chooseRegion(catalogue, top, choose);
  if (countyOf(top)) suitability.setCounty(countyOf(top));
  await showUnassigned(map, areaOf(top));

  // A click beside the sites explains the spot, when the surface is shown.
  map.on("click", (e) => {
    if (map.queryRenderedFeatures(e.point, { layers: sites }).length === 0) suitability.explain(e.lngLat);
  });
  map.on("click", sites, async (e) => {
    const f = e.features[0];
    if (f.properties.cluster) {
      map.flyTo({ center: e.lngLat, zoom: 10 });
      return;
    }
    try {
      await showSite(map, catalogue, user, f.properties.code);
    } catch (err) {
      $("status").textContent = err.message;
    }
  });
  map.on("mouseenter", sites, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", sites, () => { map.getCanvas().style.cursor = ""; });
}

main().catch((err) => {
  $("status").textContent = `加载失败：${err.message}`;
  console.error(err);
});
