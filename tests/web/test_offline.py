"""Offline conversations in a real Chromium: reading the device's copy without the network, the
outbox (typed offline, sent once on reconnect), a conversation deleted meanwhile, a damaged store,
and the wipe on log-out.

Run alone: make test PYTEST_ARGS="-q tests/web/test_offline.py".
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import api_token, screenshot, wait_for_async

pytestmark = pytest.mark.browser

REPLY = "#log .msg.assistant:not(.streaming) .feedback"
STORED_MESSAGES = """async (conversation) => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open("digitalme-offline");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    if (!db.objectStoreNames.contains("messages")) return [];
    const tx = db.transaction("messages");
    const all = await new Promise((resolve) => { const r = tx.objectStore("messages").getAll(); r.onsuccess = () => resolve(r.result); });
    return all.filter((m) => m.conversation === conversation).map((m) => m.content);
  } finally {
    db.close();
  }
}"""
OUTBOX = """async () => {
  const db = await new Promise((resolve) => { const req = indexedDB.open("digitalme-offline"); req.onsuccess = () => resolve(req.result); });
  try {
    const r = db.transaction("outbox").objectStore("outbox").getAll();
    return await new Promise((resolve) => { r.onsuccess = () => resolve(r.result.map((e) => e.content)); });
  } finally {
    db.close();
  }
}"""
DAMAGE_STORE = """async () => {
  const db = await new Promise((resolve) => { const req = indexedDB.open("digitalme-offline"); req.onsuccess = () => resolve(req.result); });
  const tx = db.transaction("messages", "readwrite");
  tx.objectStore("messages").put({ id: 999999, conversation: "not a number", role: 7 });
  await new Promise((resolve) => { tx.oncomplete = resolve; });
  db.close();
}"""


def send(page, text: str) -> None:
    page.locator("#message-input").fill(text)
    page.locator("#message-input").press("Enter")


def chat_once(pages, email: str, text: str):
    """Signed in, one turn done, the chat page reloaded under the service worker (so it is cached)."""
    page = pages.new()
    pages.log_in(page, email)
    page.wait_for_selector("#conn[data-state=online]")
    send(page, text)
    page.wait_for_selector(REPLY)
    page.wait_for_url(re.compile(r".*/chat/\d+/$"))
    conversation = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_selector("#conn[data-state=online]")
    page.wait_for_selector(REPLY)
    wait_for_async(page, f"() => ({STORED_MESSAGES})({conversation}).then((list) => list.length >= 2)")
    return page, conversation


def go_offline_and_reload(page) -> None:
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-note:not([hidden])")


def messages_of(base_url: str, email: str) -> list[str]:
    headers = {"Authorization": f"Bearer {api_token(base_url, email)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        contents = []
        listed = client.get("/api/conversations/").json()
        for conversation in listed["results"] if isinstance(listed, dict) else listed:
            data = client.get(f"/api/conversations/{conversation['id']}/messages/").json()
            rows = data["results"] if isinstance(data, dict) else data
            contents += [row["content"] for row in rows if row["role"] == "user"]
        return contents


def test_recent_conversations_are_readable_offline(pages, make_user):
    email = make_user()
    page, _ = chat_once(pages, email, "keep this for the train")

    go_offline_and_reload(page)

    assert "Offline: showing the copy saved on this device" in page.locator("#offline-note").inner_text()
    page.wait_for_selector(REPLY)
    assert "Ivan here. You said: keep this for the train" in page.locator("#log").inner_text()
    assert page.locator("#conv-list li").count() == 1
    screenshot(page, "offline-reading")


def test_a_message_typed_offline_is_queued_and_sent_once_on_reconnect(pages, make_user, live_server_url):
    email = make_user()
    page, _ = chat_once(pages, email, "first, online")
    go_offline_and_reload(page)

    send(page, "written in a tunnel")
    page.wait_for_selector("#log .msg.user.queued")
    assert "Queued" in page.locator("#log .msg.user.queued").inner_text()
    page.reload()  # still offline: the outbox survives a reload
    page.wait_for_selector("#log .msg.user.queued")
    assert page.evaluate(OUTBOX) == ["written in a tunnel"]
    screenshot(page, "offline-queued")

    page.context.set_offline(False)

    page.wait_for_function(
        "() => [...document.querySelectorAll('#log .msg.assistant')].some((m) => m.textContent.includes('You said: written in a tunnel'))",
        timeout=30000,
    )
    wait_for_async(page, f"() => ({OUTBOX})().then((list) => list.length === 0)")
    page.reload()
    page.wait_for_selector(REPLY)
    assert messages_of(live_server_url, email).count("written in a tunnel") == 1


def test_a_queued_message_for_a_conversation_deleted_meanwhile_is_not_sent(pages, make_user, live_server_url):
    email = make_user()
    page, conversation = chat_once(pages, email, "soon deleted")
    go_offline_and_reload(page)
    send(page, "too late for this one")
    page.wait_for_selector("#log .msg.user.queued")
    headers = {"Authorization": f"Bearer {api_token(live_server_url, email)}"}
    assert httpx.delete(f"{live_server_url}/api/conversations/{conversation}/", headers=headers).status_code == 204

    page.context.set_offline(False)

    alert = page.locator(".queued-failed")
    alert.wait_for(timeout=30000)
    assert "this conversation was deleted while you were offline" in alert.inner_text()
    screenshot(page, "offline-conversation-deleted")
    page.get_by_role("button", name="Put it back in the message box").click()
    assert page.locator("#message-input").input_value() == "too late for this one"
    assert page.evaluate(OUTBOX) == []
    assert "too late for this one" not in messages_of(live_server_url, email)


def test_a_damaged_offline_store_is_cleared_and_said_so(pages, make_user):
    email = make_user()
    page, conversation = chat_once(pages, email, "before the damage")
    page.evaluate(DAMAGE_STORE)

    page.reload()

    note = page.locator("#offline-note")
    note.wait_for()
    assert "was damaged and has been cleared" in note.inner_text()
    page.wait_for_selector(REPLY)
    wait_for_async(page, f"() => ({STORED_MESSAGES})({conversation}).then((list) => list.length >= 2)")
    send(page, "after the damage")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#log .msg.assistant')].some((m) => m.textContent.includes('after the damage'))"
    )


def test_log_out_removes_the_offline_copy(pages, make_user):
    email = make_user()
    page, _ = chat_once(pages, email, "private things")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("body[data-user='']")

    wait_for_async(
        page,
        "async () => !(await indexedDB.databases()).some((db) => db.name === 'digitalme-offline')"
        " && !(await caches.keys()).includes('digitalme-pages')",
    )
