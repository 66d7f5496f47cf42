"""The whole journey in one browser run (issue 14), against the product as deployed: daphne, a Celery
worker and the Telegram poller on PostgreSQL and Redis, with Google, GitHub, Telegram and the LLM as
loopback fakes (tests/fakes/, chat/llm/providers/fake.py).

Sign up in the browser → connect GitHub and Google through the real allauth callback → link
Telegram with the code from Settings, confirmed in the bot → chat on the web, continue from Telegram
and see it live in the open tab → GitHub activity synced by the worker and cited (with its
freshness) in a reply → a staff user in a second browser publishes a trait change in the admin and
the open persona page updates without a reload. Every step is screenshotted, numbered in order,
into $TEST_OUTPUT_DIR/journey/.

Run alone: make test PYTEST_ARGS="-q tests/web/test_journey.py".
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.telegram_bot.conftest import TG_USER_ID, callback_update, message_update
from tests.web.conftest import OUTPUT_DIR, PASSWORD

pytestmark = pytest.mark.browser

JOURNEY = OUTPUT_DIR / "journey"
REPLY = "#log .msg.assistant:not(.streaming)"


class Story:
    """Numbered full-page screenshots: test-output/journey/01-landing.png, 02-…, in the order taken."""

    def __init__(self) -> None:
        shutil.rmtree(JOURNEY, ignore_errors=True)
        JOURNEY.mkdir(parents=True)
        self.shots: list[Path] = []

    def shot(self, page, name: str) -> None:
        path = JOURNEY / f"{len(self.shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)


def _persona_editor(email: str) -> None:
    """A staff member allowed to edit personas (the admin's model permissions, not a superuser)."""
    from django.contrib.auth.models import Permission

    from accounts.models import User
    from accounts.services import user_create

    staff = user_create(email=email, password=PASSWORD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="personality"))
    assert User.objects.get(pk=staff.pk).has_perm("personality.change_persona")


def _replies(page) -> int:
    return page.locator(f"{REPLY} .feedback").count()


def _send(page, text: str) -> int:
    """Send `text` from the chat box; returns how many finished replies the page showed before."""
    before = _replies(page)
    page.locator("#message-input").fill(text)
    page.locator("#message-input").press("Enter")
    return before


def _next_reply(page, before: int) -> str:
    """The text of the reply that finishes after `before` finished ones."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('#log .msg.assistant:not(.streaming) .feedback').length > n", arg=before
    )
    return page.locator(REPLY).last.inner_text()


def _connect(page, provider: str) -> None:
    card = page.locator(f".provider[data-provider={provider}]")
    card.get_by_role("button", name=re.compile(r"^Connect ")).click()
    page.wait_for_url("**/integrations/")
    card.locator("[data-role=state]").filter(has_text="Connected").wait_for()


def test_the_whole_journey_in_one_run(connected_pages, connected_stack, orm):
    stack = connected_stack
    story = Story()
    email = "journey-user@example.com"
    staff_email = "journey-staff@example.com"
    orm(_persona_editor, staff_email)
    # The remote accounts the new user owns: GitHub with a busy day of pushes, a Google account.
    stack.github.add_user("ivan-journey", email=email)
    stack.github.add_repo("ivan-journey", "ivan-journey/digitalme")
    for commits in (4, 3, 2):
        stack.github.add_push("ivan-journey", "ivan-journey/digitalme", commits=commits)
    stack.github.sign_in("ivan-journey")
    stack.google.sign_in(email=email, sub="31337")

    # 1. Sign up in the browser.
    page = connected_pages.new()
    page.goto("/")
    story.shot(page, "landing")
    page.get_by_role("link", name="Sign up — it takes a minute").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)", exact=True).fill(PASSWORD)
    story.shot(page, "signup")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url("**/chat/")
    page.wait_for_selector("#conn[data-state=online]")
    story.shot(page, "signed-up")

    # 2. Connect GitHub and Google: the real allauth flow, the fakes approving at their consent pages.
    page.get_by_role("link", name="Integrations", exact=True).click()
    _connect(page, "github")
    assert stack.github.calls_to("/login/oauth/access_token", "POST"), "allauth exchanged the code"
    story.shot(page, "github-connected")
    _connect(page, "google")
    assert stack.google.calls_to("/token", "POST")
    story.shot(page, "google-connected")

    # 3. The worker syncs GitHub; what Ivan notices shows on the page.
    page.locator(".provider[data-provider=github]").get_by_role("button", name="Sync now").click()
    page.locator("#insights", has_text="9 commits pushed to ivan-journey/digitalme").wait_for(timeout=60000)
    story.shot(page, "github-synced")

    # 4. Link Telegram: the code from Settings, `/start CODE` from the Bot API, then "yes" in the bot.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("button", name="Get a linking code").click()
    code = page.locator("#telegram-result .code-display").inner_text().strip()
    story.shot(page, "telegram-code")
    stack.telegram.queue_update(message_update(f"/start {code}"))
    question = stack.telegram.wait_for("sendMessage", timeout=30)[-1]
    buttons = [b["callback_data"] for row in question.params["reply_markup"]["inline_keyboard"] for b in row]
    assert f"link:yes:{code}" in buttons, question.params  # nothing is linked before the user says yes
    stack.telegram.queue_update(callback_update(f"link:yes:{code}"))
    linked = stack.telegram.wait_for("editMessageText", timeout=30)[-1]
    assert "now linked to" in linked.params["text"] and email in linked.params["text"], linked.params

    # 5. Chat on the web, then continue on Telegram: the open tab shows it live.
    page.get_by_role("link", name="Chat", exact=True).click()
    page.wait_for_selector("#conn[data-state=online]")
    assert "You said: Hello from the web" in _next_reply(page, _send(page, "Hello from the web"))
    story.shot(page, "web-chat")
    replies_before = len(stack.telegram.calls_of("sendMessage"))
    shown_before = _replies(page)
    stack.telegram.queue_update(message_update("And hello from Telegram"))
    from_telegram = page.locator("#log .msg.user", has_text="And hello from Telegram")
    from_telegram.wait_for(timeout=30000)
    assert "via Telegram" in from_telegram.inner_text()
    assert "You said: And hello from Telegram" in _next_reply(page, shown_before)
    sent = stack.telegram.wait_for("sendMessage", count=replies_before + 1, timeout=30)
    assert any("And hello from Telegram" in call.params.get("text", "") for call in sent[replies_before:])
    assert all(int(call.params["chat_id"]) == TG_USER_ID for call in sent[replies_before:])
    assert page.locator("#conv-list li").count() == 1, "one conversation, continued across platforms"
    story.shot(page, "telegram-live-in-web")

    # 6. Ivan cites the synced GitHub activity, with when it was synced.
    cited = _next_reply(page, _send(page, "What have I been working on? [[cite]]"))
    assert "9 commits pushed to ivan-journey/digitalme" in cited
    assert re.search(r"\[github, synced [^\]]*\]", cited), cited
    story.shot(page, "github-cited")

    # 7. Staff publishes a trait change in a second browser; the user's open persona page follows.
    persona_page = page.context.new_page()
    persona_page.goto("/persona/")
    persona_page.wait_for_selector("#persona-conn[data-state=online]")
    humor = persona_page.locator("g[data-trait=humor] .value")
    humor.wait_for()
    new_value = "0.41" if humor.text_content() != "41" else "0.79"
    story.shot(persona_page, "persona-before")

    staff = connected_pages.new()
    connected_pages.log_in(staff, staff_email, next_path="/admin/personality/persona/")
    staff.locator("#result_list th a", has_text="Ivan").first.click()  # the persona in the admin list
    staff.wait_for_url("**/change/")
    staff.evaluate(
        """(value) => {
          const name = [...document.querySelectorAll("input[name$='-name']")].find((i) => i.value === "humor");
          const slider = document.querySelector(`input[name='${name.name.replace(/-name$/, "-value")}']`);
          slider.value = value;
          slider.dispatchEvent(new Event("input", { bubbles: true }));
        }""",
        new_value,
    )
    story.shot(staff, "staff-edits-trait")
    staff.get_by_role("button", name="Save and continue editing").click()
    staff.locator(".messagelist", has_text="Saved as draft version").wait_for()
    staff.get_by_role("link", name="Versions & publish").click()
    staff.wait_for_url("**/versions/")
    staff.locator("tr.status-draft").first.get_by_role("button", name="Publish", exact=True).click()
    # Nobody evaluated the draft yet: the admin warns once and asks to confirm.
    staff.wait_for_url("**/versions/?confirm=*")
    story.shot(staff, "staff-publish-warning")
    staff.get_by_role("button", name="Publish despite the drop").click()
    staff.locator(".messagelist", has_text="is live").wait_for()
    story.shot(staff, "staff-published")

    persona_page.wait_for_function(
        "(expected) => document.querySelector('g[data-trait=humor] .value').textContent === expected",
        arg=str(round(float(new_value) * 100)),
    )
    assert "personality was just updated" in persona_page.locator("#persona-live").inner_text()
    story.shot(persona_page, "persona-updated-live")

    assert all(path.stat().st_size > 0 for path in story.shots)
