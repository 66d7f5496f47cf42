"""Hooks other apps register so account export and deletion cover their data.

accounts must not import the other apps; they add themselves here from AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UserDataExporter = Callable[[Any], Any]
UserDeletionHook = Callable[[Any], None]

_exporters: dict[str, UserDataExporter] = {}
_deletion_hooks: dict[str, UserDeletionHook] = {}


def register_user_data_exporter(section: str, exporter: UserDataExporter) -> None:
    """`exporter(user)` returns JSON-serialisable data put under `section` of the export."""
    _exporters[section] = exporter


def register_user_deletion_hook(name: str, hook: UserDeletionHook) -> None:
    """`hook(user)` runs before the user row is deleted (e.g. revoke tokens at a provider)."""
    _deletion_hooks[name] = hook


def user_data_exporters() -> dict[str, UserDataExporter]:
    return dict(_exporters)


def user_deletion_hooks() -> dict[str, UserDeletionHook]:
    return dict(_deletion_hooks)
