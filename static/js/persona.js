// Ivan's dashboard: bio and traits from /api/personas/<slug>/, live over /ws/persona/<slug>/,
// and the consistency score history.
import { api, backoffDelay, formatTime, h, t, wsUrl } from "./api.js";
import { drawScoreLine, drawTraitBars, humanize, percent } from "./charts.js";

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
};
let traits = [];
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
  el.list.replaceChildren(...traits.flatMap((trait) => [
    h("dt", { text: `${humanize(trait.name)} — ${percent(trait)}`, class: changed.has(trait.name) ? "flash" : null }),
    h("dd", { text: trait.description || "" }),
  ]));
  if (republished || changed.size) el.live.textContent = t("persona_updated");
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
loadScores();
