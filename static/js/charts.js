// Hand-drawn SVG charts: horizontal trait bars and a score line. Each chart is an <svg role="img">
// with a text alternative; the numbers are also in the page as text.
const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Trait values are 0..1 (min/max are the editorial bounds a value may move within).
function share(trait) {
  return Math.max(0, Math.min(1, Number(trait.value) || 0));
}

export function percent(trait) {
  return Math.round(share(trait) * 100);
}

export function humanize(name) {
  const text = String(name).replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Bars for traits, redrawn in place: existing bars animate to their new width (CSS transition,
 * switched off under prefers-reduced-motion). `changed` names get a highlight.
 */
export function drawTraitBars(container, traits, { label, changed = new Set() } = {}) {
  const rowHeight = 34;
  const width = 560;
  const labelWidth = 170;
  const barWidth = width - labelWidth - 56;
  const height = Math.max(rowHeight, traits.length * rowHeight + 6);
  let svg = container.querySelector("svg.trait-chart");
  if (!svg) {
    svg = svgEl("svg", { class: "trait-chart", role: "img" });
    container.replaceChildren(svg);
  }
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const summary = traits.map((trait) => `${humanize(trait.name)} ${percent(trait)}`).join(", ");
  svg.setAttribute("aria-label", `${label}: ${summary}`);
  const existing = new Map([...svg.querySelectorAll("g[data-trait]")].map((g) => [g.dataset.trait, g]));
  traits.forEach((trait, index) => {
    const y = index * rowHeight + 4;
    let group = existing.get(trait.name);
    if (!group) {
      group = svgEl("g", { "data-trait": trait.name });
      group.append(
        svgEl("text", { x: 0, y: y + 19, class: "name" }, humanize(trait.name)),
        svgEl("rect", { class: "track", x: labelWidth, y: y + 6, width: barWidth, height: 16, rx: 8 }),
        svgEl("rect", { class: "bar", x: labelWidth, y: y + 6, width: 0, height: 16, rx: 8 }),
        svgEl("text", { class: "value", x: labelWidth + barWidth + 10, y: y + 19 }, ""),
      );
      svg.append(group);
    }
    existing.delete(trait.name);
    group.querySelector(".name").setAttribute("y", y + 19);
    group.querySelector(".track").setAttribute("y", y + 6);
    const bar = group.querySelector(".bar");
    bar.setAttribute("y", y + 6);
    bar.classList.toggle("changed", changed.has(trait.name));
    const value = group.querySelector(".value");
    value.setAttribute("y", y + 19);
    value.textContent = String(percent(trait));
    // Next frame, so a newly added bar animates from 0 as well.
    requestAnimationFrame(() => {
      bar.setAttribute("width", Math.max(2, share(trait) * barWidth).toFixed(1));
      bar.style.width = `${Math.max(2, share(trait) * barWidth).toFixed(1)}px`;
    });
  });
  for (const stale of existing.values()) stale.remove();
}

/** A line of scores (0..1) over time with dots; `points` are {at: Date, score: number}. */
export function drawScoreLine(container, points, { label }) {
  const width = 560;
  const height = 220;
  const pad = { left: 40, right: 14, top: 12, bottom: 30 };
  const svg = svgEl("svg", { class: "score-chart", role: "img", viewBox: `0 0 ${width} ${height}` });
  const last = points[points.length - 1];
  svg.setAttribute("aria-label", `${label}: ${points.map((p) => Math.round(p.score * 100)).join(", ")}`);
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (points.length === 1 ? innerW / 2 : (i / (points.length - 1)) * innerW);
  const y = (score) => pad.top + (1 - Math.max(0, Math.min(1, score))) * innerH;
  for (const tick of [0, 0.5, 1]) {
    svg.append(svgEl("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick) }));
    svg.append(svgEl("text", { x: 4, y: y(tick) + 4 }, String(Math.round(tick * 100))));
  }
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.score).toFixed(1)}`).join(" ");
  svg.append(svgEl("path", { class: "line", d: path }));
  points.forEach((p, i) => svg.append(svgEl("circle", { class: "pt", cx: x(i), cy: y(p.score), r: 4 })));
  const fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { month: "short", day: "numeric" });
  if (points.length) {
    svg.append(svgEl("text", { x: pad.left, y: height - 8 }, fmt.format(points[0].at)));
    if (points.length > 1) svg.append(svgEl("text", { x: width - pad.right - 48, y: height - 8 }, fmt.format(last.at)));
  }
  container.replaceChildren(svg);
}

/**
 * A radar of trait values (0..1): one spoke per trait, the value polygon over rings at 25/50/75/100.
 * Redrawn in place on every update (the polygon's points change; no animation needed).
 */
export function drawTraitRadar(container, traits, { label }) {
  const size = 320;
  const center = size / 2;
  const radius = center - 56;
  const svg = svgEl("svg", { class: "trait-radar", role: "img", viewBox: `0 0 ${size} ${size}` });
  svg.setAttribute("aria-label", `${label}: ${traits.map((trait) => `${humanize(trait.name)} ${percent(trait)}`).join(", ")}`);
  const angle = (i) => (Math.PI * 2 * i) / Math.max(1, traits.length) - Math.PI / 2;
  const point = (i, value) => [center + Math.cos(angle(i)) * radius * value, center + Math.sin(angle(i)) * radius * value];
  for (const ring of [0.25, 0.5, 0.75, 1]) {
    const ringPoints = traits.map((_, i) => point(i, ring).map((n) => n.toFixed(1)).join(",")).join(" ");
    svg.append(svgEl("polygon", { class: "ring", points: ringPoints }));
  }
  traits.forEach((trait, i) => {
    const [x, y] = point(i, 1);
    svg.append(svgEl("line", { class: "spoke", x1: center, y1: center, x2: x.toFixed(1), y2: y.toFixed(1) }));
    const [lx, ly] = point(i, 1.16);
    const anchor = Math.abs(lx - center) < 8 ? "middle" : lx > center ? "start" : "end";
    svg.append(svgEl("text", { class: "name", x: lx.toFixed(1), y: (ly + 4).toFixed(1), "text-anchor": anchor }, humanize(trait.name)));
  });
  const shape = traits.map((trait, i) => point(i, share(trait)).map((n) => n.toFixed(1)).join(",")).join(" ");
  svg.append(svgEl("polygon", { class: "value", points: shape }));
  traits.forEach((trait, i) => {
    const [x, y] = point(i, share(trait));
    svg.append(svgEl("circle", { class: "pt", cx: x.toFixed(1), cy: y.toFixed(1), r: 3 }));
  });
  container.replaceChildren(svg);
}

/** A small line of one trait's value (0..1) across published versions; `values` are [{version, value}]. */
export function drawSparkline(values, { label }) {
  const width = 120;
  const height = 28;
  const svg = svgEl("svg", { class: "sparkline", role: "img", viewBox: `0 0 ${width} ${height}`, width, height });
  svg.setAttribute("aria-label", `${label}: ${values.map((v) => `v${v.version} ${Math.round(v.value * 100)}`).join(", ")}`);
  const x = (i) => 4 + (values.length === 1 ? (width - 8) / 2 : (i / (values.length - 1)) * (width - 8));
  const y = (value) => 4 + (1 - Math.max(0, Math.min(1, value))) * (height - 8);
  if (values.length > 1) {
    svg.append(svgEl("path", { class: "line", d: values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v.value).toFixed(1)}`).join(" ") }));
  }
  values.forEach((v, i) => {
    const dot = svgEl("circle", { class: "pt", cx: x(i).toFixed(1), cy: y(v.value).toFixed(1), r: 2.5 });
    dot.append(svgEl("title", {}, `v${v.version}: ${Math.round(v.value * 100)}`));
    svg.append(dot);
  });
  return svg;
}

/**
 * Daily lines per series (e.g. per platform) of a 0..1 share, with dashed marks on the days a
 * version was published. `series`: [{name, points: [{day: "YYYY-MM-DD", value}]}]; `marks`:
 * [{day, text}]; `days`: the x axis, oldest first.
 */
export function drawDailyLines(container, series, { days, marks = [], label }) {
  const width = 560;
  const height = 220;
  const pad = { left: 40, right: 14, top: 14, bottom: 30 };
  const svg = svgEl("svg", { class: "drift-chart", role: "img", viewBox: `0 0 ${width} ${height}` });
  svg.setAttribute("aria-label", `${label}: ${series.map((s) => `${s.name} ${s.points.map((p) => `${p.day} ${Math.round(p.value * 100)}`).join(", ")}`).join("; ")}`);
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const index = new Map(days.map((day, i) => [day, i]));
  const x = (day) => pad.left + (days.length === 1 ? innerW / 2 : (index.get(day) / (days.length - 1)) * innerW);
  const y = (value) => pad.top + (1 - Math.max(0, Math.min(1, value))) * innerH;
  for (const tick of [0, 0.5, 1]) {
    svg.append(svgEl("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick) }));
    svg.append(svgEl("text", { x: 4, y: y(tick) + 4 }, String(Math.round(tick * 100))));
  }
  for (const mark of marks.filter((m) => index.has(m.day))) {
    svg.append(svgEl("line", { class: "mark", x1: x(mark.day), x2: x(mark.day), y1: pad.top, y2: height - pad.bottom }));
    svg.append(svgEl("text", { class: "mark-label", x: x(mark.day) + 3, y: pad.top + 10 }, mark.text));
  }
  series.forEach((s, n) => {
    const points = s.points.filter((p) => index.has(p.day));
    if (points.length > 1) {
      svg.append(svgEl("path", { class: `line series-${n % 4}`, d: points.map((p, i) => `${i ? "L" : "M"}${x(p.day).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ") }));
    }
    points.forEach((p) => svg.append(svgEl("circle", { class: `pt series-${n % 4}`, cx: x(p.day), cy: y(p.value), r: 3.5 })));
  });
  if (days.length) {
    svg.append(svgEl("text", { x: pad.left, y: height - 8 }, days[0]));
    if (days.length > 1) svg.append(svgEl("text", { x: width - pad.right - 70, y: height - 8 }, days[days.length - 1]));
  }
  container.replaceChildren(svg);
}

/**
 * A small time series (ops dashboard): `points` are [unixSeconds, value]; the line is drawn on a
 * 0..max scale with the latest value as a dot. The text alternative names the last value.
 */
export function drawTimeSeries(container, points, { label, unit = "" }) {
  const width = 220;
  const height = 44;
  const pad = 3;
  const values = points.map((p) => Number(p[1])).filter((v) => Number.isFinite(v));
  const svg = svgEl("svg", { class: "ops-spark", role: "img", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  const last = values.length ? values[values.length - 1] : null;
  svg.setAttribute("aria-label", `${label}: ${last === null ? "—" : `${last} ${unit}`.trim()}`);
  if (points.length >= 2) {
    const t0 = points[0][0];
    const span = Math.max(1, points[points.length - 1][0] - t0);
    const max = Math.max(...values, 1e-9);
    const x = (t) => pad + ((t - t0) / span) * (width - 2 * pad);
    const y = (v) => height - pad - (Math.max(0, v) / max) * (height - 2 * pad);
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(Number(p[1])).toFixed(1)}`).join(" ");
    svg.append(svgEl("path", { class: "line", d }));
    const tail = points[points.length - 1];
    svg.append(svgEl("circle", { class: "pt", cx: x(tail[0]).toFixed(1), cy: y(Number(tail[1])).toFixed(1), r: 2.5 }));
  }
  container.replaceChildren(svg);
}
