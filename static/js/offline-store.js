// The offline copy on this device (IndexedDB): the signed-in user's recent conversations and their
// messages, readable without the network, and the outbox of messages typed offline (sent on
// reconnect, idempotent by client_id). One user's data at a time: another user, or a log-out,
// wipes it. A store that can't be read (damaged, from another version) is deleted and rebuilt.

const DB_NAME = "digitalme-offline";
const DB_VERSION = 1;
export const PAGES_CACHE = "digitalme-pages"; // the service worker's copy of the chat page
export const RECENT_CONVERSATIONS = 20;
export const RECENT_MESSAGES = 200;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const name of [...db.objectStoreNames]) db.deleteObjectStore(name);
      db.createObjectStore("meta");
      db.createObjectStore("conversations", { keyPath: "id" });
      db.createObjectStore("messages", { keyPath: "id" }).createIndex("conversation", "conversation");
      db.createObjectStore("outbox", { keyPath: "client_id" });
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => db.close(); // another tab wipes or upgrades the store: let it
      resolve(db);
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("offline store blocked by another tab"));
  });
}

export class CorruptStore extends Error {}

const validConversation = (c) => c && typeof c === "object" && Number.isInteger(c.id) && (c.title === undefined || c.title === null || typeof c.title === "string");
const validMessage = (m) => m && typeof m === "object" && Number.isInteger(m.id) && Number.isInteger(m.conversation)
  && (m.role === "user" || m.role === "assistant") && typeof m.content === "string";
const validQueued = (q) => q && typeof q === "object" && typeof q.client_id === "string" && q.client_id
  && typeof q.content === "string" && (q.conversation === null || Number.isInteger(q.conversation));

function check(items, valid) {
  if (!Array.isArray(items) || !items.every(valid)) throw new CorruptStore("the offline copy is damaged");
  return items;
}

/** Delete everything stored offline on this device (log-out, another user, a damaged store). */
export async function wipeOfflineData() {
  const jobs = [];
  if ("indexedDB" in window) {
    jobs.push(new Promise((resolve) => {
      const req = indexedDB.deleteDatabase(DB_NAME);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    }));
  }
  if ("caches" in window) jobs.push(caches.delete(PAGES_CACHE).catch(() => false));
  await Promise.all(jobs);
}

export class OfflineStore {
  constructor(db, userId) {
    this.db = db;
    this.userId = userId;
  }

  /**
   * The store of `userId`. Resolves to {store, reset}: `reset` is true when the previous copy was
   * damaged and had to be deleted (the page says so). `store` is null where IndexedDB is missing.
   */
  static async open(userId) {
    if (!("indexedDB" in window) || !userId) return { store: null, reset: false };
    let reset = false;
    let db;
    try {
      db = await open();
      const store = new OfflineStore(db, userId);
      const owner = await store._get("meta", "user");
      if (owner !== undefined && owner !== userId) {
        db.close();
        await wipeOfflineData(); // another account used this browser: its data must not show
        db = await open();
      }
      await new OfflineStore(db, userId).validate();
    } catch (error) {
      if (db) db.close();
      reset = true;
      await wipeOfflineData();
      try {
        db = await open();
      } catch {
        return { store: null, reset };
      }
    }
    const store = new OfflineStore(db, userId);
    await store._put("meta", userId, "user");
    return { store, reset };
  }

  async _get(name, key) {
    return request(this.db.transaction(name).objectStore(name).get(key));
  }

  async _put(name, value, key) {
    const tx = this.db.transaction(name, "readwrite");
    tx.objectStore(name).put(value, key);
    await done(tx);
  }

  async _all(name) {
    return request(this.db.transaction(name).objectStore(name).getAll());
  }

  /** Throws CorruptStore when any record isn't what this version wrote. */
  async validate() {
    check(await this._all("conversations"), validConversation);
    check(await this._all("messages"), validMessage);
    check(await this._all("outbox"), validQueued);
  }

  async savedAt() {
    return (await this._get("meta", "saved_at")) || null;
  }

  /** Keep the newest conversations (as listed by the server) and drop the rest with their messages. */
  async saveConversations(conversations) {
    const keep = conversations.slice(0, RECENT_CONVERSATIONS);
    const ids = new Set(keep.map((c) => c.id));
    const tx = this.db.transaction(["conversations", "messages", "meta"], "readwrite");
    const convs = tx.objectStore("conversations");
    const messages = tx.objectStore("messages");
    convs.clear();
    keep.forEach((c, order) => convs.put({ ...c, order }));
    messages.openCursor().onsuccess = (event) => {
      const cursor = event.target.result;
      if (!cursor) return;
      if (!ids.has(cursor.value.conversation)) cursor.delete();
      cursor.continue();
    };
    tx.objectStore("meta").put(new Date().toISOString(), "saved_at");
    await done(tx);
  }

  async conversations() {
    const list = check(await this._all("conversations"), validConversation);
    return list.sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  async saveMessages(conversationId, list) {
    const tx = this.db.transaction(["messages", "meta"], "readwrite");
    const store = tx.objectStore("messages");
    const index = store.index("conversation");
    index.openKeyCursor(IDBKeyRange.only(conversationId)).onsuccess = (event) => {
      const cursor = event.target.result;
      if (!cursor) {
        list.slice(-RECENT_MESSAGES).filter((m) => m.id).forEach((m) => store.put(m));
        return;
      }
      store.delete(cursor.primaryKey);
      cursor.continue();
    };
    tx.objectStore("meta").put(new Date().toISOString(), "saved_at");
    await done(tx);
  }

  async putMessage(message) {
    if (!validMessage(message)) return;
    const known = await this._get("conversations", message.conversation);
    if (!known) return; // only conversations in the recent list are kept
    await this._put("messages", message);
  }

  async messages(conversationId) {
    const list = await request(this.db.transaction("messages").objectStore("messages").index("conversation").getAll(IDBKeyRange.only(conversationId)));
    check(list, validMessage);
    return list.sort((a, b) => (a.created || "").localeCompare(b.created || "") || a.id - b.id);
  }

  async removeConversation(conversationId) {
    const tx = this.db.transaction(["conversations", "messages"], "readwrite");
    tx.objectStore("conversations").delete(conversationId);
    const messages = tx.objectStore("messages");
    messages.index("conversation").openKeyCursor(IDBKeyRange.only(conversationId)).onsuccess = (event) => {
      const cursor = event.target.result;
      if (!cursor) return;
      messages.delete(cursor.primaryKey);
      cursor.continue();
    };
    await done(tx);
  }

  // --- the outbox -------------------------------------------------------------------------------
  async queue(entry) {
    await this._put("outbox", { ...entry, queued_at: new Date().toISOString() });
  }

  async outbox() {
    const list = check(await this._all("outbox"), validQueued);
    return list.sort((a, b) => (a.queued_at || "").localeCompare(b.queued_at || ""));
  }

  async dequeue(clientId) {
    const tx = this.db.transaction("outbox", "readwrite");
    tx.objectStore("outbox").delete(clientId);
    await done(tx);
  }
}
