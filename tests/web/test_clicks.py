"""Clicks from the landing page to each main task, counted in a real Chromium (the seed's bar: ≤ 3).

Typing is not a click; a confirm() dialog accepted counts as one, and so does approving the app on
the provider's own consent page (the loopback fake approves at once). Counts go to
$TEST_OUTPUT_DIR/web-metrics.json under "clicks".
Run alone: make test PYTEST_ARGS="-q tests/web/test_clicks.py".
"""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import OUTPUT_DIR, record_metric

pytestmark = pytest.mark.browser

MAX_CLICKS = 3


class Counter:
    def __init__(self, page) -> None:
        self.page = page
        self.clicks = 0
        page.on("dialog", self._accept)

    def _accept(self, dialog) -> None:
        self.clicks += 1  # the person clicks OK
        dialog.accept()

    def click(self, locator) -> None:
        self.clicks += 1
        locator.click()


def _remember(email: str) -> None:
    from accounts.models import User
    from chat.models import MemoryFact

    MemoryFact.objects.create(user=User.objects.get(email=email), key="city", value="Lisbon", text="Lives in Lisbon.")


def _record_clicks(counts: dict[str, int]) -> None:
    """Merged into what the other test of this file recorded (each may run alone)."""
    path = OUTPUT_DIR / "web-metrics.json"
    recorded = json.loads(path.read_text()).get("clicks", {}) if path.exists() else {}
    record_metric("clicks", {**recorded, **counts})


def start(pages, email: str):
    page = pages.new()
    pages.log_in(page, email, next_path="/")
    return page, Counter(page)


def test_main_tasks_take_at_most_three_clicks_from_the_landing_page(pages, make_user, orm):
    email = make_user()
    orm(_remember, email)
    counts: dict[str, int] = {}

    page, c = start(pages, email)  # start a chat
    c.click(page.get_by_role("link", name="Chat", exact=True))
    page.wait_for_selector("#conn[data-state=online]")
    page.locator("#message-input").fill("hello")
    page.locator("#message-input").press("Enter")
    page.wait_for_selector("#log .msg.assistant:not(.streaming) .feedback")
    counts["start a chat"] = c.clicks

    page, c = start(pages, email)  # delete a conversation
    c.click(page.get_by_role("link", name="Chat", exact=True))
    c.click(page.locator("#conv-list li").first.get_by_role("button", name="Delete: ", exact=False))
    page.wait_for_function("() => document.querySelectorAll('#conv-list li').length === 0")
    counts["delete a conversation"] = c.clicks

    page, c = start(pages, email)  # link Telegram
    c.click(page.get_by_role("link", name="Settings", exact=True))
    c.click(page.get_by_role("button", name="Get a linking code"))
    page.locator("#telegram-result .code-display").wait_for()
    counts["link Telegram"] = c.clicks

    page, c = start(pages, email)  # forget a memory
    c.click(page.get_by_role("link", name="Settings", exact=True))
    c.click(page.get_by_role("button", name="Forget: Lives in Lisbon."))
    page.locator("#memory", has_text="Forgotten").wait_for()
    counts["forget a memory"] = c.clicks

    page, c = start(pages, email)  # export data
    c.click(page.get_by_role("link", name="Settings", exact=True))
    with page.expect_download() as download:
        c.click(page.get_by_role("link", name="Export my data"))
    assert download.value.suggested_filename == "digitalme-export.json"
    counts["export data"] = c.clicks

    page, c = start(pages, email)  # change language (choosing in the list is the second click)
    c.click(page.get_by_role("link", name="Settings", exact=True))
    c.clicks += 1
    page.get_by_label("Language").select_option("ru")
    c.click(page.get_by_role("button", name="Save").first)
    page.get_by_role("heading", name="Настройки").wait_for()
    counts["change language"] = c.clicks

    _record_clicks(counts)
    print("\nclicks from the landing page:", counts)
    assert all(n <= MAX_CLICKS for n in counts.values()), counts


def test_connecting_github_takes_at_most_three_clicks_from_the_landing_page(
    connected_pages, connected_stack, make_user
):
    email = make_user()
    connected_stack.github.add_user("clicker", email=email)
    connected_stack.github.sign_in("clicker")

    page, c = start(connected_pages, email)
    c.click(page.get_by_role("link", name="Integrations", exact=True))
    c.click(page.get_by_role("button", name="Connect GitHub"))
    c.clicks += 1  # "Authorize" on GitHub's consent page: the fake GitHub approves without it
    page.wait_for_url("**/integrations/")
    card = page.locator(".provider[data-provider=github]")
    card.locator("[data-role=state]").filter(has_text="Connected").wait_for()
    assert "clicker" in card.inner_text()

    _record_clicks({"connect GitHub": c.clicks})
    assert c.clicks <= MAX_CLICKS
