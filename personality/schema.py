"""The persona snapshot format: one JSON/YAML shape for data files, versions, reverts and card import.

`validate_snapshot(raw)` checks a raw mapping and returns the normalized snapshot, or raises
PersonaDataError naming the first wrong field as a path (e.g. `traits[3].max`). Callers that
read a file add the line number (see personality.loading).
"""

from __future__ import annotations

import re
from typing import Any

from digitalme.errors import DomainError

SNAPSHOT_KEYS = (
    "slug",
    "name",
    "short_bio",
    "description",
    "languages",
    "speaking_style",
    "values",
    "boundaries",
    "traits",
    "facts",
    "style_examples",
    "card",
)
SLUG_RE = re.compile(r"^[-a-z0-9_]{1,64}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
SOURCES = ("curated", "learned")


class PersonaDataError(DomainError):
    code = "invalid_persona_data"

    def __init__(self, detail: str, *, field: str, line: int | None = None) -> None:
        where = f"{field} (line {line})" if line else field
        super().__init__(f"{where}: {detail}", fields={field: [detail]})
        self.field = field
        self.line = line
        self.reason = detail


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _str(data: dict, key: str, parent: str, *, required: bool = True, max_length: int | None = None) -> str:
    field = _path(parent, key)
    if key not in data or data[key] is None:
        if required:
            raise PersonaDataError("is required", field=field)
        return ""
    value = data[key]
    if not isinstance(value, str):
        raise PersonaDataError(f"must be text, got {type(value).__name__}", field=field)
    value = value.strip()
    if required and not value:
        raise PersonaDataError("must not be empty", field=field)
    if max_length and len(value) > max_length:
        raise PersonaDataError(f"must be at most {max_length} characters (got {len(value)})", field=field)
    return value


def _str_list(data: dict, key: str, parent: str) -> list[str]:
    field = _path(parent, key)
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PersonaDataError(f"must be a list of text, got {type(value).__name__}", field=field)
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise PersonaDataError("must be non-empty text", field=_path(field, index))
        items.append(item.strip())
    return items


def _number(data: dict, key: str, parent: str, *, default: float | None = None) -> float:
    field = _path(parent, key)
    value = data.get(key, default)
    if value is None:
        raise PersonaDataError("is required", field=field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PersonaDataError(f"must be a number between 0 and 1, got {value!r}", field=field)
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise PersonaDataError(f"must be between 0 and 1, got {value}", field=field)
    return round(value, 4)


def _list_of_mappings(data: dict, key: str, parent: str) -> list[dict]:
    field = _path(parent, key)
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PersonaDataError(f"must be a list, got {type(value).__name__}", field=field)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise PersonaDataError(f"must be a mapping, got {type(item).__name__}", field=_path(field, index))
    return value


def _unknown_keys(data: dict, allowed: tuple[str, ...], parent: str) -> None:
    for key in data:
        if key not in allowed:
            raise PersonaDataError(f"unknown field (allowed: {', '.join(allowed)})", field=_path(parent, str(key)))


def validate_trait(raw: dict, field: str) -> dict:
    _unknown_keys(raw, ("name", "value", "min", "max", "description", "low", "high"), field)
    name = _str(raw, "name", field, max_length=64)
    if not SLUG_RE.match(name):
        raise PersonaDataError("must be lowercase letters, digits, - or _", field=_path(field, "name"))
    low = _number(raw, "min", field, default=0.0)
    high = _number(raw, "max", field, default=1.0)
    if low > high:
        raise PersonaDataError(f"min ({low}) is above max ({high})", field=_path(field, "min"))
    value = _number(raw, "value", field)
    if not low <= value <= high:
        raise PersonaDataError(f"{value} is outside the trait's bounds [{low}, {high}]", field=_path(field, "value"))
    return {
        "name": name,
        "value": value,
        "min": low,
        "max": high,
        "description": _str(raw, "description", field, required=False),
        "low": _str(raw, "low", field, required=False),
        "high": _str(raw, "high", field, required=False),
    }


def validate_fact(raw: dict, field: str) -> dict:
    _unknown_keys(raw, ("text", "tags", "pinned", "source"), field)
    pinned = raw.get("pinned", False)
    if not isinstance(pinned, bool):
        raise PersonaDataError(f"must be true or false, got {pinned!r}", field=_path(field, "pinned"))
    source = raw.get("source", "curated")
    if source not in SOURCES:
        raise PersonaDataError(f"must be one of {', '.join(SOURCES)}", field=_path(field, "source"))
    return {
        "text": _str(raw, "text", field, max_length=8000),
        "tags": [tag.lower() for tag in _str_list(raw, "tags", field)],
        "pinned": pinned,
        "source": source,
    }


def validate_style_example(raw: dict, field: str) -> dict:
    _unknown_keys(raw, ("user", "answer", "language", "source"), field)
    language = _str(raw, "language", field, required=False) or "en"
    if not LANGUAGE_RE.match(language):
        raise PersonaDataError("must be a language code such as en or ru", field=_path(field, "language"))
    source = raw.get("source", "curated")
    if source not in SOURCES:
        raise PersonaDataError(f"must be one of {', '.join(SOURCES)}", field=_path(field, "source"))
    return {
        "user": _str(raw, "user", field, max_length=8000),
        "answer": _str(raw, "answer", field, max_length=8000),
        "language": language,
        "source": source,
    }


def validate_boundary(raw: dict, field: str) -> dict:
    _unknown_keys(raw, ("topic", "decline", "triggers"), field)
    return {
        "topic": _str(raw, "topic", field, max_length=200),
        "decline": _str(raw, "decline", field, max_length=1000),
        "triggers": [word.lower() for word in _str_list(raw, "triggers", field)],
    }


def validate_snapshot(raw: Any) -> dict:
    """Check a raw persona mapping; return the normalized snapshot (all keys present, stable order)."""
    if not isinstance(raw, dict):
        raise PersonaDataError(f"the persona must be a mapping, got {type(raw).__name__}", field="(root)")
    _unknown_keys(raw, SNAPSHOT_KEYS, "")
    slug = _str(raw, "slug", "", max_length=64)
    if not SLUG_RE.match(slug):
        raise PersonaDataError("must be lowercase letters, digits, - or _", field="slug")
    languages = _str_list(raw, "languages", "") or ["en"]
    for index, language in enumerate(languages):
        if not LANGUAGE_RE.match(language):
            raise PersonaDataError("must be a language code such as en or ru", field=f"languages[{index}]")
    traits = [validate_trait(item, f"traits[{i}]") for i, item in enumerate(_list_of_mappings(raw, "traits", ""))]
    seen: set[str] = set()
    for index, trait in enumerate(traits):
        if trait["name"] in seen:
            raise PersonaDataError(f"duplicate trait name {trait['name']!r}", field=f"traits[{index}].name")
        seen.add(trait["name"])
    card = raw.get("card") or {}
    if not isinstance(card, dict):
        raise PersonaDataError("must be a mapping", field="card")
    return {
        "slug": slug,
        "name": _str(raw, "name", "", max_length=120),
        "short_bio": _str(raw, "short_bio", "", max_length=500),
        "description": _str(raw, "description", "", required=False),
        "languages": languages,
        "speaking_style": _str(raw, "speaking_style", "", required=False),
        "values": _str_list(raw, "values", ""),
        "boundaries": [
            validate_boundary(item, f"boundaries[{i}]")
            for i, item in enumerate(_list_of_mappings(raw, "boundaries", ""))
        ],
        "traits": traits,
        "facts": [validate_fact(item, f"facts[{i}]") for i, item in enumerate(_list_of_mappings(raw, "facts", ""))],
        "style_examples": [
            validate_style_example(item, f"style_examples[{i}]")
            for i, item in enumerate(_list_of_mappings(raw, "style_examples", ""))
        ],
        "card": card,
    }
