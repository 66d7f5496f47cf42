// Notifications on this device: a system notification when Ivan answers while the page is hidden,
// and Web Push (through the service worker) for when no DigitalMe page is open at all.
// Permission is only ever asked after the person clicks a "turn on" button.
import { api } from "./api.js";

export function notificationsSupported() {
  return "Notification" in window && "serviceWorker" in navigator && window.isSecureContext;
}

export function pushSupported() {
  return notificationsSupported() && "PushManager" in window;
}

/** "granted" | "denied" | "default" | "unsupported" */
export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

function appIcon() {
  const link = document.querySelector("link[rel='apple-touch-icon']");
  return link ? link.href : undefined;
}

async function registration() {
  if (!("serviceWorker" in navigator)) return null;
  const existing = await navigator.serviceWorker.getRegistration("/");
  if (existing) return existing;
  // The first visit: app.js registers the worker on load; wait for it a little.
  return Promise.race([navigator.serviceWorker.ready, new Promise((resolve) => setTimeout(() => resolve(null), 3000))]);
}

/** Show a system notification if allowed; one per conversation (`tag`), newest replaces older. */
export async function notify({ title, body, url, tag }) {
  if (notificationPermission() !== "granted") return false;
  const options = { body, tag, renotify: Boolean(tag), icon: appIcon(), badge: appIcon(), data: { url } };
  const reg = await registration();
  if (reg) {
    await reg.showNotification(title, options);
  } else {
    const shown = new Notification(title, options);
    shown.onclick = () => { window.focus(); if (url) location.assign(url); };
  }
  return true;
}

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/**
 * Subscribe this browser to Web Push and tell the server. Resolves to
 * {push: "subscribed" | "off" (not configured on the server) | "unsupported" | "failed", error?}.
 */
export async function subscribePush() {
  if (!pushSupported()) return { push: "unsupported" };
  if (notificationPermission() !== "granted") return { push: "failed", error: "permission" };
  let config;
  try {
    config = await api("/api/push/config/");
  } catch (error) {
    return { push: "failed", error: String(error.message || error) };
  }
  if (!config.enabled) return { push: "off" };
  try {
    const reg = await registration();
    if (!reg) return { push: "failed", error: "no service worker" };
    const key = keyBytes(config.public_key);
    let subscription = await reg.pushManager.getSubscription();
    const sameKey = subscription && subscription.options.applicationServerKey
      && new Uint8Array(subscription.options.applicationServerKey).every((byte, i) => byte === key[i]);
    if (subscription && !sameKey) {
      await subscription.unsubscribe(); // the server's key changed: the old subscription is useless
      subscription = null;
    }
    if (!subscription) subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const saved = await api("/api/push/subscriptions/", { method: "POST", body: subscription.toJSON() });
    return { push: "subscribed", subscription: saved };
  } catch (error) {
    return { push: "failed", error: String((error && error.message) || error) };
  }
}

/** Ask for permission (call from a click), then subscribe to push. Resolves to {permission, push, error?}. */
export async function enableNotifications() {
  if (!notificationsSupported()) return { permission: "unsupported", push: "unsupported" };
  let permission = Notification.permission;
  if (permission === "default") permission = await Notification.requestPermission();
  if (permission !== "granted") return { permission, push: "off" };
  return { permission, ...(await subscribePush()) };
}

/** This browser's push endpoint, if it has a subscription. */
export async function currentPushEndpoint() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration("/");
  const subscription = reg ? await reg.pushManager.getSubscription() : null;
  return subscription ? subscription.endpoint : null;
}

/** Stop push on this browser (the server row is removed by the caller or on the next failed send). */
export async function unsubscribeThisBrowser() {
  if (!pushSupported()) return;
  const reg = await navigator.serviceWorker.getRegistration("/");
  const subscription = reg ? await reg.pushManager.getSubscription() : null;
  if (subscription) await subscription.unsubscribe();
}

/** On page load with permission granted: make sure the server knows this browser's current subscription. */
export async function refreshPushSubscription() {
  if (notificationPermission() !== "granted" || !(await currentPushEndpoint())) return;
  await subscribePush();
}
