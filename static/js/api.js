// Shared helpers for page scripts: translated strings, CSRF-protected JSON fetch, small DOM helpers.

let strings = null;

/** The translated string `key` (rendered by the server into #js-strings), with %(name)s filled in. */
export function t(key, params = {}) {
  if (strings === null) {
    const node = document.getElementById("js-strings");
    strings = node ? JSON.parse(node.textContent) : {};
  }
  let text = strings[key] ?? key;
  for (const [name, value] of Object.entries(params)) {
    text = text.replace(`%(${name})s`, String(value));
  }
  return text;
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** fetch() for our JSON API with the session cookie and the CSRF header; throws ApiError on 4xx/5xx. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  if (response.status === 204 || response.status === 205) return null;
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await response.json();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A list endpoint's items whether it is paginated ({results, next}) or a plain array. */
export async function apiList(path, { maxPages = 20 } = {}) {
  const items = [];
  let url = path;
  for (let page = 0; url && page < maxPages; page += 1) {
    const data = await api(url);
    if (Array.isArray(data)) return items.concat(data);
    items.push(...(data.results || []));
    url = data.next ? new URL(data.next, location.origin).pathname + new URL(data.next, location.origin).search : null;
  }
  return items;
}

/** document.createElement with properties, attributes and children; text only ever via textContent. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An <svg><use></svg> icon from the sprite. */
export function icon(name, sprite) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "nav-icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `${sprite}#${name}`);
  svg.append(use);
  return svg;
}

export function formatTime(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(document.documentElement.lang || undefined, options).format(date);
}

export const prefersReducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

/** Backoff delays for reconnecting sockets: 0.5 s doubling to 15 s, with jitter. */
export function backoffDelay(attempt) {
  const base = Math.min(15000, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}
