"""`/ops/`: the staff dashboard. The page is rendered complete from a fresh sample (it reads
without JavaScript); `static/js/ops.js` then keeps it live over `/ws/ops/`."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from digitalme.health import run_checks
from ops import registry
from ops.services import ops_sample

# Words that appear as values (states) on the dashboard, translated for the page and its script.
STATUS_WORDS = {
    "ok": _("OK"),
    "warn": _("Warning"),
    "bad": _("Critical"),
    "none": _("No data"),
    "degraded": _("degraded"),
    "down": _("down"),
    "alive": _("alive"),
    "stale": _("stale"),
    "healthy": _("healthy"),
    "idle": _("idle"),
    "webhook": _("webhook"),
    "polling": _("polling"),
    "disabled": _("disabled"),
}


def format_value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return str(STATUS_WORDS.get(value, value))
    if unit == "s" and value >= 3600:
        return f"{value / 3600:.1f} h"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return f"{int(value):,}"


def ops_dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_staff:
        raise PermissionDenied("The operations dashboard is for staff.")
    built, frame = ops_sample(now=timezone.now(), readiness=async_to_sync(run_checks)())
    panels = []
    for panel in registry.panels():
        data = built[panel.key]
        panels.append(
            {
                "key": panel.key,
                "title": panel.title,
                "status": data.status,
                "status_word": STATUS_WORDS[data.status],
                "stats": [
                    {
                        "id": f"{panel.key}.{stat.key}",
                        "label": stat.label,
                        "unit": stat.unit,
                        "hint": stat.hint,
                        "chart": stat.chart,
                        "status": stat.status,
                        "status_word": STATUS_WORDS[stat.status],
                        "display": format_value(stat.value, stat.unit),
                    }
                    for stat in data.stats
                ],
                "columns": data.columns,
                "rows": [
                    {
                        "status": row.get("status", "none"),
                        "cells": [format_value(row.get(key), "") for key, _ in data.columns],
                    }
                    for row in data.rows
                ],
            }
        )
    return render(
        request,
        "ops/dashboard.html",
        {"panels": panels, "frame": frame, "status_words": {k: str(v) for k, v in STATUS_WORDS.items()}},
    )
