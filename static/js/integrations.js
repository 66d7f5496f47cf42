// Integrations page: state of each provider from /api/integrations/, switches, sync now.
import { api, ApiError, formatTime, h, t } from "./api.js";

const statusBox = document.getElementById("integrations-status");
const cards = new Map([...document.querySelectorAll(".provider[data-provider]")].map((card) => [card.dataset.provider, card]));

function say(text) {
  statusBox.textContent = text;
  statusBox.hidden = !text;
}

function kindLabel(kind) {
  return kind.charAt(0).toUpperCase() + kind.slice(1).replace(/_/g, " ");
}

const STATUS_BADGE = { active: "ok", paused: "warn", reconnect_needed: "danger", not_connected: "" };

function renderProvider(card, integration) {
  const provider = card.dataset.provider;
  const state = card.querySelector("[data-role=state]");
  const details = card.querySelector("[data-role=details]");
  const connect = card.querySelector("[data-role=connect]");
  const status = integration.status || (integration.connected ? "active" : "not_connected");
  state.className = `badge ${STATUS_BADGE[status] ?? ""}`;
  state.textContent = t(`status_${status}`);
  if (connect) {
    connect.hidden = Boolean(integration.connected) && !integration.reconnect_needed;
    connect.textContent = integration.reconnect_needed ? t("reconnect") : connect.dataset.label || connect.textContent;
  }
  if (!integration.connected) {
    details.replaceChildren();
    return;
  }
  const urls = integration.urls || {};
  const enabledId = `enabled-${provider}`;
  const enabled = h("input", { type: "checkbox", id: enabledId, checked: integration.enabled ? true : null });
  enabled.addEventListener("change", () => patch(provider, { enabled: enabled.checked }, enabled));
  const counts = integration.items_by_kind || {};
  const kinds = h("ul", { class: "kinds" }, ...Object.entries(integration.kinds || {}).map(([kind, on]) => {
    const id = `kind-${provider}-${kind}`;
    const box = h("input", { type: "checkbox", id, checked: on ? true : null, disabled: integration.enabled ? null : true });
    box.addEventListener("change", () => {
      if (!box.checked && !window.confirm(t("kind_off_confirm"))) { box.checked = true; return; }
      patch(provider, { kinds: { [kind]: box.checked } }, box);
    });
    const count = counts[kind] ? ` (${counts[kind]})` : "";
    return h("li", {}, h("label", { class: "switch", for: id }, box, `${kindLabel(kind)}${count}`));
  }));
  const facts = h("dl", { class: "facts" },
    integration.account ? h("dt", { text: t("account") }) : null,
    integration.account ? h("dd", { text: integration.account }) : null,
    h("dt", { text: t("last_sync") }), h("dd", { text: integration.last_sync ? formatTime(integration.last_sync) : t("never") }),
    h("dt", { text: t("items") }), h("dd", { text: String(integration.items ?? 0) }),
    integration.last_error ? h("dt", { text: t("last_error") }) : null,
    integration.last_error ? h("dd", { class: "error-text", text: integration.last_error }) : null,
    integration.status_detail ? h("dt", { text: t("status") }) : null,
    integration.status_detail ? h("dd", { text: integration.status_detail }) : null);
  const sync = h("button", { type: "button", class: "secondary", text: t("sync_now"), disabled: integration.enabled && !integration.reconnect_needed ? null : true });
  sync.addEventListener("click", async () => {
    sync.disabled = true;
    try {
      await api(urls.sync || `/api/integrations/${provider}/sync/`, { method: "POST", body: {} });
      say(t("sync_queued"));
      watchSync(provider, integration.last_sync);
    } catch (error) {
      say(error instanceof ApiError && error.body.detail ? error.body.detail : t("save_failed"));
    } finally {
      sync.disabled = false;
    }
  });
  const disconnect = h("button", { type: "button", class: "ghost", text: t("disconnect") });
  disconnect.addEventListener("click", async () => {
    if (!window.confirm(t("disconnect_confirm"))) return;
    try {
      await api(urls.disconnect || `/api/integrations/${provider}/disconnect/`, { method: "POST", body: {} });
      say(t("disconnected"));
      await load();
    } catch (error) {
      say(error instanceof ApiError && error.body.detail ? error.body.detail : t("save_failed"));
    }
  });
  details.replaceChildren(
    h("p", {}, h("label", { class: "switch", for: enabledId }, enabled, t("enabled"))),
    kinds,
    facts,
    h("div", { class: "row" }, sync, disconnect),
  );
}

async function patch(provider, body, control) {
  control.disabled = true;
  try {
    const updated = await api(`/api/integrations/${provider}/`, { method: "PATCH", body });
    if (updated && updated.provider) renderProvider(cards.get(provider), updated);
    else await load();
    say(t("saved"));
  } catch (error) {
    say(error instanceof ApiError && error.body.detail ? error.body.detail : t("save_failed"));
    await load();
  } finally {
    control.disabled = false;
  }
}

async function load() {
  let integrations;
  try {
    const data = await api("/api/integrations/");
    integrations = Array.isArray(data) ? data : data.results || [];
  } catch (error) {
    for (const card of cards.values()) {
      const state = card.querySelector("[data-role=state]");
      state.className = "badge warn";
      state.textContent = t("status_unknown");
    }
    say(error instanceof ApiError && error.status === 404 ? t("integrations_unavailable") : t("load_failed"));
    return;
  }
  for (const [provider, card] of cards) {
    renderProvider(card, integrations.find((item) => item.provider === provider) || { provider, connected: false });
  }
}

const SYNC_POLL_MS = 1500;
const SYNC_POLL_TRIES = 40;

/** After "Sync now": poll until the worker has synced (its last sync time moves), then redraw the
 * card and what Ivan notices, so nobody has to reload to see the result. */
async function watchSync(provider, lastSync) {
  for (let i = 0; i < SYNC_POLL_TRIES; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, SYNC_POLL_MS));
    let integrations;
    try {
      const data = await api("/api/integrations/");
      integrations = Array.isArray(data) ? data : data.results || [];
    } catch {
      continue;
    }
    const now = integrations.find((item) => item.provider === provider);
    if (now && now.last_sync && now.last_sync !== lastSync) {
      renderProvider(cards.get(provider), now);
      await loadInsights();
      say(t("sync_done"));
      return;
    }
  }
}

const insightList = document.getElementById("insights");

function safeUrl(url) {
  return /^https?:\/\//.test(url || "") ? url : null;
}

/** What Ivan notices (GET /api/insights/): text, where it came from, how fresh, and its sources. */
async function loadInsights() {
  if (!insightList) return;
  let data;
  try {
    data = await api("/api/insights/");
  } catch (error) {
    insightList.replaceChildren(h("li", { class: "hint", text: t("insights_failed") }));
    return;
  }
  const items = data.insights || [];
  if (!items.length) {
    insightList.replaceChildren(h("li", { class: "hint", text: t("insights_empty") }));
    return;
  }
  insightList.replaceChildren(...items.map((insight) => h("li", { class: "insight" },
    h("p", { class: "insight-text", text: insight.text }),
    h("p", { class: "hint", text: `${insight.source_label} · ${insight.freshness || ""}` }),
    h("p", { class: "hint", text: insight.explanation }),
    (insight.sources || []).length
      ? h("ul", { class: "insight-sources" }, ...insight.sources.map((source) => h("li", {},
        safeUrl(source.url)
          ? h("a", { href: safeUrl(source.url), rel: "noopener noreferrer", text: source.title || source.id })
          : h("span", { text: source.title || source.id }))))
      : null)));
}

load();
loadInsights();
