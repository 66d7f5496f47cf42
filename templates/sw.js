/* DigitalMe service worker: caches the app shell and static files; shows /offline/ without network;
   shows Web Push messages (Ivan's replies while no DigitalMe page is open) as notifications.
   Pages and API calls always go to the network (they are personal and live). */
const VERSION = "{{ version }}";
const CACHE = "digitalme-" + VERSION;
const SHELL = {{ shell_json|safe }};
const STATIC_PREFIX = {{ static_prefix|safe }};
const OFFLINE_URL = "/offline/";
const PAGES_CACHE = "digitalme-pages"; // the signed-in chat page, for reading offline; wiped on log-out
const CHAT_PAGE = "/chat/";
const ICON = {{ icon_json|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("digitalme-") && key !== CACHE && key !== PAGES_CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

async function staticFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(CACHE);
    cache.put(request, response.clone());
  }
  return response;
}

async function pageOrOffline(request) {
  const chat = new URL(request.url).pathname.startsWith(CHAT_PAGE);
  try {
    const response = await fetch(request);
    if (chat && response.ok && !response.redirected) {
      // One copy of the chat page serves every /chat/… path offline (chat.js reads the id from the URL).
      const cache = await caches.open(PAGES_CACHE);
      await cache.put(CHAT_PAGE, response.clone());
    }
    return response;
  } catch (error) {
    if (chat) {
      const page = await caches.open(PAGES_CACHE).then((cache) => cache.match(CHAT_PAGE));
      if (page) return page;
    }
    const offline = await caches.match(OFFLINE_URL);
    return offline || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(pageOrOffline(request));
  } else if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(staticFirst(request));
  }
});

// Web Push: the server only pushes when no chat page of the user is open (digitalme.presence), so
// every push becomes a notification (browsers require that for userVisibleOnly subscriptions).
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "DigitalMe";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.tag || undefined,
      renotify: Boolean(data.tag),
      icon: ICON,
      badge: ICON,
      data: { url: data.url || "/chat/" },
    })
  );
});

// A click opens the conversation: in a DigitalMe window that is already open if there is one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/chat/", self.location.origin);
  if (target.origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin === target.origin && "focus" in client) {
        await client.focus();
        if ("navigate" in client && client.url !== target.href) await client.navigate(target.href);
        return;
      }
    }
    await self.clients.openWindow(target.href);
  })());
});
