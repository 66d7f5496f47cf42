// Ivan's dashboard: bio and traits (bars, radar, each trait's history over published versions) from
// /api/personas/<slug>/, live over /ws/persona/<slug>/, the consistency score history, and for
// staff the drift of live replies per platform (/api/personas/<slug>/drift/).
import { api, backoffDelay, formatTime, h, t, wsUrl } from "./api.js";
import { drawDailyLines, drawScoreLine, drawSparkline, drawTraitBars, drawTraitRadar, humanize, percent } from "./charts.js";

const root = document.getElementById("persona");
const slug = root.dataset.slug;
const el = {
  name: document.getElementById("persona-name"),
  bio: document.getElementById("persona-bio"),
  version: document.getElementById("persona-version"),
  chart: document.getElementById("trait-chart"),
  list: document.getElementById("trait-list"),
  live: document.getElementById("persona-live"),
  conn: document.getElementById("persona-conn"),
  connLabel: document.getElementById("persona-conn-label"),
  scoreChart: document.getElementById("score-chart"),
  scoreTable: document.getElementById("score-table"),
  radar: document.getElementById("trait-radar"),
  drift: document.getElementById("drift"),
};
let traits = [];
let history = []; // [{version, published_at, traits: {name: value}}], oldest first
let version = null;
let attempt = 0;

function render(persona, { live = false } = {}) {
  if (persona.name) el.name.textContent = persona.name;
  const bio = persona.bio ?? persona.short_bio ?? persona.description;
  if (bio) el.bio.textContent = bio;
  if (persona.version) el.version.textContent = `· v${persona.version}`;
  const republished = live && version !== null && persona.version !== version;
  version = persona.version ?? version;
  const previous = new Map(traits.map((trait) => [trait.name, percent(trait)]));
  traits = Array.isArray(persona.traits) ? persona.traits : traits;
  const changed = new Set(
    traits.filter((trait) => previous.has(trait.name) && previous.get(trait.name) !== percent(trait)).map((trait) => trait.name),
  );
  drawTraitBars(el.chart, traits, { label: t("trait_chart"), changed });
  drawTraitRadar(el.radar, traits, { label: t("trait_radar") });
  renderTraitList(changed);
  if (republished) loadHistory(changed); // the new version is a new point on every trait's history
  if (republished || changed.size) el.live.textContent = t("persona_updated");
}

function traitHistory(name) {
  return history.filter((row) => name in row.traits).map((row) => ({ version: row.version, value: Number(row.traits[name]) }));
}

function renderTraitList(changed = new Set()) {
  el.list.replaceChildren(...traits.flatMap((trait) => {
    const values = traitHistory(trait.name);
    const title = h("dt", { text: `${humanize(trait.name)} — ${percent(trait)}`, class: changed.has(trait.name) ? "flash" : null });
    // one published version is not a history: a lone dot next to the heading only puzzled readers
    if (values.length > 1) title.append(drawSparkline(values, { label: `${humanize(trait.name)}: ${t("trait_history")}` }));
    return [title, h("dd", { text: trait.description || "" })];
  }));
}

async function loadHistory(changed = new Set()) {
  try {
    const rows = await api(`/api/personas/${slug}/traits/history/`);
    history = Array.isArray(rows) ? rows : [];
  } catch {
    history = [];
  }
  renderTraitList(changed);
}

function lastDays(since, count) {
  const start = new Date(`${since}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10));
}

async function loadDrift() {
  if (!el.drift) return; // staff only
  const chart = document.getElementById("drift-chart");
  const table = document.getElementById("drift-table");
  let data;
  try {
    data = await api(`/api/personas/${slug}/drift/`);
  } catch {
    chart.replaceChildren(h("p", { class: "hint", text: t("drift_failed") }));
    return;
  }
  if (data.baseline !== null && data.baseline !== undefined) {
    document.getElementById("drift-baseline").textContent = t("drift_baseline", { share: `${Math.round(data.baseline * 100)}%` });
  }
  const platforms = Object.entries(data.platforms || {});
  if (!platforms.length) {
    chart.replaceChildren(h("p", { class: "hint", text: t("drift_empty") }));
    return;
  }
  const series = platforms.map(([name, days]) => ({ name, points: days.map((d) => ({ day: d.day, value: d.in_character })) }));
  const marks = (data.published || []).map((p) => ({ day: p.day, text: t("drift_published", { version: p.version }) }));
  drawDailyLines(chart, series, { days: lastDays(data.since, data.days), marks, label: t("drift_chart") });
  table.replaceChildren(h("table", { class: "data" },
    h("caption", { class: "visually-hidden", text: t("drift_chart") }),
    h("thead", {}, h("tr", {}, ...["platform", "day", "samples", "in_character", "words"].map((key) => h("th", { scope: "col", text: t(key) })))),
    h("tbody", {}, ...platforms.flatMap(([name, days]) => days.slice(-7).reverse().map((d) => h("tr", { "data-platform": name },
      h("td", { text: name }),
      h("td", { text: d.day }),
      h("td", { text: String(d.samples) }),
      h("td", { text: `${Math.round(d.in_character * 100)}%` }),
      h("td", { text: String(Math.round(d.markers.words)) }),
    ))))));
}

function setConnection(name, detail) {
  el.conn.dataset.state = name;
  el.connLabel.textContent = detail || t(name);
}

function connect() {
  setConnection(attempt ? "reconnecting" : "connecting");
  const socket = new WebSocket(wsUrl(`/ws/persona/${slug}/`));
  socket.addEventListener("open", () => { attempt = 0; setConnection("online"); });
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "persona.updated" && frame.persona) render(frame.persona, { live: true });
    if (frame.type === "ready") setConnection("online");
  });
  socket.addEventListener("close", () => {
    const delay = backoffDelay(attempt);
    attempt += 1;
    setConnection("reconnecting", t("reconnect_in", { s: Math.ceil(delay / 1000) }));
    setTimeout(async () => {
      await load(); // catch up on changes missed while disconnected
      connect();
    }, delay);
  });
}

async function load() {
  try {
    render(await api(`/api/personas/${slug}/`));
  } catch {
    el.bio.textContent = t("load_failed");
  }
}

async function loadScores() {
  let runs = [];
  try {
    const data = await api(`/api/personas/${slug}/evaluations/`);
    runs = Array.isArray(data) ? data : data.results || [];
  } catch {
    runs = [];
  }
  const points = runs
    .map((run) => ({ at: new Date(run.created || run.finished_at || run.started_at), score: Number(run.score), run }))
    .filter((p) => Number.isFinite(p.score) && !Number.isNaN(p.at.getTime()))
    .sort((a, b) => a.at - b.at);
  if (!points.length) {
    el.scoreChart.replaceChildren(h("p", { class: "hint", text: t("no_scores") }));
    return;
  }
  drawScoreLine(el.scoreChart, points, { label: t("score_chart") });
  el.scoreTable.replaceChildren(h("table", { class: "data" },
    h("caption", { class: "visually-hidden", text: t("score_chart") }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("when") }), h("th", { scope: "col", text: t("score") }), h("th", { scope: "col", text: t("model") }))),
    h("tbody", {}, ...points.slice(-8).reverse().map((p) => h("tr", {},
      h("td", { text: formatTime(p.at.toISOString()) }),
      h("td", { text: String(Math.round(p.score * 100)) }),
      h("td", { text: p.run.model || "" }),
    )))));
}

load().then(connect);
loadHistory();
loadScores();
loadDrift();
