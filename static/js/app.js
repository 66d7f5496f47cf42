// Runs on every page: registers the service worker (installable PWA, offline page).
if ("serviceWorker" in navigator && window.isSecureContext) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // The site works without it; only the offline page and caching are lost.
    });
  });
}
