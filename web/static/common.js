// Shared by battlemap's three pages: fetching from this server, numbers
// in Chinese convention, the map, and the legend. Colours and labels are
// never defined here: they come from /style.json, /legend.json and
// /api/catalogue.

/** topRegion resolves to the region the pages open on, as the server
 * says (GET /api/regions: its --root, else the data's top region, the
 * first by code when there are several). No region is written into the
 * pages. */
export async function topRegion() {
  const { root } = await fetchJSON("/api/regions");
  if (!root) throw new Error("没有区域数据");
  return root;
}

/** campaign is the name the pages go by, the top region's campaign
 * (遵义市脱贫攻坚): the pages' static titles name no region, and each
 * sets its own once the data has said which region it opens on. */
export function campaign(top) {
  return `${top.name}脱贫攻坚`;
}

/** fetchJSON gets url from this server as JSON; a non-2xx answer throws an
 * Error carrying the server's problem detail. */
export async function fetchJSON(url, { timeoutMs = 15000 } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const resp = await fetch(url, { signal: ctl.signal, headers: { Accept: "application/json" } });
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      throw new Error((body && (body.detail || body.title)) || `${resp.status} ${resp.statusText}`);
    }
    return body;
  } finally {
    clearTimeout(timer);
  }
}

const intFmt = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });

/** int writes a whole number with thousands separators. */
export function int(n) {
  return n == null ? "–" : intFmt.format(n);
}

/** wan writes a count the Chinese way: 55.83万 above ten thousand. */
export function wan(n) {
  if (n == null) return "–";
  if (Math.abs(n) < 10000) return int(n);
  return `${(n / 10000).toLocaleString("zh-CN", { maximumFractionDigits: 2 })}万`;
}

/** yuan writes an amount of money in 亿元 or 万元. */
export function yuan(n) {
  if (n == null) return "–";
  if (Math.abs(n) >= 1e8) return `${(n / 1e8).toLocaleString("zh-CN", { maximumFractionDigits: 2 })}亿元`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e4).toLocaleString("zh-CN", { maximumFractionDigits: 1 })}万元`;
  return `${int(n)}元`;
}

/** percent writes part ÷ whole as a percentage. */
export function percent(part, whole, digits = 1) {
  if (!whole) return "–";
  return `${((100 * part) / whole).toFixed(digits)}%`;
}

/**
 * rankFigure writes a ranking row's figure for a measure, as
 * /api/regions/{code}/rankings gives it: "–" where the row has none.
 */
export function rankFigure(r, measure) {
  const share = (v) => (v == null ? "–" : `${(100 * v).toFixed(1)}%`);
  switch (measure) {
    case "exits": return r.exit_rate == null ? "–" : `${share(r.exit_rate)}（${int(r.villages_exited)}/${int(r.villages_to_exit)}村）`;
    case "people_out": return `${int(r.people_out)} 人`;
    case "completion": return r.completion_avg == null ? "–" : `${r.completion_avg.toFixed(1)}%`;
    default: return share(r.disbursement_rate);
  }
}

/**
 * rankChange writes a rank's change since the end of the month before:
 * [text, the legend's comparison class], ▲ up and ▼ down by that many
 * places (the arrow says it without the colour), "0" for none, "–" when
 * either rank is missing.
 */
export function rankChange(change) {
  if (change == null) return ["–", null];
  if (change === 0) return ["0", null];
  return change > 0 ? [`▲${change}`, "increase"] : [`▼${-change}`, "decrease"];
}

/** el builds an element: el("td", {class: "x"}, "text", child…). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    // Styles go through the CSSOM: the Content-Security-Policy
    // (style-src 'self') refuses style attributes set as markup.
    else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c != null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** loadCatalogue fetches the server's catalogue: every enumeration with
 * its values' Chinese labels, and each collection's properties. Its
 * values(name) are an enumeration's {value, label}s in order, and
 * label(name, value) names a value (or gives it back as it is, should
 * the catalogue not know it). */
export async function loadCatalogue() {
  const cat = await fetchJSON("/api/catalogue");
  const enums = new Map(cat.enums.map((e) => [e.name, e.values]));
  return {
    ...cat,
    values: (name) => enums.get(name) ?? [],
    label: (name, value) => (enums.get(name) ?? []).find((v) => v.value === value)?.label ?? value,
  };
}

/** createMap makes the MapLibre map in container with the server's style
 * and resolves once the style has loaded. window.battlemap.idle tells
 * tests (and the wall's health check) when everything is drawn. */
export async function createMap(container, options = {}) {
  const map = new maplibregl.Map({
    container,
    style: "/style.json",
    // Names are Chinese: draw them with the system's CJK font, so no
    // glyphs have to come from anywhere.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Noto Sans SC', sans-serif",
    attributionControl: { compact: true },
    dragRotate: false,
    pitchWithRotate: false,
    ...options,
  });
  window.battlemap = { map, idle: false };
  map.on("dataloading", () => { window.battlemap.idle = false; });
  map.on("idle", () => { window.battlemap.idle = true; });
  await new Promise((resolve, reject) => {
    map.once("load", resolve);
    map.once("error", (e) => reject(e.error || new Error("map failed to load")));
  });
  return map;
}

/** styleLayers are the ids of the style's layers that draw sourceLayer
 * (as type, when given): pages find the layers they act on by what they
 * draw rather than keep a copy of their ids. */
export function styleLayers(map, sourceLayer, type) {
  return map.getStyle().layers
    .filter((l) => l["source-layer"] === sourceLayer && (!type || l.type === type))
    .map((l) => l.id);
}

// styleFilters keeps each layer's filter as the style gave it, before a
// page narrowed it.
const styleFilters = new Map();

/** filterLayers narrows every style layer that draws sourceLayer to the
 * features filter (an expression) keeps, within the layer's own filter
 * from the style; a null filter shows them all again. */
export function filterLayers(map, sourceLayer, filter) {
  for (const id of styleLayers(map, sourceLayer)) {
    if (!styleFilters.has(id)) styleFilters.set(id, map.getFilter(id) ?? null);
    const own = styleFilters.get(id);
    map.setFilter(id, own && filter ? ["all", own, filter] : (own ?? filter));
  }
}

/** reloadTiles makes the map fetch its tiles again (each revalidates with
 * its ETag, so unchanged tiles cost a 304). */
/**
 * followChanges follows the map data's changes as they commit, from the
 * server's event stream (/api/events): onChange(change) for each one
 * ({id, at, action, layer, feature, regions, version}), onDown() when
 * the stream is lost, onUp() when it is (back) open. EventSource
 * reconnects by itself and resumes after the last change it saw, on any
 * instance; when the server refused the stream outright (it was full,
 * or shutting down) a new one resumes from the same change a few seconds
 * later. Nothing is polled.
 */
export function followChanges({ onChange, onDown = () => {}, onUp = () => {} }) {
  let last = "";
  const open = () => {
    const es = new EventSource(`/api/events${last ? `?last_event_id=${encodeURIComponent(last)}` : ""}`);
    es.addEventListener("change", (e) => {
      last = e.lastEventId;
      onChange(JSON.parse(e.data));
    });
    es.onopen = () => onUp();
    es.onerror = () => {
      onDown();
      if (es.readyState === EventSource.CLOSED) setTimeout(open, 5000);
    };
  };
  open();
}

/**
 * changeInView says whether a change (an event of followChanges) lay in a
 * county whose box the map shows, counties being the top region's
 * children with their bbox; a change in no known county may lie anywhere,
 * so it counts as in view. Tiles out of view are not drawn, so a change
 * elsewhere needs no tiles reloaded.
 */
export function changeInView(map, counties, change) {
  const county = (counties ?? []).find((c) => (change.regions ?? []).includes(c.code));
  if (!county?.bbox) return true;
  const v = map.getBounds();
  const [w, s, e, n] = county.bbox;
  return w <= v.getEast() && e >= v.getWest() && s <= v.getNorth() && n >= v.getSouth();
}

/**
 * coalesce returns a function that runs f once, delay ms after the first
 * of a burst of calls: a screen redraws once for a burst of changes.
 */
export function coalesce(f, delay) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      f();
    }, delay);
  };
}

export function reloadTiles(map) {
  const src = map.getSource("battlemap");
  if (src && typeof src.reload === "function") src.reload();
  else if (src && src.tiles) src.setTiles(src.tiles);
}

/** renderLegend fills node with the legend's schemes named in ids. */
export async function renderLegend(node, ids) {
  const { schemes } = await fetchJSON("/legend.json");
  node.replaceChildren();
  for (const s of schemes.filter((s) => ids.includes(s.id))) {
    node.append(
      el("h3", {}, s.title),
      el("ul", {}, s.classes.map((c) =>
        el("li", { "data-value": c.value ?? c.min }, el("span", { class: "swatch", style: `background:${c.color}` }), c.label))),
    );
  }
  return schemes;
}

/** legendColor is the colour the legend gives value in scheme id: the
 * class named value (categorical and fixed schemes), or the class whose
 * range holds it (ramps). */
export function legendColor(schemes, id, value) {
  const s = schemes.find((s) => s.id === id);
  if (!s) return null;
  if (s.kind !== "ramp") return (s.classes.find((c) => c.value === value) || {}).color ?? null;
  let color = s.classes[0].color;
  for (const c of s.classes) if (value >= c.min) color = c.color;
  return color;
}

/** fitBBox moves the map to a [minLon, minLat, maxLon, maxLat] box. */
export function fitBBox(map, bbox, options = {}) {
  if (!bbox) return;
  map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 40, maxZoom: 13, ...options });
}

// Who is signed in, asked once per page: every edit control and every
// write's CSRF header depend on it.
let whoAmI;

/** me resolves to GET /api/me: {user (null when nobody is signed in),
 * csrf, read_access}. The answer is cached for the page's life; a server
 * that cannot say is taken as nobody signed in, so the pages still read. */
export function me() {
  whoAmI ??= fetchJSON("/api/me").catch(() => ({ user: null, csrf: null, read_access: "public" }));
  return whoAmI;
}

/** mayEdit reports whether user may change a row of countyCode: an admin
 * everything, a county user the rows of their counties, a viewer (or
 * nobody) nothing. The server decides again on every write. */
export function mayEdit(user, countyCode) {
  if (!user) return false;
  return user.role === "admin" || (user.role === "county" && (user.counties ?? []).includes(countyCode));
}

/** sendJSON sends body (omitted when undefined) to url with method, the
 * session's CSRF token and, when given, If-Match: etag. A PATCH is a JSON
 * merge patch (RFC 7396), anything else plain JSON. It resolves to
 * {body, etag} (the answer's ETag, for the next write); a non-2xx answer
 * throws an Error with the problem's detail as its message and status,
 * detail, invalidParams (the problem's "invalid-params", [] when none)
 * and facts (what a rule of the data judged when it refused the change,
 * null when none) as properties. */
export async function sendJSON(method, url, body, { etag, timeoutMs = 15000 } = {}) {
  const { csrf } = await me();
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
  if (etag) headers["If-Match"] = etag;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const resp = await fetch(url, {
      method, headers, signal: ctl.signal, credentials: "same-origin",
      // A write's answer must be the server's own, never a cached copy;
      // a read revalidates, so its ETag is the current one.
      cache: method === "GET" ? "no-cache" : "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = resp.status === 204 ? null : await resp.json().catch(() => null);
    if (!resp.ok) throw problemError(resp, answer);
    return { body: answer, etag: resp.headers.get("ETag") };
  } finally {
    clearTimeout(timer);
  }
}

/** problemError makes an RFC 9457 problem (or whatever came instead) an
 * Error the pages can show: the detail, else the title, else the status. */
function problemError(resp, problem) {
  const detail = (problem && (problem.detail || problem.title)) || `${resp.status} ${resp.statusText}`;
  const err = new Error(detail);
  err.status = resp.status;
  err.detail = detail;
  err.invalidParams = Array.isArray(problem?.["invalid-params"]) ? problem["invalid-params"] : [];
  err.facts = problem?.facts ?? null;
  return err;
}

/** loginHref is the login page, returning to this page afterwards. */
export function loginHref() {
  return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

// Roles as the header names them.
const roleLabels = { admin: "管理员", county: "县级", viewer: "只读" };

/** renderUser fills node (in a page's header) with who is signed in and
 * a way out — "张三（县级）· 退出" — or with a link to sign in. */
export async function renderUser(node) {
  const { user } = await me();
  if (!user) {
    // The page's URL moves with what it shows (the drill-down's region):
    // the link takes it as it is when followed, not as it was drawn.
    const fresh = (e) => { e.currentTarget.href = loginHref(); };
    node.replaceChildren(el("a", { href: loginHref(), onclick: fresh, onfocus: fresh, onmouseenter: fresh }, "登录"));
    return;
  }
  const logout = async () => {
    try {
      await sendJSON("POST", "/api/logout");
    } catch (err) {
      // Signed out already (an expired session) is as good as signed out.
      if (err.status !== 401) {
        node.title = err.message;
        return;
      }
    }
    location.reload();
  };
  node.replaceChildren(
    el("span", { "data-user": user.name }, `${user.name}（${roleLabels[user.role] ?? user.role}）`), "· ",
    el("button", { type: "button", class: "link", onclick: logout }, "退出"));
}
