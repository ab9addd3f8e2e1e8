// The drill-down's 贫困退出 panel (有进有出) for a village, township or
// county: its place in the registry, its figures against its level's
// exit standard, until when its policies continue once exited
// (摘帽不摘政策), the registry's events under it, and, for a user who may
// change it, 出列/摘帽 and 返贫登记. Every figure is the server's
// (/api/regions/{code}/registry); the database decides every exit, and a
// refusal is shown with the standard and the figures it judged.
import { el, fetchJSON, int, sendJSON } from "./common.js";

/** pct writes a share (0.0312) as a percentage: "3.12%"; "–" for none. */
function pct(x, digits = 2) {
  return x == null ? "–" : `${(x * 100).toFixed(digits)}%`;
}

/** rule writes a standard's share without trailing zeros: 0.03 → "3%". */
function rule(x) {
  return `${+(x * 100).toFixed(3)}%`;
}

/** chineseDay writes YYYY-MM-DD as YYYY年M月D日. */
function chineseDay(d) {
  const [y, m, day] = d.split("-");
  return `${y}年${+m}月${+day}日`;
}

/** when writes an RFC 3339 moment in China Standard Time (as the server
 * gives them) as "YYYY-MM-DD HH:MM". */
function when(at) {
  return `${at.slice(0, 10)} ${at.slice(11, 16)}`;
}

/**
 * standardText says what a unit's figures f are against standard s:
 * "贫困发生率 5.12%（贫困人口 51 / 户籍人口 996），标准为低于 3%", and for
 * a township or county the share of its poverty villages exited against
 * the standard's. f and s are the registry's figures and standard, or a
 * refusal's facts.figures and facts.standard: they name the same fields.
 */
function standardText(f, s) {
  const parts = [`贫困发生率 ${pct(f.incidence)}（贫困人口 ${int(f.poor_population)} / 户籍人口 ${int(f.population)}），标准为低于 ${rule(s.max_incidence)}`];
  if (s.min_villages_exited != null) {
    parts.push(`贫困村已出列 ${int(f.exited_villages)} / ${int(f.poverty_villages)}，标准为至少 ${rule(s.min_villages_exited)}`);
  }
  return parts.join("；");
}

/** mayChange reports whether user may exit or return the unit: an admin
 * any, a county user the townships and villages of their counties (the
 * county row itself is the city's to change). */
function mayChange(user, registry, county) {
  if (!user) return false;
  if (user.role === "admin") return true;
  return user.role === "county" && registry.level !== "county" && (user.counties ?? []).includes(county);
}

let asked = 0;

/**
 * renderRegistry fills node with the registry of the region code as of
 * at ("" for now). ctx: {catalogue, user, county (the region's county),
 * onChanged (after an exit or a return is made)}. A region that is no
 * poverty unit (the city) shows its units' events only. The past is
 * read, never changed: with at, no form is offered.
 */
export async function renderRegistry(node, code, at, ctx) {
  const mine = ++asked;
  let g;
  try {
    g = await fetchJSON(`/api/regions/${code}/registry${at ? `?at=${at}` : ""}`);
  } catch (err) {
    if (mine === asked) node.replaceChildren(el("h3", {}, "贫困退出"), el("p", { class: "muted" }, `无法载入退出登记：${err.message}`));
    return;
  }
  if (mine !== asked) return;
  window.battlemap.registry = g;
  node.dataset.code = g.code;
  const { catalogue } = ctx;
  // A region with no standard (the city) is no poverty unit: its
  // events are its units'.
  const facts = g.standard ? [el("dt", {}, "登记状态"), el("dd", { "data-field": "status" }, catalogue.label("poverty_status", g.status))] : [];
  if (g.exit_year != null) facts.push(el("dt", {}, "出列（摘帽）年份"), el("dd", { "data-field": "exit_year" }, `${g.exit_year}年`));
  if (g.standard) facts.push(el("dt", {}, "退出标准"), el("dd", { "data-field": "meets" }, g.meets_standard ? "达到" : "未达到"));
  const actions = el("div", { class: "registry-actions", "aria-live": "polite" });
  node.replaceChildren(
    el("h3", {}, "贫困退出（有进有出）"),
    facts.length ? el("dl", { class: "facts" }, facts) : null,
    g.standard ? el("p", { class: "muted", "data-field": "standard" }, standardText(g.figures, g.standard)) : null,
    g.policies_until ? el("p", { class: "policies", "data-field": "policies_until" }, `摘帽不摘政策：政策保持至${chineseDay(g.policies_until)}`) : null,
    actions,
    el("h4", {}, `退出登记记录（${int(g.events_total)}）`),
    g.events.length ? el("ol", { class: "history registry-events", id: "registry-events" }, g.events.map((e) => eventItem(e, g.code, catalogue))) : el("p", { class: "muted" }, "无"));
  if (!at && g.standard && mayChange(ctx.user, g, ctx.county)) {
    if (g.status === "not_exited") actions.append(exitButton(actions, g, ctx));
    if (g.status === "exited") actions.append(returnButton(actions, g, ctx));
  }
}

/** eventItem is one registry event: when, who, what, the unit when it is
 * one under the region shown, its incidence against the standard, the
 * reason given, and 越标准批准 for an exit an admin made over it. */
function eventItem(e, code, catalogue) {
  return el("li", { "data-kind": e.kind, "data-override": e.override ? "true" : null },
    el("time", { datetime: e.at }, when(e.at)), " ",
    el("strong", {}, catalogue.label("registry_event", e.kind)),
    e.region.code !== code ? ` ${e.region.name}` : "",
    ` · ${e.actor}`,
    e.override ? el("span", { class: "override" }, " ⚠ 越标准批准") : null,
    el("ul", {},
      e.incidence != null || e.max_incidence != null
        ? el("li", {}, `贫困发生率 ${pct(e.incidence)}${e.max_incidence != null ? `（标准 < ${rule(e.max_incidence)}）` : ""}`
          + (e.poverty_villages != null && e.region.level !== "village" && e.min_villages_exited != null
            ? `；贫困村出列 ${int(e.exited_villages)}/${int(e.poverty_villages)}（标准 ≥ ${rule(e.min_villages_exited)}）` : ""))
        : null,
      e.reason ? el("li", { class: "reason" }, `理由：${e.reason}`) : null));
}

/** exitButton is 出列/摘帽: it asks the exit year and sends the exit; a
 * refusal shows the standard and the figures, and offers an admin the
 * override with a written reason, which is required. */
function exitButton(actions, g, ctx) {
  const noun = g.level === "village" ? "出列" : "摘帽";
  return el("button", {
    type: "button", id: "exit-open",
    onclick: () => {
      const year = el("input", { type: "number", id: "exit-year", min: 2000, max: new Date().getFullYear(), value: new Date().getFullYear(), required: true });
      const problem = el("div", { class: "form-problem", id: "exit-problem", role: "alert" });
      const override = el("div", { id: "exit-override", hidden: true });
      const send = async (reason) => {
        problem.replaceChildren();
        try {
          await sendJSON("POST", `/api/regions/${g.code}/exit`, reason ? { exit_year: +year.value, reason } : { exit_year: +year.value });
        } catch (err) {
          showRefusal(problem, override, err, g, ctx, send);
          return;
        }
        ctx.onChanged();
      };
      const form = el("form", { class: "edit", id: "exit-form", onsubmit: (e) => { e.preventDefault(); send(""); } },
        el("div", { class: "field" }, el("label", { for: "exit-year" }, `${noun}年份`), year),
        el("div", { class: "actions" },
          el("button", { type: "submit", id: "exit-submit" }, `确认${noun}`),
          el("button", { type: "button", onclick: () => actions.replaceChildren(exitButton(actions, g, ctx)) }, "取消")),
        problem, override);
      actions.replaceChildren(form);
      year.focus();
    },
  }, `出列/摘帽`);
}

/** showRefusal puts a refused exit's reason in problem: for an exit below
 * the standard, the unit's figures against it from the refusal's facts,
 * and, to an admin, the override form in override. */
function showRefusal(problem, override, err, g, ctx, send) {
  const f = err.facts;
  if (err.status !== 422 || !f || f.rule !== "exit_standard") {
    problem.replaceChildren(el("p", {}, `未能${g.level === "village" ? "出列" : "摘帽"}：${err.message}`));
    return;
  }
  problem.replaceChildren(el("p", { "data-rule": f.rule }, `未达到退出标准，未予${g.level === "village" ? "出列" : "摘帽"}：${standardText(f.figures, f.standard)}。`));
  if (ctx.user?.role !== "admin" || !override.hidden) return;
  const reason = el("textarea", { id: "exit-reason", rows: 3, required: true, maxlength: 2000 });
  const missing = el("p", { class: "field-error", id: "exit-reason-missing" });
  override.hidden = false;
  override.replaceChildren(
    el("p", {}, "管理员可书面说明理由，越过退出标准批准（将记录理由并提示核查）。"),
    el("div", { class: "field" }, el("label", { for: "exit-reason" }, "越标准批准理由（必填）"), reason),
    missing,
    el("button", {
      type: "button", id: "exit-override-submit",
      onclick: () => {
        if (!reason.value.trim()) {
          missing.textContent = "请填写理由";
          reason.setAttribute("aria-invalid", "true");
          reason.focus();
          return;
        }
        send(reason.value.trim());
      },
    }, "越标准批准"));
  reason.focus();
}

/** returnButton is 返贫登记: it asks why and, for a village, its poor
 * households and people, and sends the return. */
function returnButton(actions, g, ctx) {
  return el("button", {
    type: "button", id: "return-open",
    onclick: () => {
      const reason = el("textarea", { id: "return-reason", rows: 2, required: true, maxlength: 2000 });
      const figures = g.level === "village"
        ? [["poor_households", "贫困户（户）"], ["poor_population", "贫困人口（人）"]].map(([name, label]) =>
          [name, el("input", { type: "number", id: `return-${name}`, min: 1, required: true }), label])
        : [];
      const problem = el("div", { class: "form-problem", id: "return-problem", role: "alert" });
      const form = el("form", {
        class: "edit", id: "return-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { reason: reason.value.trim() };
          for (const [name, input] of figures) body[name] = +input.value;
          try {
            await sendJSON("POST", `/api/regions/${g.code}/return`, body);
          } catch (err) {
            problem.replaceChildren(el("p", {}, `未能登记返贫：${err.message}`),
              ...err.invalidParams.map((p) => el("p", { class: "field-error" }, `${p.name}：${p.reason}`)));
            return;
          }
          ctx.onChanged();
        },
      },
      el("div", { class: "field" }, el("label", { for: "return-reason" }, "返贫原因（必填）"), reason),
      figures.map(([name, input, label]) => el("div", { class: "field" }, el("label", { for: `return-${name}` }, label), input)),
      el("div", { class: "actions" },
        el("button", { type: "submit", id: "return-submit" }, "确认返贫登记"),
        el("button", { type: "button", onclick: () => actions.replaceChildren(returnButton(actions, g, ctx)) }, "取消")),
      problem);
      actions.replaceChildren(form);
      reason.focus();
    },
  }, "返贫登记");
}
