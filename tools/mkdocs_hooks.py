"""MkDocs hooks for `make docs`: the user guide's screenshots come from the browser tests.

tests/web/test_browser.py saves full-page screenshots to $TEST_OUTPUT_DIR/screenshots (default
test-output/). A line `<!-- screenshot: NAME | caption -->` in a page becomes that image when a
test run left `NAME-1280.png`, and disappears otherwise (the text around it describes the page),
so the strict build passes on a fresh clone and shows real pages after `make test`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("TEST_OUTPUT_DIR") or ROOT / "test-output") / "screenshots"
TARGET = "screenshots"
MARKER = re.compile(r"^<!-- screenshot: ([\w-]+) \| (.+?) -->$", re.MULTILINE)


def _available() -> dict[str, Path]:
    if not SHOTS.is_dir():
        return {}
    return {path.stem.removesuffix("-1280"): path for path in SHOTS.glob("*-1280.png")}


def on_files(files: Files, config) -> Files:
    for name, path in _available().items():
        files.append(File.generated(config, f"{TARGET}/{name}.png", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    available = _available()
    depth = page.file.src_uri.count("/")
    prefix = "../" * depth

    def replace(match: re.Match[str]) -> str:
        name, caption = match.group(1), match.group(2)
        if name not in available:
            return ""
        return f"![{caption}]({prefix}{TARGET}/{name}.png)\n*{caption}*"

    return MARKER.sub(replace, markdown)
