// The planner's site suitability: the surface drawn under the sites and
// flows, the weights and thresholds a planner may change (as the server
// declares them: /api/suitability/parameters), a click that explains a
// spot, and candidates for the unassigned villages that become planned
// sites through the edit path. The colours are the style's: the overlay
// layer of the tiles, whose paint a county's answer for other parameters
// is drawn with too.
import { el, fetchJSON, int, legendColor, mayEdit, sendJSON } from "./common.js";

const $ = (id) => document.getElementById(id);

/** The style's overlay: tiles drawn at the default parameters. */
const OVERLAY = "suitability-fill";
/** The county's answer for other parameters, drawn with the overlay's paint. */
const CUSTOM = "suitability-custom";
/** The candidates' points. */
const CANDIDATES = "suitability-candidates";

function number(v, digits = 0) {
  return v == null ? "–" : Number(v).toLocaleString("zh-CN", { maximumFractionDigits: digits });
}

/**
 * setupSuitability builds the panel's analysis section and returns what
 * the page drives it with: setCounty(code) when the planner picks a county
 * ("" for a region above one), and explain(lngLat), which explains a spot
 * when the surface is shown and says whether it did. onCreated(code) is
 * told of a site made from a candidate.
 */
export async function setupSuitability({ map, user, onCreated }) {
  const [{ parameters, candidate_parameters: candidateParams }, { schemes }] =
    await Promise.all([fetchJSON("/api/suitability/parameters"), fetchJSON("/legend.json")]);
  let county = "";
  let shown = false;

  const inputs = new Map();
  const field = (p) => {
    const input = el("input", {
      type: "number", id: `suit-${p.name}`, name: p.name, value: p.default, min: p.min, max: p.max,
      step: p.integer ? 1 : "any", title: p.description, "aria-describedby": "suit-hint",
    });
    inputs.set(p.name, { input, param: p });
    return el("label", {}, el("span", {}, p.label), input, el("span", { class: "muted" }, p.unit));
  };
  $("suit-params").replaceChildren(...parameters.map(field));
  $("suit-candidate-params").replaceChildren(...candidateParams.map(field));

  // query is the parameters that differ from their defaults, as the
  // endpoints take them; custom says whether there are any of the
  // surface's.
  const query = (names) => {
    const q = new URLSearchParams();
    for (const name of names) {
      const { input, param } = inputs.get(name);
      if (input.value !== "" && Number(input.value) !== param.default) q.set(name, input.value);
    }
    return q;
  };
  const surfaceQuery = () => query(parameters.map((p) => p.name));

  map.addSource(CUSTOM, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: CUSTOM, type: "fill", source: CUSTOM, layout: { visibility: "none" },
    paint: { "fill-color": map.getPaintProperty(OVERLAY, "fill-color"), "fill-opacity": map.getPaintProperty(OVERLAY, "fill-opacity") ?? 0.7 },
  }, OVERLAY);
  map.addSource(CANDIDATES, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: CANDIDATES, type: "circle", source: CANDIDATES,
    paint: {
      "circle-radius": 9, "circle-color": legendColor(schemes, "base", "candidate"),
      "circle-stroke-color": legendColor(schemes, "base", "symbol_stroke"), "circle-stroke-width": 2,
    },
  });

  // draw shows the tiles at the defaults, or the county's answer for the
  // parameters given; nothing when the surface is hidden.
  const draw = async () => {
    const q = surfaceQuery();
    const custom = shown && county && q.size > 0;
    map.setLayoutProperty(OVERLAY, "visibility", shown && !custom ? "visible" : "none");
    map.setLayoutProperty(CUSTOM, "visibility", custom ? "visible" : "none");
    window.battlemap.suitability = { shown, custom: Boolean(custom), cells: 0 };
    if (!custom) return;
    q.set("county", county);
    $("suit-status").textContent = "计算中…";
    const surface = await fetchJSON(`/api/suitability?${q}`, { timeoutMs: 60000 });
    map.getSource(CUSTOM).setData(surface);
    window.battlemap.suitability.cells = surface.features.length;
    $("suit-status").textContent = `${surface.county_name}：${int(surface.numberReturned)} 个网格，${int(surface.numberExcluded)} 个不宜建设`;
  };
  const redraw = () => draw().catch((err) => { $("suit-status").textContent = err.message; });

  $("suit-show").addEventListener("change", (e) => { shown = e.target.checked; redraw(); });
  $("suit-params").addEventListener("submit", (e) => { e.preventDefault(); redraw(); });
  $("suit-reset").addEventListener("click", () => {
    for (const { input, param } of inputs.values()) input.value = param.default;
    redraw();
  });

  const explain = async (lngLat) => {
    if (!shown) return false;
    const q = surfaceQuery();
    q.set("lon", lngLat.lng.toFixed(6));
    q.set("lat", lngLat.lat.toFixed(6));
    const node = $("suit-explain");
    try {
      const s = await fetchJSON(`/api/suitability/point?${q}`);
      node.dataset.score = s.score ?? "";
      node.dataset.suitable = String(s.suitable);
      node.replaceChildren(
        el("h3", {}, `${s.county_name} · ${s.suitable ? `适宜性评分 ${number(s.score, 1)}` : "不宜建设"}`),
        ...(s.suitable ? [] : [el("p", { class: "excluded" }, s.excluded.map((x) => x.label).join("；"))]),
        el("table", { class: "grid" },
          el("thead", {}, el("tr", {}, el("th", {}, "因子"), el("th", {}, "数值"), el("th", {}, "权重"), el("th", {}, "得分"))),
          el("tbody", {}, s.factors.map((f) => el("tr", { "data-factor": f.name },
            el("td", {}, f.label), el("td", {}, `${number(f.value, 1)} ${f.unit}`),
            el("td", {}, number(f.weight)), el("td", {}, f.part == null ? "–" : number(f.part, 1)))))),
        el("p", { class: "muted" }, `海拔 ${number(s.elevation)} 米 · 半径内待搬迁贫困村 ${s.villages} 个`));
    } catch (err) {
      delete node.dataset.score;
      node.replaceChildren(el("p", {}, err.message));
    }
    return true;
  };

  const propose = async () => {
    const list = $("suit-list");
    if (!county) {
      $("suit-status").textContent = "请先选择县（区、市）";
      return;
    }
    const q = query([...parameters, ...candidateParams].map((p) => p.name));
    q.set("county", county);
    $("suit-status").textContent = "寻找候选点…";
    try {
      const { candidates } = await fetchJSON(`/api/suitability/candidates?${q}`, { timeoutMs: 60000 });
      map.getSource(CANDIDATES).setData({
        type: "FeatureCollection",
        features: candidates.map((c) => ({ type: "Feature", geometry: { type: "Point", coordinates: [c.lon, c.lat] }, properties: { rank: c.rank } })),
      });
      list.replaceChildren(...candidates.map((c) => candidateItem(c)));
      $("suit-status").textContent = candidates.length ? `${candidates.length} 个候选点` : "没有能覆盖待搬迁人口的候选点";
    } catch (err) {
      $("suit-status").textContent = err.message;
    }
  };

  const candidateItem = (c) => {
    const name = el("input", { type: "text", value: c.site_name, "aria-label": `候选点 ${c.rank} 的名称`, class: "name" });
    const create = el("button", {
      type: "button", class: "create",
      onclick: async () => {
        create.disabled = true;
        const body = structuredClone(c.proposal);
        body.site.properties.name = name.value.trim();
        try {
          const { body: site } = await sendJSON("POST", "/api/suitability/sites", body);
          const done = `已创建安置点 ${site.name}（${c.villages.length} 个村，${int(c.people)} 人）`;
          $("suit-status").textContent = done;
          await onCreated(site.code);
          // The next candidates, without the villages just assigned.
          await propose();
          $("suit-status").textContent = `${done}；${$("suit-status").textContent}`;
        } catch (err) {
          $("suit-status").textContent = `未能创建：${err.message}`;
          create.disabled = false;
        }
      },
    }, "创建安置点");
    const go = () => map.flyTo({ center: [c.lon, c.lat], zoom: 12 });
    return el("li", { "data-cell": c.cell, "data-site-code": c.site_code },
      el("button", { type: "button", class: "link", onclick: go },
        `${c.township_name ?? ""} · 评分 ${number(c.score, 1)} · ${c.villages.length} 个村 ${int(c.people)} 人`),
      el("p", { class: "muted" }, c.villages.map((v) => v.name).join("、")),
      ...(mayEdit(user, county) ? [el("div", { class: "row" }, name, create)] : []));
  };
  $("suit-candidates").addEventListener("click", propose);
  $("suit-candidate-params").addEventListener("submit", (e) => { e.preventDefault(); propose(); });

  return {
    setCounty(code) {
      county = code;
      $("suit-list").replaceChildren();
      map.getSource(CANDIDATES).setData({ type: "FeatureCollection", features: [] });
      redraw();
    },
    explain,
  };
}
