"""The installable app in Chromium: store screenshots made from the real pages, the install button.

Run alone: make test PYTEST_ARGS="-q tests/web/test_install.py". The screenshots are written into
static/screenshots/ (the manifest lists them; commit them when the pages change).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from digitalme.views import STORE_SCREENSHOTS
from tests.web.conftest import record_metric

pytestmark = pytest.mark.browser

STATIC = Path(settings.BASE_DIR) / "static"


def test_store_screenshots_are_made_from_the_real_pages(pages, make_user):
    email = make_user()
    made = []
    for name, width, height, _form_factor in STORE_SCREENSHOTS:
        page = pages.new(width=width, height=height, device_scale_factor=1)
        page.add_init_script("localStorage.setItem('dm-notify-offer', 'dismissed')")  # a store shot, not a prompt
        if "chat" in name:
            pages.log_in(page, email)
            page.wait_for_selector("#conn[data-state=online]")
            page.locator("#message-input").fill("What are you working on these days?")
            page.locator("#message-input").press("Enter")
            page.wait_for_selector("#log .msg.assistant:not(.streaming) .feedback")
        else:
            page.goto("/persona/")
            page.wait_for_selector("#trait-chart svg")
        page.evaluate("document.querySelector('main > .messages')?.remove()")  # the signed-in toast
        path = STATIC / name
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))  # the viewport: exactly the size the manifest declares
        made.append(path)
        page.context.close()
    for path, (_name, width, height, _ff) in zip(made, STORE_SCREENSHOTS, strict=True):
        with Image.open(path) as image:
            assert image.size == (width, height)
    record_metric("store_screenshots", [str(p.relative_to(STATIC)) for p in made])


def test_the_install_button_shows_only_when_the_browser_offers_installing(pages):
    page = pages.new()
    page.goto("/")
    button = page.locator("#install-app")
    assert button.is_hidden()

    page.evaluate(
        """() => {
          const offer = new Event("beforeinstallprompt", { cancelable: true });
          offer.prompt = () => { window.__promptShown = true; return Promise.resolve({ outcome: "accepted" }); };
          window.dispatchEvent(offer);
        }"""
    )

    button.wait_for(state="visible")
    button.click()
    page.wait_for_function("() => window.__promptShown === true")
    assert button.is_hidden()
