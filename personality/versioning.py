"""Pure functions over snapshots: the diff between two versions and its one-line summary."""

from __future__ import annotations

from typing import Any

SCALAR_FIELDS = ("slug", "name", "short_bio", "description", "speaking_style", "languages", "values", "boundaries")


def _keyed(items: list[dict], key: str) -> dict[str, dict]:
    return {item[key]: item for item in items}


def _compare_keyed(kind: str, key: str, old: list[dict], new: list[dict]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    old_by_key, new_by_key = _keyed(old, key), _keyed(new, key)
    for name, item in old_by_key.items():
        if name not in new_by_key:
            changes.append({"op": "removed", "kind": kind, "key": name, "old": item, "new": None})
    for name, item in new_by_key.items():
        before = old_by_key.get(name)
        if before is None:
            changes.append({"op": "added", "kind": kind, "key": name, "old": None, "new": item})
            continue
        for field, value in item.items():
            if before.get(field) != value:
                changes.append(
                    {"op": "changed", "kind": kind, "key": name, "field": field, "old": before.get(field), "new": value}
                )
    if not changes and [item[key] for item in old] != [item[key] for item in new]:
        changes.append({"op": "reordered", "kind": kind, "key": "", "old": None, "new": None})
    return changes


def snapshot_diff(old: dict | None, new: dict) -> list[dict[str, Any]]:
    """What changed from `old` to `new`: persona fields, traits by name, facts by text, examples by message."""
    if old is None:
        return [{"op": "created", "kind": "persona", "key": new["slug"], "old": None, "new": None}]
    changes: list[dict[str, Any]] = []
    for field in SCALAR_FIELDS:
        if old.get(field) != new.get(field):
            changes.append(
                {
                    "op": "changed",
                    "kind": "persona",
                    "key": field,
                    "field": field,
                    "old": old.get(field),
                    "new": new.get(field),
                }
            )
    old_card, new_card = old.get("card") or {}, new.get("card") or {}
    for field in sorted(set(old_card) | set(new_card)):
        if old_card.get(field) != new_card.get(field):
            changes.append(
                {
                    "op": "changed",
                    "kind": "card",
                    "key": field,
                    "field": field,
                    "old": old_card.get(field),
                    "new": new_card.get(field),
                }
            )
    changes += _compare_keyed("trait", "name", old.get("traits", []), new.get("traits", []))
    changes += _compare_keyed("fact", "text", old.get("facts", []), new.get("facts", []))
    changes += _compare_keyed("style_example", "user", old.get("style_examples", []), new.get("style_examples", []))
    return changes


def diff_summary(changes: list[dict[str, Any]]) -> str:
    """A short human line, e.g. "humor 0.60→0.70; +2 facts; bio changed"."""
    if not changes:
        return "no changes"
    parts: list[str] = []
    counts: dict[tuple[str, str], int] = {}
    for change in changes:
        if change["op"] == "created":
            return "created"
        if change["kind"] == "trait" and change["op"] == "changed" and change.get("field") == "value":
            parts.append(f"{change['key']} {change['old']:.2f}→{change['new']:.2f}")
        elif change["kind"] == "persona":
            parts.append(f"{change['key']} changed")
        else:
            counts[(change["op"], change["kind"])] = counts.get((change["op"], change["kind"]), 0) + 1
    signs = {"added": "+", "removed": "-", "changed": "~", "reordered": "↕"}
    for (op, kind), count in sorted(counts.items()):
        parts.append(f"{signs[op]}{count} {kind.replace('_', ' ')}{'s' if count > 1 else ''}")
    return "; ".join(parts)[:500]
