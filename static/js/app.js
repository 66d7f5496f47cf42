// Runs on every page: registers the service worker (installable PWA, offline page).
if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // The site works without it; only the offline page and caching are lost.
    });
  });
}

// Flash messages float over the chat; they leave after a few seconds (they were announced already).
const toast = document.querySelector("body.chat-page .messages");
if (toast) setTimeout(() => toast.remove(), 6000);
