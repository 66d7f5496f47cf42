"""How old synced data is, in words: one wording for Ivan's prompt and the insights API."""

from __future__ import annotations

from datetime import UTC, datetime


def freshness(observed_at: datetime | None, now: datetime | None = None) -> str:
    """'synced 12 minutes ago': how old synced data is, in the prompt and in the insights API alike."""
    if observed_at is None:
        return "not synced yet"
    seconds = max(0, int(((now or datetime.now(UTC)) - observed_at).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"synced {count} {unit}{'s' if count != 1 else ''} ago"
    return "synced just now"
