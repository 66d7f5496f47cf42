// Settings page: Telegram linking code (+ QR), the memory list. The profile, export and deletion
// are plain forms and links that work without this script.
import { api, ApiError, formatTime, h, t } from "./api.js";
import { currentPushEndpoint, enableNotifications, notificationPermission, refreshPushSubscription, unsubscribeThisBrowser } from "./notify.js";

const telegram = document.getElementById("telegram");
const linkButton = document.getElementById("telegram-link");
const linkResult = document.getElementById("telegram-result");
const memoryBox = document.getElementById("memory");

linkButton.addEventListener("click", async () => {
  linkButton.disabled = true;
  try {
    const link = await api("/api/telegram/link-code/", { method: "POST", body: {} });
    const expires = h("p", { class: "hint", text: t("link_expires", { time: formatTime(link.expires_at) }) });
    const code = h("p", { class: "code-display", text: link.code });
    const howTo = h("p", { text: t("link_howto", { code: link.code }) });
    if (link.deep_link) {
      const qrSrc = `${telegram.dataset.qrUrl}?link=${encodeURIComponent(link.deep_link)}`;
      linkResult.replaceChildren(
        h("div", { class: "qr" },
          h("img", { src: qrSrc, alt: t("qr_alt"), width: "160", height: "160" }),
          h("div", {}, code,
            h("p", {}, h("a", { href: link.deep_link, target: "_blank", rel: "noopener noreferrer", class: "button", text: t("open_telegram") })),
            expires)),
      );
    } else {
      linkResult.replaceChildren(code, howTo, expires);
    }
  } catch (error) {
    linkResult.replaceChildren(h("p", { class: "alert error", text: error instanceof ApiError && error.status === 404 ? t("telegram_unavailable") : t("link_failed") }));
  } finally {
    linkButton.disabled = false;
  }
});

async function loadMemory() {
  let memory;
  try {
    memory = await api("/api/me/memory/");
  } catch {
    memoryBox.replaceChildren(h("p", { class: "hint", text: t("load_failed") }));
    return;
  }
  const facts = Array.isArray(memory) ? memory : memory.facts || [];
  const summary = (memory && memory.summary) || "";
  if (!facts.length && !summary) {
    memoryBox.replaceChildren(h("p", { class: "hint", text: t("memory_empty") }));
    return;
  }
  const forgetAll = h("button", { type: "button", class: "secondary small", text: t("forget_all") });
  forgetAll.addEventListener("click", async () => {
    if (!window.confirm(t("forget_all_confirm"))) return;
    try {
      await api("/api/me/memory/", { method: "DELETE" });
      await loadMemory();
    } catch {
      memoryBox.prepend(h("p", { class: "alert error", text: t("save_failed") }));
    }
  });
  memoryBox.replaceChildren(
    summary ? h("p", { class: "memory-summary", text: summary }) : "",
    h("ul", { class: "memory-list" }, ...facts.map((fact) => {
      const text = fact.text || [fact.key, fact.value].filter(Boolean).join(": ");
      const forget = h("button", { type: "button", class: "secondary small", "aria-label": `${t("forget")}: ${text}`, text: t("forget") });
      const row = h("li", {}, h("span", { text }), forget);
      forget.addEventListener("click", async () => {
        forget.disabled = true;
        try {
          await api(`/api/me/memory/${fact.id}/`, { method: "DELETE" });
          row.replaceChildren(h("span", { class: "hint", text: `${t("forgotten")}: ${text}` }));
        } catch {
          forget.disabled = false;
        }
      });
      return row;
    })),
    h("div", { class: "form-actions" }, forgetAll),
  );
}

loadMemory();

// ---------------------------------------------------------------------------------------------
// Notifications: this browser's permission, and every device subscribed to Web Push.
const notifyStatus = document.getElementById("notify-status");
const notifyEnable = document.getElementById("notify-enable");
const devicesList = document.getElementById("push-devices");

function permissionText(permission) {
  return {
    granted: t("notify_on"),
    denied: t("notify_denied"),
    default: t("notify_default"),
    unsupported: t("notify_unsupported"),
  }[permission];
}

async function showNotificationState(message) {
  const permission = notificationPermission();
  notifyStatus.textContent = message || permissionText(permission);
  notifyStatus.dataset.state = permission;
  const subscribed = Boolean(await currentPushEndpoint().catch(() => null));
  notifyEnable.hidden = !(permission === "default" || (permission === "granted" && !subscribed && !message));
}

async function loadDevices() {
  let devices;
  try {
    devices = await api("/api/push/subscriptions/");
  } catch {
    devicesList.replaceChildren(h("li", { class: "hint", text: t("load_failed") }));
    return;
  }
  const mine = await currentPushEndpoint().catch(() => null);
  if (!devices.length) {
    devicesList.replaceChildren(h("li", { class: "hint", text: t("push_devices_empty") }));
    return;
  }
  devicesList.replaceChildren(...devices.map((device) => {
    const thisOne = device.endpoint === mine;
    const details = [t("added", { time: formatTime(device.created) })];
    if (device.last_success_at) details.push(t("last_delivered", { time: formatTime(device.last_success_at) }));
    const remove = h("button", { type: "button", class: "secondary small", "aria-label": `${t("remove")}: ${device.label}`, text: t("remove") });
    const row = h("li", { dataset: { id: device.id } },
      h("span", {}, h("strong", { text: device.label || t("this_device") }), thisOne ? h("span", { class: "badge", text: t("this_device") }) : null,
        h("span", { class: "hint", text: ` · ${details.join(", ")}` })),
      remove);
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      try {
        await api(`/api/push/subscriptions/${device.id}/`, { method: "DELETE" });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) { remove.disabled = false; return; }
      }
      if (thisOne) await unsubscribeThisBrowser().catch(() => {});
      await loadDevices();
      await showNotificationState();
    });
    return row;
  }));
}

notifyEnable.addEventListener("click", async () => {
  notifyEnable.disabled = true;
  const result = await enableNotifications();
  notifyEnable.disabled = false;
  let message = "";
  if (result.permission === "granted" && result.push === "off") message = t("notify_on_no_push");
  else if (result.permission === "granted" && result.push !== "subscribed") message = t("notify_on_page_only");
  await showNotificationState(message);
  await loadDevices();
});

refreshPushSubscription().catch(() => {}).finally(async () => {
  await showNotificationState();
  await loadDevices();
});
