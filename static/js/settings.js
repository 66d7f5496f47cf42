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
