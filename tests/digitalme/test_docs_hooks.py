"""The docs site's user guide shows the browser tests' screenshots when a run left them, and
builds without them on a fresh clone (tools/mkdocs_hooks.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = "Intro.\n<!-- screenshot: chat | The chat page -->\n<!-- screenshot: nowhere | Never taken -->\nEnd."


@pytest.fixture
def hooks(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OUTPUT_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("mkdocs_hooks_under_test", ROOT / "tools" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(src_uri: str):
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri))


def test_a_screenshot_the_tests_left_is_shown_with_its_caption(hooks, tmp_path):
    (tmp_path / "screenshots").mkdir()
    (tmp_path / "screenshots" / "chat-1280.png").write_bytes(b"\x89PNG")
    html = hooks.on_page_markdown(PAGE, _page("user-guide.md"), None, None)
    assert "![The chat page](screenshots/chat.png)" in html
    assert "Never taken" not in html
    assert "<!--" not in html


def test_pages_in_subfolders_link_up_to_the_screenshots(hooks, tmp_path):
    (tmp_path / "screenshots").mkdir()
    (tmp_path / "screenshots" / "chat-1280.png").write_bytes(b"\x89PNG")
    assert "(../screenshots/chat.png)" in hooks.on_page_markdown(PAGE, _page("operations/x.md"), None, None)


def test_without_a_test_run_the_markers_disappear(hooks):
    assert hooks.on_page_markdown(PAGE, _page("user-guide.md"), None, None) == "Intro.\n\n\nEnd."


def test_every_marker_in_the_user_guide_names_a_page_the_browser_tests_screenshot():
    guide = (ROOT / "docs" / "user-guide.md").read_text(encoding="utf-8")
    browser_tests = (ROOT / "tests" / "web" / "test_browser.py").read_text(encoding="utf-8")
    names = [line.split()[2] for line in guide.splitlines() if line.startswith("<!-- screenshot:")]
    assert len(names) >= 5
    for name in names:
        assert f'"{name}"' in browser_tests, name
