"""The repo stands on its own: nothing in it points at files outside the clone.

A reference to a sibling checkout or an absolute path on the machine the code was written on
works there and nowhere else (a fresh clone can't follow it), so every tracked or new file is
searched for such paths.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# Spelled in pieces so this file does not match itself.
OUTSIDE = (".." + "/shared", "/" + "work/")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _repo_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def test_the_file_list_covers_the_repo():
    files = {path.relative_to(ROOT).as_posix() for path in _repo_files()}
    assert {"README.md", "docs/API.md", "docs/ARCHITECTURE.md", "tests/personality/test_cards.py"} <= files


def test_no_file_refers_outside_the_repo():
    offenders = []
    for path in _repo_files():
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (images, compiled catalogues)
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if any(marker in line for marker in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "point these at the repo's own copies (docs/, tests/fixtures/):\n" + "\n".join(offenders)


def test_markdown_links_resolve_inside_the_repo():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            resolved = (page.parent / target.split("#", 1)[0]).resolve()
            if not resolved.exists() or ROOT not in resolved.parents:
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "\n".join(broken)
