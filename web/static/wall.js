// The command-centre wall: the whole city, its headline figures, and a
// tour of the counties, running all day without a hand on it. It follows
// the changes as they commit (the server's event stream) and refreshes
// its figures and tiles; when the server is away it says so and keeps
// trying, and catches up on what it missed when it is back.
import { changeInView, coalesce, createMap, el, fetchJSON, fitBBox, followChanges, int, percent, reloadTiles, renderLegend, topRegion, wan, yuan } from "./common.js";

// Published figures of Zunyi, first half of 2016: what the live figures
// are measured against (they are the campaign's starting line, not data).
const BASELINE = { poorPeople: 558300, povertyVillages: 645, relocation: 181000, projects: 544, funds: 464_000_000 };

const TOUR_MS = 12_000;

const $ = (id) => document.getElementById(id);

function tick() {
  $("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false });
}

// kpi is one headline figure; data-key and data-value carry the raw
// number, so what the wall shows can be checked against the database.
function kpi(key, raw, label, value, of, share) {
  return el("div", { class: "kpi", "data-key": key, "data-value": raw },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    el("div", { class: "of" }, of),
    el("div", { class: "meter" }, el("div", { style: `width:${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%` })));
}

function renderKPIs(city) {
  const f = city.figures;
  $("kpis").replaceChildren(
    kpi("poor_population", f.poor_population, "剩余贫困人口", wan(f.poor_population), `基线 ${wan(BASELINE.poorPeople)}`, 1 - f.poor_population / BASELINE.poorPeople),
    kpi("villages_not_exited", f.villages_not_exited, "未出列贫困村", `${int(f.villages_not_exited)} 个`, `基线 ${BASELINE.povertyVillages} 个，已出列 ${int(f.villages_exited)} 个`,
      (BASELINE.povertyVillages - f.villages_not_exited) / BASELINE.povertyVillages),
    kpi("site_moved_in_people", f.site_moved_in_people, "易地搬迁入住", wan(f.site_moved_in_people), `计划 ${wan(f.site_capacity_people)}（目标 ${wan(BASELINE.relocation)}）`,
      f.site_moved_in_people / (f.site_capacity_people || BASELINE.relocation)),
    kpi("projects_completed", f.projects_completed, "项目完工", `${int(f.projects_completed)} 个`, `共 ${int(f.projects)} 个（${percent(f.projects_completed, f.projects)}）`,
      f.projects_completed / (f.projects || 1)),
    kpi("funds_disbursed", f.funds_disbursed, "资金拨付", yuan(f.funds_disbursed), `计划 ${yuan(f.funds_planned)}`, f.funds_disbursed / (f.funds_planned || 1)),
    kpi("completion_avg", f.completion_avg ?? 0, "平均项目进度", `${(f.completion_avg ?? 0).toFixed(1)}%`, `贫困发生率 ${percent(f.poverty_incidence ?? 0, 1, 2)}`, (f.completion_avg ?? 0) / 100),
  );
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
  await renderLegend($("legend"), ["village_status", "poverty_incidence", "completion"]);

  let city = null;
  let stop = 0;

  async function refresh() {
    city = await fetchJSON(`/api/regions/${(await topRegion()).code}`);
    renderKPIs(city);
  }

  // The tour: the whole city, then each county in turn, forever. The
  // legend sits over the map's lower left: keep the view clear of it.
  const padding = () => ({ top: 30, right: 30, left: 30, bottom: $("legend").offsetHeight + 30 });
  async function tour() {
    if (!city) return;
    const counties = city.children;
    if (stop === 0) {
      fitBBox(map, city.bbox, { duration: 2000, padding: padding() });
      $("tour").replaceChildren(el("h2", {}, city.name), el("p", { class: "muted" }, `${counties.length} 个县（区、市）轮巡`));
    } else {
      const c = counties[(stop - 1) % counties.length];
      fitBBox(map, c.bbox, { duration: 3000, padding: padding() });
      renderCounty(c, (stop - 1) % counties.length, counties.length);
    }
    stop = (stop + 1) % (counties.length + 1);
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
