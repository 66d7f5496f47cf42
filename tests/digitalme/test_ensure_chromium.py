"""tools/ensure_chromium.sh, which `make test` runs first: it finds Chromium, installs it (root +
apt-get), or stops at once with the command that fixes it — never 19 browser-test errors later."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "tools" / "ensure_chromium.sh"
BASH = "/bin/bash"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_finds_chromium_on_the_path(tmp_path: Path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    result = _run({"PATH": str(tmp_path)})
    assert result.returncode == 0
    assert result.stdout.strip() == str(fake)


def test_an_explicit_chromium_must_be_executable(tmp_path: Path):
    result = _run({"PATH": os.environ["PATH"], "CHROMIUM": str(tmp_path / "missing")})
    assert result.returncode == 1
    assert "is not an executable file" in result.stderr
    assert "apt-get install -y chromium" in result.stderr


def test_without_chromium_or_apt_it_fails_at_once_naming_the_fix(tmp_path: Path):
    result = _run({"PATH": str(tmp_path)})  # an empty directory: no chromium, no apt-get
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no apt-get to install it" in result.stderr
    assert "Fix: apt-get install -y chromium fonts-dejavu-core" in result.stderr


def test_make_test_runs_it_before_pytest():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest: install\n", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("tools/ensure_chromium.sh") < recipe.index("-m pytest")
