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

async function showUnassigned(map, county) {
  const { villages, count } = await fetchJSON(`/api/relocation/unassigned${county ? `?county=${county}` : ""}`);
  $("unassigned-count").textContent = `${count} 个`;
  $("unassigned").tBodies[0].replaceChildren(...villages.slice(0, 200).map((v) => {
    const go = () => map.flyTo({ center: [v.lon, v.lat], zoom: 13 });
    return el("tr", { tabindex: 0, onclick: go, onkeydown: (e) => e.key === "Enter" && go() },
      el("td", {}, v.name), el("td", {}, wan(v.poor_population)));
  }));
}

async function main() {
  // The root region (GET /api/regions: the demo's city) is asked for while the map loads;
  // its children fill the county list.
  const learnt = topRegion().then((top) => fetchJSON(`/api/regions/${top.code}`));
  const [map, catalogue, { user }] = await Promise.all([createMap("map"), loadCatalogue(), me()]);
  renderUser($("user"));
  await renderLegend($("legend"), ["completion", "suitability"]);
  const city = await learnt;
  fitBBox(map, city.bbox, { animate: false });
  for (const c of city.children) $("county").append(el("option", { value: c.code }, c.name));
  const sites = styleLayers(map, "sites", "circle");
  const suitability = await setupSuitability({
    map, user,
    // A site made from a candidate takes its villages off the list and
    // opens in the panel; the tiles draw it.
    onCreated: async (code) => {
      await showUnassigned(map, $("county").value);
      await showSite(map, catalogue, user, code);
      reloadTiles(map);
    },
  });
  $("county").addEventListener("change", async (e) => {
    const code = e.target.value;
    const region = code ? city.children.find((c) => c.code === code) : city;
    fitBBox(map, region.bbox);
    suitability.setCounty(code);
    await showUnassigned(map, code);
  });
  await showUnassigned(map, "");

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
