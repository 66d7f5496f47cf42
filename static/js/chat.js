// The chat page: conversation list, history, and the live socket (/ws/chat/, protocol in docs/API.md).
import { api, apiList, ApiError, backoffDelay, formatTime, h, icon, t, wsUrl } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { enableNotifications, notificationPermission, notify, refreshPushSubscription } from "./notify.js";
import { OfflineStore } from "./offline-store.js";

const root = document.getElementById("chat");
const sprite = root.dataset.icons;
const avatarUrl = root.dataset.avatar;
const el = {
  log: document.getElementById("log"),
  scroll: document.getElementById("scroll"),
  empty: document.getElementById("chat-empty"),
  title: document.getElementById("chat-title"),
  conn: document.getElementById("conn"),
  connLabel: document.getElementById("conn-label"),
  form: document.getElementById("composer"),
  input: document.getElementById("message-input"),
  send: document.getElementById("send-button"),
  stop: document.getElementById("stop-button"),
  error: document.getElementById("chat-error"),
  list: document.getElementById("conv-list"),
  listEmpty: document.getElementById("conv-empty"),
  search: document.getElementById("conv-search"),
  panel: document.getElementById("conv-panel"),
  panelToggle: document.getElementById("panel-toggle"),
  offlineNote: document.getElementById("offline-note"),
  offer: document.getElementById("notify-offer"),
  offerText: document.getElementById("notify-offer-text"),
  offerYes: document.getElementById("notify-offer-yes"),
  offerNo: document.getElementById("notify-offer-no"),
};
const mdStrings = { copy: t("copy"), copied: t("copied"), copyCode: t("copy_code"), code: t("code") };

const state = {
  // From the URL, not the page: offline, one cached copy of the page serves every conversation.
  conversationId: conversationFromPath(),
  conversations: [],
  socket: null,
  ready: false,
  attempt: 0,
  everConnected: false,
  reconnectTimer: null,
  countdownTimer: null,
  pingTimer: null,
  awaitingReply: false,
  streaming: null, // {id, node, bubble, text, frame}
  rendered: new Map(), // message id -> <li>
  pending: new Map(), // client_id -> {node, content}
  outbox: [], // messages waiting for the socket: {client_id, conversation, content}, oldest first
  flushing: null, // client_id of the queued message on its way
  store: null, // OfflineStore: this device's copy of recent conversations + the outbox
};

function conversationFromPath() {
  const match = location.pathname.match(/^\/chat\/(\d+)\/$/);
  return match ? Number(match[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Rendering messages

function platformLabel(platform) {
  return t(`platform_${platform}`) || platform;
}

function isNearBottom() {
  const s = el.scroll;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function scrollToBottom(force = false) {
  if (force || isNearBottom()) el.scroll.scrollTop = el.scroll.scrollHeight;
}

function showEmptyState() {
  el.empty.hidden = el.log.children.length > 0;
}

function feedbackControls(message) {
  const box = h("div", { class: "feedback", role: "group", "aria-label": t("good_reply") + " / " + t("bad_reply") });
  const up = h("button", { type: "button", "aria-label": t("good_reply"), title: t("good_reply"), "aria-pressed": String(message.rating === 1), class: "rate-up" }, icon("thumb-up", sprite));
  const down = h("button", { type: "button", "aria-label": t("bad_reply"), title: t("bad_reply"), "aria-pressed": String(message.rating === -1), class: "rate-down" }, icon("thumb-down", sprite));
  const status = h("span", { class: "thanks", role: "status" });
  box.append(up, down, status);

  async function rate(rating, correction) {
    status.textContent = "";
    try {
      const body = { rating };
      if (correction) body.correction = correction;
      await api(`/api/messages/${message.id}/feedback/`, { method: "POST", body });
      message.rating = rating;
      up.setAttribute("aria-pressed", String(rating === 1));
      down.setAttribute("aria-pressed", String(rating === -1));
      status.textContent = t("thanks");
      return true;
    } catch {
      status.textContent = t("feedback_failed");
      return false;
    }
  }

  up.addEventListener("click", () => {
    box.parentElement.querySelector(".correction")?.remove();
    rate(1);
  });
  down.addEventListener("click", async () => {
    if (!(await rate(-1))) return;
    const body = box.parentElement;
    if (body.querySelector(".correction")) return;
    const fieldId = `correction-${message.id}`;
    const textarea = h("textarea", { id: fieldId, name: "correction", maxlength: "4000", rows: "3" });
    const form = h(
      "form",
      { class: "correction" },
      h("label", { for: fieldId, text: t("correction_label") }),
      textarea,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "small", text: t("send_correction") }),
        h("button", { type: "button", class: "secondary small", text: t("cancel"), onclick: () => { form.remove(); down.focus(); } })),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const correction = textarea.value.trim();
      if (!correction || (await rate(-1, correction))) {
        form.remove();
        down.focus();
      }
    });
    form.addEventListener("keydown", (event) => { if (event.key === "Escape") { form.remove(); down.focus(); } });
    body.append(form);
    textarea.focus();
  });
  return box;
}

function messageNode(message) {
  const mine = message.role === "user";
  const meta = h("div", { class: "msg-meta" },
    h("span", { class: "who", text: mine ? t("you") : t("ivan") }),
    message.created ? h("time", { datetime: message.created, text: formatTime(message.created, { timeStyle: "short" }) }) : null,
    message.platform && message.platform !== "web" ? h("span", { class: "badge platform", text: t("via", { platform: platformLabel(message.platform) }) }) : null,
    message.stopped ? h("span", { class: "badge warn", text: t("stopped") }) : null,
  );
  const bubble = h("div", { class: "bubble" });
  bubble.append(renderMarkdown(message.content, mdStrings));
  const body = h("div", { class: "msg-body" }, meta, bubble);
  if (!mine && message.id) body.append(feedbackControls(message));
  const blocked = message.moderation && message.moderation.allowed === false;
  const node = h("li", { class: `msg ${mine ? "user" : "assistant"}${blocked ? " blocked" : ""}`, dataset: { id: message.id ?? "" } },
    mine ? null : h("img", { class: "avatar", src: avatarUrl, alt: "", width: "34", height: "34" }),
    body);
  return node;
}

function appendMessage(message) {
  if (message.id && state.rendered.has(message.id)) return state.rendered.get(message.id);
  const follow = isNearBottom();
  const node = messageNode(message);
  el.log.append(node);
  if (message.id) state.rendered.set(message.id, node);
  showEmptyState();
  scrollToBottom(follow);
  return node;
}

// ---------------------------------------------------------------------------------------------
// Streaming replies

function setGenerating(on) {
  el.stop.hidden = !on;
  el.send.hidden = on;
}

function startReply(messageId) {
  finishStreamingNode();
  const bubble = h("div", { class: "bubble" }, h("span", { class: "typing", "aria-label": t("ivan_typing"), role: "img" }, h("span"), h("span"), h("span")));
  const meta = h("div", { class: "msg-meta" }, h("span", { class: "who", text: t("ivan") }));
  const body = h("div", { class: "msg-body" }, meta, bubble);
  const node = h("li", { class: "msg assistant streaming", "aria-busy": "true", dataset: { id: messageId } },
    h("img", { class: "avatar", src: avatarUrl, alt: "", width: "34", height: "34" }), body);
  el.log.append(node);
  state.rendered.set(messageId, node);
  state.streaming = { id: messageId, node, bubble, text: "", frame: 0 };
  showEmptyState();
  scrollToBottom(true);
  setGenerating(true);
}

function paintStream() {
  const s = state.streaming;
  if (!s) return;
  s.frame = 0;
  const follow = isNearBottom();
  s.bubble.replaceChildren(renderMarkdown(s.text, mdStrings), h("span", { class: "cursor", "aria-hidden": "true" }));
  scrollToBottom(follow);
}

function addToken(messageId, delta) {
  if (!state.streaming || state.streaming.id !== messageId) return;
  state.streaming.text += delta;
  if (!state.streaming.frame) state.streaming.frame = requestAnimationFrame(paintStream);
}

function finishStreamingNode() {
  if (state.streaming && state.streaming.frame) cancelAnimationFrame(state.streaming.frame);
  state.streaming = null;
}

function endReply(message) {
  const existing = state.rendered.get(message.id);
  const follow = isNearBottom();
  if (state.streaming && state.streaming.id === message.id) finishStreamingNode();
  const node = messageNode(message);
  if (existing) existing.replaceWith(node);
  else el.log.append(node);
  state.rendered.set(message.id, node);
  state.awaitingReply = false;
  setGenerating(false);
  showEmptyState();
  scrollToBottom(follow);
}

// ---------------------------------------------------------------------------------------------
// Conversations list

function conversationTitle(conversation) {
  return (conversation && conversation.title) || t("untitled");
}

function renderConversations() {
  const query = el.search.value.trim().toLowerCase();
  const visible = state.conversations.filter((c) => !query || conversationTitle(c).toLowerCase().includes(query));
  el.list.replaceChildren(...visible.map(conversationItem));
  el.listEmpty.hidden = visible.length > 0;
  el.listEmpty.textContent = state.conversations.length ? t("no_matches") : t("no_conversations");
  const current = state.conversations.find((c) => c.id === state.conversationId);
  el.title.textContent = state.conversationId ? conversationTitle(current) : t("new_chat");
  document.title = `${el.title.textContent} · DigitalMe`;
}

function conversationItem(conversation) {
  const title = conversationTitle(conversation);
  const current = conversation.id === state.conversationId;
  const linkNode = h("a", { href: `/chat/${conversation.id}/`, "aria-current": current ? "page" : null, text: title, title });
  const rename = h("button", { type: "button", class: "ghost icon small", "aria-label": `${t("rename")}: ${title}` }, icon("edit", sprite));
  const remove = h("button", { type: "button", class: "ghost icon small", "aria-label": `${t("delete")}: ${title}` }, icon("trash", sprite));
  const item = h("li", { class: "conv-item", dataset: { id: conversation.id } },
    conversation.unread ? h("span", { class: "unread", title: "●" }) : null,
    linkNode, h("div", { class: "conv-actions" }, rename, remove));
  rename.addEventListener("click", () => startRename(item, conversation));
  remove.addEventListener("click", () => deleteConversation(conversation));
  return item;
}

function startRename(item, conversation) {
  const inputId = `rename-${conversation.id}`;
  const input = h("input", { type: "text", id: inputId, value: conversation.title || "", maxlength: "200" });
  const cancel = () => { renderConversations(); el.list.querySelector(`[data-id="${conversation.id}"] button`)?.focus(); };
  const form = h("form", {},
    h("label", { for: inputId, class: "visually-hidden", text: t("rename_label") }),
    input,
    h("button", { type: "submit", class: "small", text: t("save") }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    try {
      const updated = await api(`/api/conversations/${conversation.id}/`, { method: "PATCH", body: { title } });
      conversation.title = (updated && updated.title) || title;
      cancel();
    } catch (error) {
      showError(error instanceof ApiError && error.body.detail ? error.body.detail : t("save_failed"));
    }
  });
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") cancel(); });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteConversation(conversation) {
  if (!window.confirm(t("delete_confirm"))) return;
  try {
    await api(`/api/conversations/${conversation.id}/`, { method: "DELETE" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) { showError(t("error_generic")); return; }
  }
  state.conversations = state.conversations.filter((c) => c.id !== conversation.id);
  if (conversation.id === state.conversationId) {
    openConversation(null);
  } else {
    renderConversations();
  }
  el.search.focus();
}

async function loadConversations() {
  try {
    state.conversations = await apiList("/api/conversations/");
    showOfflineCopy(false);
    storeDo((store) => store.saveConversations(state.conversations));
  } catch (error) {
    if (!(error instanceof ApiError) && state.store && (await readOffline(async (store) => { state.conversations = await store.conversations(); }))) {
      renderConversations();
      return;
    }
    el.listEmpty.hidden = false;
    el.listEmpty.textContent = t("load_failed");
    return;
  }
  renderConversations();
}

function touchConversation(conversationId, { unread = false } = {}) {
  const index = state.conversations.findIndex((c) => c.id === conversationId);
  if (index === -1) {
    loadConversations();
    return;
  }
  const [conversation] = state.conversations.splice(index, 1);
  if (unread) conversation.unread = true;
  state.conversations.unshift(conversation);
  renderConversations();
}

async function loadMessages() {
  el.log.replaceChildren();
  state.rendered.clear();
  finishStreamingNode();
  const conversationId = state.conversationId;
  if (!conversationId) { showQueued(); showEmptyState(); return; }
  try {
    const messages = await apiList(`/api/conversations/${conversationId}/messages/`);
    el.log.replaceChildren();
    state.rendered.clear();
    messages.forEach(appendMessage);
    storeDo((store) => store.saveMessages(conversationId, messages));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      storeDo((store) => store.removeConversation(conversationId));
      showError(t("load_failed"));
      openConversation(null);
      return;
    }
    const fromDevice = !(error instanceof ApiError) && state.store
      && (await readOffline(async (store) => {
        const messages = await store.messages(conversationId);
        el.log.replaceChildren();
        state.rendered.clear();
        messages.forEach(appendMessage);
      }));
    if (!fromDevice) showError(t("load_failed"));
  }
  showQueued();
  showEmptyState();
  scrollToBottom(true);
}

function openConversation(id, { push = true } = {}) {
  state.conversationId = id;
  const conversation = state.conversations.find((c) => c.id === id);
  if (conversation) conversation.unread = false;
  if (push) history.pushState({ id }, "", id ? `/chat/${id}/` : "/chat/");
  renderConversations();
  loadMessages();
  closePanel();
}

// ---------------------------------------------------------------------------------------------
// Socket

function setConnection(name, detail) {
  el.conn.dataset.state = name;
  el.connLabel.textContent = detail || t(name);
  const button = el.conn.querySelector("button");
  if (name === "reconnecting" || name === "offline") {
    if (!button) {
      el.conn.append(h("button", { type: "button", class: "secondary small", text: t("reconnect_now"), onclick: () => { state.attempt = 0; connect(); } }));
    }
  } else {
    button?.remove();
  }
}

function send(frame) {
  if (state.ready && state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  if (state.socket && state.socket.readyState <= WebSocket.OPEN) state.socket.close();
  setConnection(state.everConnected ? "reconnecting" : "connecting", state.everConnected ? t("reconnecting") : t("connecting"));
  const socket = new WebSocket(wsUrl("/ws/chat/"));
  state.socket = socket;
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    handleFrame(frame);
  });
  socket.addEventListener("close", (event) => {
    if (socket !== state.socket) return;
    state.ready = false;
    clearInterval(state.pingTimer);
    if (state.streaming) finishStreamingNode();
    setGenerating(false);
    if (event.code === 4401 || event.code === 4403) {
      window.location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  const delay = backoffDelay(state.attempt);
  state.attempt += 1;
  let remaining = Math.ceil(delay / 1000);
  const label = () => setConnection(navigator.onLine === false ? "offline" : "reconnecting", t("reconnect_in", { s: remaining }));
  label();
  clearInterval(state.countdownTimer);
  state.countdownTimer = setInterval(() => { remaining = Math.max(0, remaining - 1); label(); }, 1000);
  state.reconnectTimer = setTimeout(connect, delay);
}

function onReady() {
  const wasConnected = state.everConnected;
  state.ready = true;
  state.attempt = 0;
  state.everConnected = true;
  clearInterval(state.countdownTimer);
  setConnection("online");
  clearInterval(state.pingTimer);
  state.pingTimer = setInterval(() => send({ type: "ping" }), 25000);
  if (wasConnected) {
    // Catch up on what happened while the socket was down.
    loadConversations();
    if (state.conversationId && !state.outbox.length) loadMessages();
  }
  flushOutbox();
}

function takePending(message) {
  if (message.client_id && state.pending.has(message.client_id)) {
    const entry = state.pending.get(message.client_id);
    state.pending.delete(message.client_id);
    return entry;
  }
  for (const [clientId, entry] of state.pending) {
    if (entry.content === message.content) {
      state.pending.delete(clientId);
      return entry;
    }
  }
  return null;
}

function handleFrame(frame) {
  switch (frame.type) {
    case "ready":
      onReady();
      break;
    case "pong":
      break;
    case "message.created": {
      const message = frame.message;
      const pending = message.role === "user" ? takePending(message) : null;
      if (message.role === "user") dequeue(message.client_id);
      storeDo((store) => store.putMessage(message));
      if (pending) {
        if (!state.conversationId) {
          state.conversationId = message.conversation;
          history.replaceState({ id: message.conversation }, "", `/chat/${message.conversation}/`);
        }
        const node = messageNode(message);
        pending.node.replaceWith(node);
        state.rendered.set(message.id, node);
        touchConversation(message.conversation);
      } else if (message.conversation === state.conversationId) {
        appendMessage(message);
        touchConversation(message.conversation);
      } else {
        touchConversation(message.conversation, { unread: true });
      }
      if (!pending && message.role === "user" && message.platform !== "web") {
        notifyIfHidden(t("notify_message_via", { platform: platformLabel(message.platform) }), message);
      }
      break;
    }
    case "reply.start":
      if (frame.conversation === state.conversationId) startReply(frame.message_id);
      break;
    case "reply.token":
      addToken(frame.message_id, frame.delta || "");
      break;
    case "reply.end": {
      const message = frame.message;
      storeDo((store) => store.putMessage(message));
      dequeue(message.client_id); // a replayed turn (sent before, answered while we were away)
      if (message.client_id && message.client_id === state.flushing) {
        state.flushing = null;
        setTimeout(flushOutbox, 0);
      }
      if (message.conversation === state.conversationId) {
        endReply(message);
        touchConversation(message.conversation);
      } else {
        touchConversation(message.conversation, { unread: true });
      }
      notifyIfHidden(t("ivan"), message);
      offerNotifications();
      break;
    }
    case "error":
      handleError(frame);
      break;
    default:
      break; // persona.updated and future frames: nothing to show on this page
  }
}

function handleError(frame) {
  if (state.flushing && handleQueuedError(frame)) return;
  showError(t(`error_${frame.code}`) !== `error_${frame.code}` ? t(`error_${frame.code}`) : frame.detail || t("error_generic"));
  // A message that was refused never reaches the log: put its text back for editing.
  for (const [clientId, entry] of state.pending) {
    if (state.outbox.some((item) => item.client_id === clientId)) continue; // still queued
    entry.node.remove();
    if (!el.input.value) el.input.value = entry.content;
    state.pending.delete(clientId);
  }
  state.awaitingReply = false;
  finishStreamingNode();
  setGenerating(false);
  showEmptyState();
}

function showError(text) {
  el.error.textContent = text;
  el.error.hidden = false;
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = "";
}

// ---------------------------------------------------------------------------------------------
// Notifications: only while the page is hidden (a visible page shows the message itself). With no
// page open at all the server sends a Web Push instead (notifications app).

// conversation → id of the newest message notified: a notification replaces the one before it in
// the same conversation (one tag), and frames from two paths (a turn over the REST API pushes its
// user message and its reply separately) may arrive out of order — an older message must not
// replace the newer one's notification.
const notifiedUpTo = new Map();

function notifyIfHidden(title, message) {
  if (document.visibilityState !== "hidden") return;
  if ((notifiedUpTo.get(message.conversation) ?? -Infinity) >= message.id) return;
  notifiedUpTo.set(message.conversation, message.id);
  const body = (message.content || "").replace(/\s+/g, " ").trim();
  notify({
    title,
    body: body.length > 300 ? `${body.slice(0, 299)}…` : body,
    url: `/chat/${message.conversation}/`,
    tag: `conversation-${message.conversation}`,
  }).catch(() => {});
}

const OFFER_KEY = "dm-notify-offer";

// Offered after Ivan's first reply (the moment a person sees why it helps), never on load, and
// not again once answered either way.
function offerNotifications() {
  if (!el.offer || notificationPermission() !== "default" || localStorage.getItem(OFFER_KEY)) return;
  el.offer.hidden = false;
}

function settleOffer(text, { keep = false } = {}) {
  el.offerText.textContent = text;
  el.offerYes.hidden = true;
  el.offerNo.hidden = true;
  if (!keep) setTimeout(() => { el.offer.hidden = true; }, 6000);
}

el.offerYes?.addEventListener("click", async () => {
  el.offerYes.disabled = true;
  localStorage.setItem(OFFER_KEY, "asked");
  const result = await enableNotifications();
  if (result.permission === "granted") {
    settleOffer(result.push === "subscribed" ? t("notify_on") : result.push === "off" ? t("notify_on_no_push") : t("notify_on_page_only"));
  } else if (result.permission === "denied") {
    settleOffer(t("notify_denied"), { keep: true });
  } else {
    settleOffer(t("notify_dismissed"));
  }
  el.input.focus();
});
el.offerNo?.addEventListener("click", () => {
  localStorage.setItem(OFFER_KEY, "dismissed");
  settleOffer(t("notify_dismissed"));
  el.input.focus();
});

// ---------------------------------------------------------------------------------------------
// Composer

function sendMessage(content) {
  const text = content.trim();
  if (!text) return;
  clearError();
  const clientId = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  const node = messageNode({ role: "user", content: text, platform: "web" });
  node.classList.add("pending");
  el.log.append(node);
  showEmptyState();
  scrollToBottom(true);
  state.pending.set(clientId, { node, content: text });
  const frame = { type: "message", conversation: state.conversationId, content: text, client_id: clientId };
  if (!state.outbox.length && !state.flushing && send(frame)) {
    state.awaitingReply = true;
    setGenerating(true);
  } else {
    const entry = { client_id: clientId, conversation: state.conversationId, content: text };
    state.outbox.push(entry);
    markQueued(node);
    storeDo((store) => store.queue(entry));
    if (!state.ready) showError(t("not_sent_offline"));
    flushOutbox();
  }
  el.input.value = "";
  autosize();
}

// ---------------------------------------------------------------------------------------------
// Offline: this device's copy (read when the network is gone) and the outbox (sent one by one on
// reconnect, each with its client_id, so a message the server already has is never stored twice).

function storeDo(fn) {
  if (!state.store) return;
  fn(state.store).catch(storeFailed);
}

async function storeFailed(error) {
  if (!state.store) return;
  const { store, reset } = await OfflineStore.open(state.store.userId).catch(() => ({ store: null, reset: true }));
  state.store = store;
  if (reset || error) showStoreReset();
}

function showStoreReset() {
  el.offlineNote.textContent = t("offline_store_reset");
  el.offlineNote.dataset.state = "reset";
  el.offlineNote.hidden = false;
}

/** Run `fn(store)` to show the device's copy; false when it could not be read (then it is reset). */
async function readOffline(fn) {
  try {
    await fn(state.store);
  } catch (error) {
    await storeFailed(error);
    return false;
  }
  showOfflineCopy(true, await state.store.savedAt().catch(() => null));
  return true;
}

function showOfflineCopy(on, savedAt = null) {
  if (!on) {
    if (el.offlineNote.dataset.state === "offline") el.offlineNote.hidden = true;
    return;
  }
  el.offlineNote.textContent = t("offline_copy", { time: savedAt ? formatTime(savedAt) : "—" });
  el.offlineNote.dataset.state = "offline";
  el.offlineNote.hidden = false;
}

function markQueued(node) {
  node.classList.add("queued");
  node.querySelector(".msg-meta")?.append(h("span", { class: "badge warn queued-badge", text: t("queued") }));
}

/** Queued messages of the conversation on screen (after a reload they come from the device). */
function showQueued() {
  for (const entry of state.outbox) {
    if (entry.conversation !== state.conversationId || state.pending.has(entry.client_id)) continue;
    const node = messageNode({ role: "user", content: entry.content, platform: "web" });
    node.classList.add("pending");
    markQueued(node);
    el.log.append(node);
    state.pending.set(entry.client_id, { node, content: entry.content });
  }
}

function dequeue(clientId) {
  if (!clientId) return;
  const index = state.outbox.findIndex((entry) => entry.client_id === clientId);
  if (index === -1) return;
  state.outbox.splice(index, 1);
  storeDo((store) => store.dequeue(clientId));
}

function flushOutbox() {
  if (state.flushing || !state.ready || !state.outbox.length) return;
  const entry = state.outbox[0];
  state.flushing = entry.client_id;
  state.awaitingReply = true;
  setGenerating(true);
  if (!send({ type: "message", conversation: entry.conversation, content: entry.content, client_id: entry.client_id })) {
    state.flushing = null;
  }
}

/** An error while a queued message was on its way: say what happened to it; false = not ours. */
function handleQueuedError(frame) {
  const entry = state.outbox.find((item) => item.client_id === state.flushing);
  state.flushing = null;
  state.awaitingReply = false;
  setGenerating(false);
  if (!entry) { // already stored by the server (e.g. Ivan failed to answer): the usual path
    setTimeout(flushOutbox, 0);
    return false;
  }
  if (frame.code === "in_progress") { // the server has it and is answering it already: not ours to resend
    dequeue(entry.client_id);
    setTimeout(flushOutbox, 0);
    return true;
  }
  if (frame.code === "rate_limited") {
    const wait = Number((frame.fields && frame.fields.retry_after_s) || 5);
    setTimeout(flushOutbox, Math.max(1, wait) * 1000);
    showError(t("error_rate_limited"));
    return true;
  }
  dequeue(entry.client_id);
  const pending = state.pending.get(entry.client_id);
  state.pending.delete(entry.client_id);
  const reason = frame.code === "not_found"
    ? t("queued_conversation_deleted")
    : t("queued_not_sent", { reason: t(`error_${frame.code}`) !== `error_${frame.code}` ? t(`error_${frame.code}`) : frame.detail || t("error_generic") });
  if (frame.code === "not_found" && entry.conversation) {
    state.conversations = state.conversations.filter((c) => c.id !== entry.conversation);
    storeDo((store) => store.removeConversation(entry.conversation));
    renderConversations();
  }
  if (pending) {
    pending.node.classList.remove("queued", "pending");
    pending.node.classList.add("failed");
    pending.node.querySelector(".queued-badge")?.remove();
    const note = h("div", { class: "queued-failed", role: "alert" },
      h("p", { text: reason }),
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary small", text: t("queued_copy"), onclick: () => { el.input.value = entry.content; autosize(); el.input.focus(); note.closest("li")?.remove(); } }),
        h("button", { type: "button", class: "ghost small", text: t("queued_discard"), onclick: () => { note.closest("li")?.remove(); showEmptyState(); el.input.focus(); } })));
    pending.node.querySelector(".msg-body")?.append(note);
  } else {
    showError(`${reason} “${entry.content.slice(0, 80)}”`);
  }
  setTimeout(flushOutbox, 0);
  return true;
}

function stopReply() {
  send({ type: "stop" });
}

function autosize() {
  el.input.style.height = "auto";
  el.input.style.height = `${Math.min(el.input.scrollHeight + 2, 192)}px`;
}

el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage(el.input.value);
  el.input.focus();
});
el.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    el.form.requestSubmit();
  } else if (event.key === "Escape" && !el.stop.hidden) {
    stopReply();
  }
});
el.input.addEventListener("input", autosize);
el.stop.addEventListener("click", () => { stopReply(); el.input.focus(); });
el.empty.addEventListener("click", (event) => {
  const button = event.target.closest("[data-suggestion]");
  if (button) { sendMessage(button.dataset.suggestion); el.input.focus(); }
});
el.search.addEventListener("input", renderConversations);
el.list.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/chat/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  openConversation(Number(link.closest("li").dataset.id));
  el.input.focus();
});
document.getElementById("new-chat").addEventListener("click", (event) => {
  event.preventDefault();
  openConversation(null);
  el.input.focus();
});
window.addEventListener("popstate", () => {
  const match = location.pathname.match(/^\/chat\/(\d+)\/$/);
  openConversation(match ? Number(match[1]) : null, { push: false });
});
window.addEventListener("online", () => { state.attempt = 0; connect(); });
window.addEventListener("offline", () => setConnection("offline"));

function closePanel() {
  el.panel.classList.remove("open");
  el.panelToggle.setAttribute("aria-expanded", "false");
}
el.panelToggle.addEventListener("click", () => {
  const open = !el.panel.classList.contains("open");
  el.panel.classList.toggle("open", open);
  el.panelToggle.setAttribute("aria-expanded", String(open));
  if (open) el.search.focus();
});
el.panel.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && el.panel.classList.contains("open")) { closePanel(); el.panelToggle.focus(); }
});

// ---------------------------------------------------------------------------------------------
async function start() {
  const userId = Number(document.body.dataset.user) || null;
  const { store, reset } = await OfflineStore.open(userId).catch(() => ({ store: null, reset: false }));
  state.store = store;
  if (reset) showStoreReset();
  if (store) {
    try {
      state.outbox = await store.outbox();
    } catch (error) {
      await storeFailed(error);
    }
  }
  renderConversations();
  loadConversations();
  loadMessages();
  connect();
}

start();
el.input.focus();
refreshPushSubscription().catch(() => {});
