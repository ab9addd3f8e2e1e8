// Editing one feature and reading its history, shared by the drill-down's
// village panel and the planner's site panel. The form is built from the
// server's catalogue (catalogue.edits), and the server alone judges a
// value: the form sends what changed and shows the server's reasons
// beside the fields, so no rule is written twice.
import { el, fetchJSON, int, loginHref, sendJSON } from "./common.js";

// A region's feature names its own poverty status "status" (as every
// region collection does), while the stored field, in forms and in the
// audit, is "poverty_status".
const featureNames = { poverty_status: "status" };

/** current is the feature's value of the field name, null when it has none. */
function current(props, name) {
  const v = name in props ? props[name] : props[featureNames[name]];
  return v === undefined ? null : v;
}

/** input makes the control of field f holding value. */
function input(f, value, catalogue) {
  const id = `edit-${f.name}`;
  const common = { id, name: f.name, "data-field": f.name, "aria-describedby": `${id}-error`, "aria-required": f.required ? "true" : null };
  if (f.enum) {
    const options = catalogue.values(f.enum).map((v) => el("option", { value: v.value, selected: v.value === value }, v.label));
    // An optional enumeration can be cleared: the empty option is null.
    return el("select", common, f.required ? null : el("option", { value: "", selected: value == null }, "（无）"), options);
  }
  switch (f.kind) {
    case "boolean":
      return el("input", { ...common, type: "checkbox", checked: value === true });
    case "integer":
      return el("input", { ...common, type: "number", step: 1, min: f.min, max: f.max, value: value ?? "", inputmode: "numeric" });
    case "date":
      return el("input", { ...common, type: "date", value: value ?? "" });
    default:
      return el("input", {
        ...common, type: "text", value: value ?? "",
        ...(f.digits ? { inputmode: "numeric", maxlength: f.digits, pattern: `\\d{${f.digits}}` } : {}),
      });
  }
}

/** read is what control c of field f holds, as the patch sends it: an
 * empty control is null (clearing an optional field; the server says
 * so when the field is required). */
function read(f, c) {
  if (f.kind === "boolean") return c.checked;
  const v = c.value.trim();
  if (v === "") return null;
  // A number the control cannot parse is sent as typed, for the server to
  // refuse in its words.
  if (f.kind === "integer") return Number.isFinite(Number(v)) ? Number(v) : v;
  return v;
}

/** openEditor shows, in node, the form that edits feature code of
 * collection (catalogue.edits[collection]). noun names the feature for
 * messages ("该村"). onSaved(feature) runs after a save; onClose after the
 * form is closed, saved or not. */
export async function openEditor(node, { collection, code, noun, catalogue, onSaved, onClose }) {
  const fields = catalogue.edits?.[collection] ?? [];
  const url = `/collections/${collection}/items/${encodeURIComponent(code)}`;
  const alert = el("div", { role: "alert", class: "error form-problem" });
  const form = el("form", { class: "edit", novalidate: true, "aria-label": `编辑${noun}` });
  let etag;
  let original = {};
  const controls = new Map();

  const close = () => {
    node.replaceChildren();
    onClose?.();
  };

  // fill loads the feature's current values and ETag into the form.
  const fill = async () => {
    const { body: feature, etag: tag } = await sendJSON("GET", url);
    etag = tag;
    original = Object.fromEntries(fields.map((f) => [f.name, current(feature.properties ?? {}, f.name)]));
    controls.clear();
    form.replaceChildren(
      ...fields.map((f) => {
        const c = input(f, original[f.name], catalogue);
        controls.set(f.name, c);
        const label = `${f.label}${f.unit ? `（${f.unit}）` : ""}`;
        return el("div", { class: "field" },
          f.kind === "boolean"
            ? el("label", { for: c.id }, c, ` ${label}`)
            : [el("label", { for: c.id }, label), c],
          el("span", { class: "field-error", id: `${c.id}-error`, "data-field": f.name }));
      }),
      el("div", { class: "actions" },
        el("button", { type: "submit" }, "保存"),
        el("button", { type: "button", onclick: close }, "取消")));
  };

  const clearErrors = () => {
    alert.replaceChildren();
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    for (const c of controls.values()) c.removeAttribute("aria-invalid");
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const changed = {};
    for (const f of fields) {
      const v = read(f, controls.get(f.name));
      if (v !== original[f.name]) changed[f.name] = v;
    }
    if (!Object.keys(changed).length) {
      alert.textContent = "没有更改。";
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const { body: feature } = await sendJSON("PATCH", url, { properties: changed }, { etag });
      node.replaceChildren();
      await onSaved?.(feature);
      onClose?.();
    } catch (err) {
      showProblem(err);
    } finally {
      submit.disabled = false;
    }
  });

  // showProblem puts the server's refusal where it belongs: each invalid
  // field's reason beside it, the rest on top.
  const showProblem = async (err) => {
    switch (err.status) {
      case 401:
        alert.replaceChildren("登录已失效，请", el("a", { href: loginHref() }, "重新登录"), "后再保存。");
        return;
      case 412:
        alert.textContent = `${noun}已被他人修改，已载入最新数据，请核对后重新提交。`;
        try {
          await fill();
        } catch (again) {
          alert.textContent += ` 载入失败：${again.message}`;
        }
        return;
    }
    const elsewhere = [];
    for (const p of err.invalidParams ?? []) {
      const span = form.querySelector(`.field-error[data-field="${CSS.escape(p.name)}"]`);
      if (span) {
        span.textContent = span.textContent ? `${span.textContent}；${p.reason}` : p.reason;
        controls.get(p.name)?.setAttribute("aria-invalid", "true");
      } else {
        elsewhere.push(`${p.name}：${p.reason}`);
      }
    }
    // With fields named, the summary says so in the page's words (the
    // server's own detail names fields by their stored names).
    const summary = err.invalidParams?.length ? "未保存：以下标出的字段不符合数据规则，请修改后重新提交。" : (err.detail ?? err.message);
    alert.replaceChildren(el("p", {}, summary), ...(elsewhere.length ? [el("ul", {}, elsewhere.map((t) => el("li", {}, t)))] : []));
    form.querySelector("[aria-invalid=true]")?.focus();
  };

  node.replaceChildren(el("h3", {}, `编辑${noun}`), alert, form);
  try {
    await fill();
    form.querySelector("input, select")?.focus();
  } catch (err) {
    alert.textContent = `无法载入：${err.message}`;
  }
}

// What an audit entry did, as the history says it.
const actionLabels = { insert: "新增", update: "修改", delete: "删除", import: "导入", seed: "初始数据" };

// Stored columns that hold a geometry: the history says the place
// changed rather than print coordinates.
const geometryColumns = new Set(["geom", "point", "boundary"]);

const timeFmt = new Intl.DateTimeFormat("zh-CN", { dateStyle: "medium", timeStyle: "short" });

/** historyEntries fetches the newest audit entries (at most limit) of the
 * row key in tables, newest first: the audit takes a comma list of
 * tables, so one request serves a village kept in two. */
async function historyEntries(tables, row, limit) {
  const q = new URLSearchParams({ table: tables.join(","), row, limit });
  return (await fetchJSON(`/api/audit?${q}`)).entries;
}

/** renderHistory fills node with the row's history: a list (id
 * "history"), newest first, of when, who, and for a change each field as
 * "label: old → new", labelled by catalogue.edits[collection]. */
export async function renderHistory(node, { tables, row, collection, catalogue, limit = 20 }) {
  const fields = new Map((catalogue.edits?.[collection] ?? []).map((f) => [f.name, f]));
  const show = (f, v) => {
    if (v == null) return "（空）";
    if (f?.enum) return catalogue.label(f.enum, v);
    if (typeof v === "boolean") return v ? "是" : "否";
    if (typeof v === "number") return int(v);
    return String(v);
  };
  const changes = (e) => {
    if (!e.before || !e.after) return [];
    const out = [];
    let moved = false;
    for (const k of new Set([...Object.keys(e.before), ...Object.keys(e.after)])) {
      if (geometryColumns.has(k)) moved = true;
      const f = fields.get(k);
      // Columns the forms do not show (the parents' codes the database
      // keeps, say) are bookkeeping, not news.
      if (!f) continue;
      out.push(el("li", { "data-field": k }, `${f.label}：${show(f, e.before[k])} → ${show(f, e.after[k])}`));
    }
    if (moved) out.push(el("li", { "data-field": "geometry" }, "位置已更改"));
    return out;
  };
  let entries;
  try {
    entries = await historyEntries(tables, row, limit);
  } catch (err) {
    node.replaceChildren(el("h3", {}, "修改记录"), el("p", { class: "muted" }, `无法载入修改记录：${err.message}`));
    return;
  }
  node.replaceChildren(
    el("h3", {}, "修改记录"),
    ...(entries.length ? [] : [el("p", { class: "muted" }, "暂无修改记录")]),
    el("ol", { id: "history", class: "history" }, entries.map((e) => {
      const changed = changes(e);
      return el("li", { "data-actor": e.actor, "data-action": e.action },
        el("time", { datetime: e.at }, timeFmt.format(new Date(e.at))), " ",
        el("strong", {}, e.actor), ` ${actionLabels[e.action] ?? e.action}`,
        changed.length ? el("ul", {}, changed) : null);
    })));
}
