"""Reading persona data files (YAML or JSON) with errors that name the field and the line."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from personality.errors import PersonaDataError
from personality.services import SeedResult, persona_seed

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _path_tokens(field: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _PATH_TOKEN.findall(field)]


def line_of(root: yaml.Node | None, field: str) -> int | None:
    """1-based line of the deepest YAML node on `field`'s path (e.g. `traits[3].max`)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for token in _path_tokens(field):
        if isinstance(node, yaml.MappingNode) and isinstance(token, str):
            match = next((value for key, value in node.value if getattr(key, "value", None) == token), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(token, int) and token < len(node.value):
            match = node.value[token]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def parse_persona_text(text: str) -> tuple[Any, yaml.Node | None]:
    """The raw data and its YAML node tree (JSON is valid YAML, so one parser serves both)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PersonaDataError(f"not valid YAML: {exc.problem or exc}", field="(file)", line=line) from exc
    except yaml.YAMLError as exc:
        raise PersonaDataError(f"not valid YAML: {exc}", field="(file)") from exc
    return data, root


def persona_load_file(*, path: str | Path, force: bool = False) -> SeedResult:
    """Seed a persona from a data file (one transaction) and publish it; see `persona_seed` for when
    an existing persona is kept (staff edited it) and what `force` does."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaDataError(f"cannot read {file_path}: {exc}", field="(file)") from exc
    data, root = parse_persona_text(text)
    try:
        return persona_seed(
            raw=data,
            summary=f"loaded from {file_path.name}",
            source_hash=hashlib.sha256(text.encode()).hexdigest(),
            force=force,
        )
    except PersonaDataError as exc:
        if exc.line is None and root is not None and exc.field not in ("(file)", "(root)"):
            raise PersonaDataError(exc.reason, field=exc.field, line=line_of(root, exc.field)) from exc
        raise
