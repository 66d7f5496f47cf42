"""The web app in a real Chromium against a live daphne: chat streaming, live updates, a11y, PWA.

Run alone: make test PYTEST_ARGS="-q -m browser tests/web". Screenshots and the measured
sign-up → first-token time land in $TEST_OUTPUT_DIR (screenshots/, web-metrics.json).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from chat.llm.providers.fake import SLOW_END
from tests.web.conftest import OUTPUT_DIR, PASSWORD, api_token, record_metric, screenshot

pytestmark = pytest.mark.browser

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
REPLY = "#log .msg.assistant:not(.streaming)"


def _chat_socket_available() -> bool:
    from chat.routing import websocket_urlpatterns

    return bool(websocket_urlpatterns)


# The chat app is built in parallel; these tests run as soon as its /ws/chat/ consumer is routed.
needs_chat = pytest.mark.skipif(not _chat_socket_available(), reason="chat's /ws/chat/ consumer is not routed yet")


def send(page, text: str) -> None:
    box = page.locator("#message-input")
    box.fill(text)
    box.press("Enter")


def wait_online(page) -> None:
    page.wait_for_selector("#conn[data-state=online]")


def last_reply(page):
    page.wait_for_selector(f"{REPLY} .feedback")
    return page.locator(REPLY).last


# --- Chat ------------------------------------------------------------------------------------


@needs_chat
def test_sign_up_then_first_streamed_reply(pages):
    page = pages.new()
    email = f"newcomer-{time.monotonic_ns()}@example.com"
    started = time.monotonic()
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url("**/chat/")
    wait_online(page)
    send(page, "Hello Ivan, what do you do?")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#log .msg.assistant .bubble')].some(b => b.textContent.trim().length)"
    )
    first_token_s = time.monotonic() - started
    record_metric("signup_to_first_token_s", round(first_token_s, 3))
    print(f"\nsign-up page → Ivan's first streamed token: {first_token_s:.2f} s")
    reply = last_reply(page)
    assert "Ivan here. You said: Hello Ivan, what do you do?" in reply.inner_text()
    assert re.search(r"/chat/\d+/$", page.url), "the new conversation gets its own URL"
    page.wait_for_selector("#conv-list li a[aria-current=page]")
    assert first_token_s < 300  # the seed's bar: registration → first reply in under 5 minutes


@needs_chat
def test_reply_streams_token_by_token_and_stop_ends_it(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user())
    wait_online(page)
    send(page, "[[slow]] tell me a long story")
    streaming = page.locator("#log .msg.assistant.streaming .bubble")
    page.wait_for_function(
        "() => (document.querySelector('#log .msg.assistant.streaming .bubble')?.textContent || '').includes('goes on')"
    )
    partial = streaming.inner_text()
    assert SLOW_END not in partial, "the reply is shown while it is still being generated"
    assert page.locator("#log .msg.assistant.streaming").get_attribute("aria-busy") == "true"
    page.get_by_role("button", name="Stop").click()
    reply = last_reply(page)
    assert SLOW_END not in reply.inner_text()
    assert page.locator("#stop-button").is_hidden()
    assert page.locator("#send-button").is_visible()


@needs_chat
def test_rate_a_reply_and_send_a_correction(pages, make_user, live_server_url):
    email = make_user()
    page = pages.new()
    pages.log_in(page, email)
    wait_online(page)
    send(page, "Rate me")
    reply = last_reply(page)
    reply.get_by_role("button", name="Good reply").click()
    page.wait_for_selector(f"{REPLY} .rate-up[aria-pressed=true]")
    reply.get_by_role("button", name="Bad reply").click()
    page.wait_for_selector(f"{REPLY} .rate-down[aria-pressed=true]")
    reply.get_by_label("What should Ivan have said? (optional)").fill("Say hello back.")
    reply.get_by_role("button", name="Send feedback").click()
    page.wait_for_selector(f"{REPLY} .correction", state="detached")
    assert "Thanks for the feedback" in reply.inner_text()

    token = api_token(live_server_url, email)
    headers = {"Authorization": f"Bearer {token}"}
    conversation_id = re.search(r"/chat/(\d+)/", page.url).group(1)
    messages = httpx.get(f"{live_server_url}/api/conversations/{conversation_id}/messages/", headers=headers).json()
    stored = [m for m in messages["results"] if m["role"] == "assistant"][-1]
    assert stored["rating"] == -1


@needs_chat
def test_message_sent_through_the_api_appears_live(pages, make_user, live_server_url):
    email = make_user()
    token = api_token(live_server_url, email)
    headers = {"Authorization": f"Bearer {token}"}
    conversation = httpx.post(
        f"{live_server_url}/api/conversations/", json={"title": "From the API"}, headers=headers
    ).json()
    page = pages.new()
    pages.log_in(page, email, next_path=f"/chat/{conversation['id']}/")
    wait_online(page)
    response = httpx.post(
        f"{live_server_url}/api/conversations/{conversation['id']}/messages/",
        json={"content": "Sent from a script"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 201
    user_message = page.locator("#log .msg.user", has_text="Sent from a script")
    user_message.wait_for()
    assert "via API" in user_message.inner_text()
    assert "Ivan here. You said: Sent from a script" in last_reply(page).inner_text()


@needs_chat
def test_model_reply_with_html_renders_as_text(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user())
    wait_online(page)
    payload = '<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> **bold**'
    send(page, f"[[say:{payload}]]")
    reply = last_reply(page)
    text = reply.locator(".bubble").inner_text()
    assert "<script>window.__pwned = 1</script>" in text
    assert '<img src=x onerror="window.__pwned = 2">' in text
    assert reply.locator(".bubble strong").inner_text() == "bold"
    assert page.locator("#log script, #log img:not(.avatar)").count() == 0
    assert page.evaluate("() => window.__pwned") is None


@needs_chat
def test_code_block_has_a_working_copy_button(pages, make_user):
    page = pages.new(permissions=["clipboard-read", "clipboard-write"])
    pages.log_in(page, make_user())
    wait_online(page)
    send(page, "[[say:Here:\n```python\nprint('hi')\n```]]")
    reply = last_reply(page)
    assert reply.locator("pre code").inner_text() == "print('hi')"
    copy = reply.get_by_role("button", name="Copy code")
    copy.click()
    page.wait_for_function("(button) => button.textContent === 'Copied'", arg=copy.element_handle())
    assert page.evaluate("() => navigator.clipboard.readText()") == "print('hi')"


@needs_chat
def test_keyboard_only_send_and_rate(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user())
    wait_online(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "message-input":
            break
    else:
        pytest.fail("the message box cannot be reached with Tab")
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")
    reply = last_reply(page)
    assert "You said: Typed without a mouse" in reply.inner_text()
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("() => document.activeElement.classList.contains('rate-down')"):
            break
    else:
        pytest.fail("the rating buttons cannot be reached with Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{REPLY} .rate-up[aria-pressed=true]")


@needs_chat
def test_lost_connection_is_shown_and_restored_with_backoff(pages, make_user):
    page = pages.new()
    sockets = []

    def relay(socket) -> None:  # passes frames through, so the test can cut the line later
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket("**/ws/chat/", relay)
    pages.log_in(page, make_user())
    wait_online(page)
    sockets[-1].close(code=1012, reason="server restart")
    page.wait_for_selector("#conn[data-state=reconnecting]")
    assert "Reconnecting in" in page.locator("#conn").inner_text()
    wait_online(page)
    assert len(sockets) == 2
    send(page, "Still there?")
    assert "You said: Still there?" in last_reply(page).inner_text()


@needs_chat
def test_chat_works_at_360_px(pages, make_user):
    page = pages.new(width=360, height=740)
    pages.log_in(page, make_user())
    wait_online(page)
    send(page, "Small screen")
    last_reply(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert page.locator("#send-button").is_visible()
    toggle = page.get_by_role("button", name="Conversations")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.wait_for_selector("#conv-panel.open #conv-list li")
    screenshot(page, "chat-conversations-panel")


@needs_chat
def test_conversation_rename_search_and_delete(pages, make_user, live_server_url):
    email = make_user()
    headers = {"Authorization": f"Bearer {api_token(live_server_url, email)}"}
    for title in ("Books", "Travel plans"):
        httpx.post(f"{live_server_url}/api/conversations/", json={"title": title}, headers=headers)
    page = pages.new()
    pages.log_in(page, email)
    page.wait_for_selector("#conv-list li")
    page.get_by_label("Search conversations by title").fill("trav")
    assert page.locator("#conv-list li").all_inner_texts() == ["Travel plans"]
    page.get_by_label("Search conversations by title").fill("")
    page.get_by_role("button", name="Rename: Books").click()
    page.get_by_label("New title").fill("Novels")
    page.get_by_label("New title").press("Enter")
    page.wait_for_selector("#conv-list a:text-is('Novels')")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete: Travel plans").click()
    page.wait_for_selector("#conv-list a:text-is('Travel plans')", state="detached")
    titles = [c["title"] for c in httpx.get(f"{live_server_url}/api/conversations/", headers=headers).json()["results"]]
    assert titles == ["Novels"]


# --- Persona dashboard ----------------------------------------------------------------------------


def _publish_trait(name: str, value: float) -> None:
    from personality.selectors import persona_get
    from personality.services import persona_update

    persona_update(persona=persona_get(slug="ivan"), traits=[{"name": name, "value": value}], publish=True)


def test_dashboard_updates_live_when_staff_publish_a_trait_change(pages, orm):
    page = pages.new()
    page.goto("/persona/")
    page.wait_for_selector("#persona-conn[data-state=online]")
    humor = page.locator("g[data-trait=humor] .value")
    humor.wait_for()
    page.wait_for_selector("#trait-list dt")
    assert page.locator("#trait-list dt").first.inner_text().startswith("Humor")
    points_before = page.locator(HUMOR_HISTORY_POINTS).count()
    versions_before = orm(_published_versions)
    # a single published version is not drawn as a history (it was a lone, puzzling dot)
    assert points_before == (versions_before if versions_before > 1 else 0)
    new_value = 0.41 if humor.text_content() != "41" else 0.79
    orm(_publish_trait, "humor", new_value)
    page.wait_for_function(
        "(expected) => document.querySelector('g[data-trait=humor] .value').textContent === expected",
        arg=str(round(new_value * 100)),
    )
    assert "personality was just updated" in page.locator("#persona-live").inner_text()
    # the new version becomes a new point of the trait's history without a reload
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length === count",
        arg=[HUMOR_HISTORY_POINTS, versions_before + 1],
    )
    title = page.locator("#trait-list dt", has_text="Humor").locator("svg.sparkline").get_attribute("aria-label")
    assert title is not None and title.endswith(f" {round(new_value * 100)}")


HUMOR_HISTORY_POINTS = "#trait-list dt:first-of-type svg.sparkline circle"


def _published_versions() -> int:
    from personality.models import PersonaVersion

    return PersonaVersion.objects.filter(persona__slug="ivan", published_at__isnull=False).count()


RADAR_WATCH = """
document.addEventListener("DOMContentLoaded", () => {
  const radar = document.getElementById("trait-radar");
  const box = radar.getBoundingClientRect();
  window.__radarBefore = { x: box.x, y: box.y, width: box.width, height: box.height, drawn: !!radar.firstChild };
});
"""
RADAR_BOX = """() => { const b = document.getElementById("trait-radar").getBoundingClientRect();
  return { x: b.x, y: b.y, width: b.width, height: b.height }; }"""


def test_trait_radar_draws_into_reserved_space_without_layout_shift(pages, orm):
    page = pages.new()
    page.add_init_script(RADAR_WATCH)
    page.goto("/persona/")
    page.wait_for_selector("#persona-conn[data-state=online]")  # the push below must find the page listening
    page.wait_for_selector("#trait-radar svg polygon.value")
    before = page.evaluate("window.__radarBefore")
    drawn = page.evaluate(RADAR_BOX)
    assert before.pop("drawn") is False  # measured before the data arrived
    assert (
        before["height"] == pytest.approx(before["width"], abs=1) and before["height"] > 100
    )  # its square is reserved
    assert drawn == pytest.approx(before, abs=1)
    shape = page.locator("#trait-radar polygon.value").get_attribute("points")

    humor = page.locator("g[data-trait=humor] .value").text_content()
    orm(_publish_trait, "humor", 0.35 if humor != "35" else 0.8)
    page.wait_for_function(
        "(old) => document.querySelector('#trait-radar polygon.value').getAttribute('points') !== old", arg=shape
    )
    assert page.evaluate(RADAR_BOX) == pytest.approx(before, abs=1)  # a live redraw does not move it either
    screenshot(page, "persona-radar")


# --- Settings and integrations ---------------------------------------------------------------


def test_settings_gives_a_telegram_link_code_with_qr(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user(), next_path="/settings/")
    page.get_by_role("button", name="Get a linking code").click()
    telegram = page.locator("#telegram-result")
    link = telegram.get_by_role("link", name="Open in Telegram")
    link.wait_for()
    code = telegram.locator(".code-display").inner_text()
    assert link.get_attribute("href") == f"https://t.me/digitalme_test_bot?start={code}"
    qr = telegram.locator("img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle())


def test_settings_switch_interface_to_russian(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user(), next_path="/settings/")
    page.get_by_label("Display name").fill("Анна")
    page.get_by_label("Language").select_option("ru")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Настройки").wait_for()
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.get_by_label("Имя").input_value() == "Анна"


def test_integrations_page_states_are_honest(pages, make_user):
    page = pages.new()
    pages.log_in(page, make_user(), next_path="/integrations/")
    for provider in ("google", "github"):
        card = page.locator(f".provider[data-provider={provider}]")
        card.locator("[data-role=state]").filter(has_text="Not connected").wait_for()
        assert "not configured on this server" in card.inner_text()
    page.locator("#insights", has_text="Nothing to point out yet").wait_for()


def _remember(email: str, text: str) -> None:
    from accounts.models import User
    from chat.models import MemoryFact

    MemoryFact.objects.create(user=User.objects.get(email=email), key="daughter_name", value="Masha", text=text)


def test_settings_lists_what_ivan_remembers_and_forgets_on_request(pages, make_user, orm, live_server_url):
    email = make_user()
    orm(_remember, email, "Your daughter is called Masha.")
    page = pages.new()
    pages.log_in(page, email, next_path="/settings/")
    page.get_by_role("button", name="Forget: Your daughter is called Masha.").click()
    page.locator("#memory", has_text="Forgotten: Your daughter is called Masha.").wait_for()
    headers = {"Authorization": f"Bearer {api_token(live_server_url, email)}"}
    assert httpx.get(f"{live_server_url}/api/me/memory/", headers=headers).json()["facts"] == []


def _connect_github(email: str) -> None:
    from accounts.models import User
    from integrations.models import Integration

    Integration.objects.create(user=User.objects.get(email=email), provider="github", account_label="ivan-dev")


def test_connected_integration_can_switch_a_kind_off_and_disconnect(pages, make_user, orm, live_server_url):
    email = make_user()
    orm(_connect_github, email)
    page = pages.new()
    pages.log_in(page, email, next_path="/integrations/")
    card = page.locator(".provider[data-provider=github]")
    card.locator("[data-role=state]").filter(has_text="Connected").wait_for()
    assert "ivan-dev" in card.inner_text()
    first_kind = card.locator(".kinds input").first
    kind_name = first_kind.get_attribute("id").removeprefix("kind-github-")
    page.once("dialog", lambda dialog: dialog.accept())
    first_kind.uncheck()
    page.locator("#integrations-status", has_text="Saved").wait_for()
    headers = {"Authorization": f"Bearer {api_token(live_server_url, email)}"}
    github = httpx.get(f"{live_server_url}/api/integrations/github/", headers=headers).json()
    assert github["kinds"][kind_name] is False
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Disconnect").click()
    card.locator("[data-role=state]").filter(has_text="Not connected").wait_for()
    assert httpx.get(f"{live_server_url}/api/integrations/github/", headers=headers).json()["connected"] is False


# --- Every page: axe-core scan and screenshots ---------------------------------------------------

ANONYMOUS_PAGES = {
    "landing": "/",
    "login": "/accounts/login/",
    "signup": "/accounts/signup/",
    "password-reset": "/accounts/password/reset/",
    "persona": "/persona/",
    "offline": "/offline/",
}
SIGNED_IN_PAGES = {"chat": "/chat/", "integrations": "/integrations/", "settings": "/settings/"}


def axe_violations(page) -> list[dict]:
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'],"
        " runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


@needs_chat
def test_every_page_passes_axe_and_is_screenshotted(pages, make_user):
    report: dict[str, list[dict]] = {}
    email = make_user()
    for color_scheme, width in (("light", 1280), ("light", 360), ("dark", 1280)):
        page = pages.new(width=width, height=860 if width > 400 else 740, color_scheme=color_scheme)
        targets = dict(ANONYMOUS_PAGES)
        for name, path in targets.items():
            page.goto(path)
            page.wait_for_load_state("networkidle")
            report[f"{name}/{color_scheme}/{width}"] = axe_violations(page)
            if color_scheme == "light":
                screenshot(page, name)
            elif width == 1280:
                screenshot(page, f"{name}-dark")
        pages.log_in(page, email)
        wait_online(page)
        if width == 1280 and color_scheme == "light":
            send(page, "[[say:Sure. Try this:\n```python\nprint('hello')\n```\n- one\n- **two**]]")
            last_reply(page)
        for name, path in SIGNED_IN_PAGES.items():
            page.goto(path)
            page.wait_for_load_state("networkidle")
            if name == "chat":
                wait_online(page)
            report[f"{name}/{color_scheme}/{width}"] = axe_violations(page)
            if color_scheme == "light":
                screenshot(page, name)
            elif width == 1280:
                screenshot(page, f"{name}-dark")
        page.goto("/chat/")
        if width < 760:
            page.get_by_role("button", name="Conversations").click()
        conversation = page.locator("#conv-list a").first
        conversation.wait_for()
        conversation.click()
        page.wait_for_selector(REPLY)
        report[f"conversation/{color_scheme}/{width}"] = axe_violations(page)
        if color_scheme == "light":
            screenshot(page, "conversation")
        elif width == 1280:
            screenshot(page, "conversation-dark")
    (OUTPUT_DIR / "axe-report.json").write_text(json.dumps(report, indent=2))
    serious = {
        page_name: [v for v in violations if v["impact"] in ("serious", "critical")]
        for page_name, violations in report.items()
    }
    serious = {name: violations for name, violations in serious.items() if violations}
    total = sum(len(v) for v in report.values())
    record_metric("axe_pages_scanned", len(report))
    record_metric("axe_serious_or_critical", sum(len(v) for v in serious.values()))
    record_metric("axe_minor_or_moderate", total - sum(len(v) for v in serious.values()))
    assert serious == {}


def test_api_docs_render_from_local_files(pages):
    page = pages.new()
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock-summary-path", has_text="/api/me/").count() >= 1


# --- PWA -------------------------------------------------------------------------------------------


def test_service_worker_registers_and_offline_page_shows_without_network(pages):
    page = pages.new()
    context = page.context
    page.goto("/")
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/"
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    manifest = page.evaluate("async () => (await fetch('/manifest.webmanifest')).json()")
    assert manifest["display"] == "standalone"
    context.set_offline(True)
    try:
        page.goto("/persona/")
        assert page.get_by_role("heading", name="You are offline").is_visible()
        screenshot(page, "offline-no-network")
    finally:
        context.set_offline(False)
