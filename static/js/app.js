// Runs on every page: registers the service worker (installable PWA, offline reading, push), and
// removes this device's offline copy of a user's data when they log out.
import { api } from "./api.js";
import { currentPushEndpoint, unsubscribeThisBrowser } from "./notify.js";
import { wipeOfflineData } from "./offline-store.js";

if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // The site works without it; only the offline page and caching are lost.
    });
  });
}

// Install button: only where the browser offers installing (Chromium's beforeinstallprompt), and
// gone once installed. Other browsers install from their own menu (docs/installing.md).
const installButton = document.getElementById("install-app");
let installPrompt = null;
window.addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault(); // our button instead of the browser's mini-infobar
  installPrompt = event;
  if (installButton) installButton.hidden = false;
});
installButton?.addEventListener("click", async () => {
  if (!installPrompt) return;
  const prompt = installPrompt;
  installPrompt = null;
  installButton.hidden = true;
  await prompt.prompt();
});
window.addEventListener("appinstalled", () => {
  installPrompt = null;
  if (installButton) installButton.hidden = true;
});

// Flash messages float over the chat; they leave after a few seconds (they were announced already).
const toast = document.querySelector("body.chat-page .messages");
if (toast) setTimeout(() => toast.remove(), 6000);

/** Stop Web Push to this browser for the account that is leaving (a shared device). */
async function forgetThisDevice() {
  const endpoint = await currentPushEndpoint();
  if (!endpoint) return;
  const devices = await api("/api/push/subscriptions/");
  const mine = devices.find((device) => device.endpoint === endpoint);
  if (mine) await api(`/api/push/subscriptions/${mine.id}/`, { method: "DELETE" });
  await unsubscribeThisBrowser();
}

const logout = document.querySelector("form[action$='/accounts/logout/']");
if (logout) {
  logout.addEventListener("submit", async (event) => {
    event.preventDefault();
    const cleanup = Promise.allSettled([wipeOfflineData(), forgetThisDevice()]);
    await Promise.race([cleanup, new Promise((resolve) => setTimeout(resolve, 3000))]);
    logout.submit();
  }, { once: true });
}

// Signed out however it happened (log-out elsewhere, expired session): no personal data stays.
// The offline page is exempt: it is shown from the service worker's cache to a signed-in user.
if (document.body.dataset.user === "" && !document.body.classList.contains("offline-page")) {
  wipeOfflineData().catch(() => {});
}
