"""Telegram on the /ops/ dashboard and in /metrics: mode, deliveries, failed updates and what
Telegram itself reports about the webhook (pending updates, last delivery error)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from prometheus_client.core import GaugeMetricFamily, Metric

from ops.panels import PanelContext, PanelData, Stat
from telegram_bot.health import PENDING_UPDATES_WARN, RECENT_ERROR
from telegram_bot.selectors import bot_state_snapshot


def _telegram_panel(ctx: PanelContext) -> PanelData:
    if not settings.TELEGRAM_BOT_TOKEN:
        return PanelData(stats=[Stat("mode", _("Mode"), "disabled")])
    snapshot = bot_state_snapshot()
    webhook = snapshot["webhook"]
    last_error = webhook["last_error_date"]
    recent_error = last_error is not None and datetime.fromisoformat(last_error) > ctx.now - RECENT_ERROR
    failed = ctx.increase("telegram.failed")
    pending = webhook["pending_update_count"]
    return PanelData(
        stats=[
            Stat("mode", _("Mode"), snapshot["mode"], status="warn" if snapshot["mode"] == "none" else "ok"),
            Stat("updates", _("Updates"), ctx.per_minute("telegram.updates"), "/min", chart=True),
            Stat(
                "failed",
                _("Failed updates (window)"),
                failed,
                "",
                "none" if failed is None else "bad" if failed else "ok",
            ),
            Stat("pending", _("Waiting at Telegram"), pending, "", "warn" if pending > PENDING_UPDATES_WARN else "ok"),
            Stat(
                "last_error",
                _("Telegram's last delivery error"),
                webhook["last_error_message"] or "—",
                status="bad" if recent_error else "ok",
                hint=_("red for 10 minutes after an error"),
            ),
        ]
    )


def telegram_metrics() -> Iterable[Metric]:
    if not settings.TELEGRAM_BOT_TOKEN:
        return []
    webhook = bot_state_snapshot()["webhook"]
    pending = GaugeMetricFamily("dm_telegram_webhook_pending_updates", "Updates waiting at Telegram (getWebhookInfo).")
    pending.add_metric([], webhook["pending_update_count"])
    families: list[Metric] = [pending]
    if webhook["last_error_date"]:
        error = GaugeMetricFamily(
            "dm_telegram_webhook_last_error_timestamp_seconds", "When Telegram last failed to deliver to the webhook."
        )
        error.add_metric([], datetime.fromisoformat(webhook["last_error_date"]).timestamp())
        families.append(error)
    return families


def register_ops() -> None:
    from digitalme.metrics import register_scrape_collector
    from ops.registry import register_panel, register_series

    register_series("telegram.updates", "dm_telegram_updates", kind="counter", match={"outcome": ("processed",)})
    register_series("telegram.failed", "dm_telegram_updates", kind="counter", match={"outcome": ("failed",)})
    register_panel("telegram", _("Telegram"), _telegram_panel, order=70)
    register_scrape_collector("telegram", telegram_metrics)
