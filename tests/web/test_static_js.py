"""Every browser module parses: one syntax error (a bad merge, say) silently kills a whole page's script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

SCRIPTS = sorted((Path(settings.BASE_DIR) / "static" / "js").rglob("*.js"))


def test_there_are_scripts_to_check():
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_browser_module_parses(script: Path, tmp_path: Path):
    node = shutil.which("node")
    assert node, "Node.js is needed to check the browser modules' syntax: apt-get install nodejs"
    module = tmp_path / f"{script.stem}.mjs"  # parsed as an ES module, as the pages load it
    module.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    checked = subprocess.run([node, "--check", str(module)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
