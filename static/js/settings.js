// Settings page: Telegram linking code (+ QR), the memory list. The profile, export and deletion
// are plain forms and links that work without this script.
import { api, ApiError, formatTime, h, t } from "./api.js";

const telegram = document.getElementById("telegram");
const linkButton = document.getElementById("telegram-link");
const linkResult = document.getElementById("telegram-result");
const memoryBox = document.getElementById("memory");

linkButton.addEventListener("click", async () => {
  linkButton.disabled = true;
  try {
    const link = await api("/api/telegram/link-code/", { method: "POST", body: {} });
    const qrSrc = `${telegram.dataset.qrUrl}?link=${encodeURIComponent(link.deep_link)}`;
    linkResult.replaceChildren(
      h("div", { class: "qr" },
        h("img", { src: qrSrc, alt: link.deep_link, width: "160", height: "160" }),
        h("div", {},
          h("p", { class: "code-display", text: link.code }),
          h("p", {}, h("a", { href: link.deep_link, target: "_blank", rel: "noopener noreferrer", class: "button", text: t("open_telegram") })),
          h("p", { class: "hint", text: t("link_expires", { time: formatTime(link.expires_at) }) }))),
    );
  } catch (error) {
    linkResult.replaceChildren(h("p", { class: "alert error", text: error instanceof ApiError && error.status === 404 ? t("telegram_unavailable") : t("link_failed") }));
  } finally {
    linkButton.disabled = false;
  }
});

function memoryText(item) {
  return item.text ?? item.content ?? item.fact ?? item.value ?? "";
}

async function loadMemory() {
  let items;
  try {
    const data = await api("/api/me/memory/");
    items = Array.isArray(data) ? data : data.results || [];
  } catch {
    memoryBox.replaceChildren(h("p", { class: "hint", text: t("load_failed") }));
    return;
  }
  if (!items.length) {
    memoryBox.replaceChildren(h("p", { class: "hint", text: t("memory_empty") }));
    return;
  }
  memoryBox.replaceChildren(h("ul", { class: "memory-list" }, ...items.map((item) => {
    const text = memoryText(item);
    const forget = h("button", { type: "button", class: "secondary small", "aria-label": `${t("forget")}: ${text}`, text: t("forget") });
    const row = h("li", {}, h("span", { text }), forget);
    forget.addEventListener("click", async () => {
      forget.disabled = true;
      try {
        await api(`/api/me/memory/${item.id}/`, { method: "DELETE" });
        row.replaceChildren(h("span", { class: "hint", text: `${t("forgotten")}: ${text}` }));
      } catch {
        forget.disabled = false;
      }
    });
    return row;
  })));
}

loadMemory();
