// The operations dashboard: the page arrives complete; frames over /ws/ops/ update every number,
// badge, table and sparkline in place. Words come from the server (#ops-words, translated).
import { backoffDelay, t, wsUrl } from "./api.js";
import { drawTimeSeries } from "./charts.js";

const root = document.getElementById("ops");
const words = JSON.parse(document.getElementById("ops-words").textContent);
const el = {
  conn: document.getElementById("ops-conn"),
  connLabel: document.getElementById("ops-conn-label"),
  updated: document.getElementById("ops-updated"),
  live: document.getElementById("ops-live"),
};
let attempt = 0;
let lastStatus = root.dataset.status;

function word(value) {
  return Object.prototype.hasOwnProperty.call(words, value) ? words[value] : value;
}

function format(value, unit) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return word(value);
  if (unit === "s" && value >= 3600) return `${(value / 3600).toFixed(1)} h`;
  if (!Number.isInteger(value)) return Math.abs(value) >= 10 ? value.toLocaleString(undefined, { maximumFractionDigits: 1 }) : value.toFixed(2);
  return value.toLocaleString();
}

function setStatus(node, status) {
  node.dataset.status = status;
  const badge = node.querySelector(":scope > h2 .badge");
  if (badge) {
    badge.dataset.status = status;
    badge.textContent = word(status);
  }
}

function renderRows(panelNode, rows) {
  const table = panelNode.querySelector("table[data-rows]");
  if (!table) return;
  const columns = [...table.querySelectorAll("thead th")].map((th) => th.dataset.col);
  const body = table.tBodies[0];
  if (!rows.length) return;
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.status = row.status || "none";
    for (const column of columns) {
      const td = document.createElement("td");
      td.textContent = format(row[column], "");
      tr.append(td);
    }
    return tr;
  }));
}

function render(frame) {
  for (const [key, panel] of Object.entries(frame.panels || {})) {
    const panelNode = document.getElementById(`panel-${key}`);
    if (!panelNode) continue;
    setStatus(panelNode, panel.status);
    for (const [statKey, stat] of Object.entries(panel.stats || {})) {
      const node = panelNode.querySelector(`[data-stat="${key}.${statKey}"]`);
      if (!node) continue;
      node.dataset.status = stat.status;
      node.querySelector(".value").textContent = format(stat.value, node.dataset.unit);
      node.querySelector(".state").textContent = word(stat.status);
    }
    renderRows(panelNode, panel.rows || []);
  }
  for (const spark of root.querySelectorAll(".spark[data-series]")) {
    const points = (frame.series || {})[spark.dataset.series] || [];
    const unit = spark.closest("[data-unit]")?.dataset.unit || "";
    drawTimeSeries(spark, points, { label: spark.dataset.label, unit });
  }
  if (frame.at) {
    el.updated.dateTime = frame.at;
    el.updated.textContent = new Date(frame.at).toLocaleTimeString();
  }
  if (frame.status && frame.status !== lastStatus) {
    el.live.textContent = `${word(frame.status)}`;
    lastStatus = frame.status;
  }
  root.dataset.status = frame.status || root.dataset.status;
}

function setConnection(name) {
  el.conn.dataset.state = name;
  el.connLabel.textContent = t(name);
}

function connect() {
  setConnection(attempt ? "reconnecting" : "connecting");
  const socket = new WebSocket(wsUrl("/ws/ops/"));
  socket.addEventListener("open", () => { attempt = 0; setConnection("online"); });
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "ops.frame") render(frame);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4403) { setConnection("offline"); return; }
    setConnection("offline");
    attempt += 1;
    setTimeout(connect, backoffDelay(attempt));
  });
}

render(JSON.parse(document.getElementById("ops-frame").textContent));
connect();
