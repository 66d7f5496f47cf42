"""Hand-written SQL on hot paths (the chat turn, a Telegram update's store/lease/finish): one dialect rule.

Through the ORM, building a query and instantiating its rows cost more CPU than the database spent
answering; the few statements a hot path runs every time are written once as parameterised SQL
(values always parameters, never formatted into the text). They run on PostgreSQL (production,
tests) and on SQLite (`make run`'s embedded default): where the dialects differ the text is chosen
by the connection's vendor, and datetimes go through the backend's adapters as the ORM's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

# What every caller may use in a template: `{json}` is a JSON-typed parameter.
_BASE = {
    "postgresql": {"json": "%s::jsonb"},
    "sqlite": {"json": "%s"},
}
_statements: dict[tuple[str, ...], str] = {}


def in_dialect(template: str, **parts: Mapping[str, str]) -> str:
    """`template` in the connection's dialect: `{json}` and each of `parts` (a text per vendor)
    filled in. Formatted once per vendor, template and parts."""
    vendor = connection.vendor
    filled = {name: by_vendor[vendor] for name, by_vendor in parts.items()}
    key = (vendor, template, *filled.values())
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = template.format(**_BASE[vendor], **filled)
    return statement


def aware(value: Any) -> Any:
    """A datetime read by hand as the ORM would give it: SQLite's converter returns naive UTC."""
    if isinstance(value, datetime) and timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def db_datetime(value: datetime) -> Any:
    """A datetime as the backend stores it (the ORM's adapter)."""
    return connection.ops.adapt_datetimefield_value(value)
