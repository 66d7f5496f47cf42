"""The bot in /health/ready/ (optional check) and in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from telegram_bot.models import BotState
from tests.ops.conftest import beat

pytestmark = pytest.mark.django_db(transaction=True)


def test_without_a_token_the_bot_shows_as_disabled(client, settings):
    settings.TELEGRAM_BOT_TOKEN = ""

    check = client.get("/health/ready/").json()["checks"]["telegram"]

    assert check["status"] == "ok"
    assert check["mode"] == "disabled"
    assert check["required"] is False


def test_webhook_mode_shows_webhook_info(client, fake_telegram):
    call_command("set_telegram_webhook", "https://dm.example.com")

    check = client.get("/health/ready/").json()["checks"]["telegram"]

    assert check["status"] == "ok"
    assert check["mode"] == "webhook"
    assert check["webhook"]["url"] == "https://dm.example.com/telegram/webhook/"
    assert check["webhook"]["pending_update_count"] == 0
    assert check["webhook"]["last_error_message"] == ""


def test_probes_do_not_call_telegram_while_the_info_is_fresh(client, fake_telegram):
    call_command("set_telegram_webhook", "https://dm.example.com")
    before = len(fake_telegram.calls_of("getWebhookInfo"))

    for _ in range(3):
        client.get("/health/ready/")

    assert len(fake_telegram.calls_of("getWebhookInfo")) == before


def test_stale_info_is_refreshed_once_for_many_probes(client, fake_telegram):
    call_command("set_telegram_webhook", "https://dm.example.com")
    BotState.objects.filter(pk=1).update(checked_at=timezone.now() - timedelta(minutes=10))
    cache.clear()
    before = len(fake_telegram.calls_of("getWebhookInfo"))

    for _ in range(3):
        client.get("/health/ready/")

    assert len(fake_telegram.calls_of("getWebhookInfo")) == before + 1


def test_a_recent_delivery_error_makes_the_check_degraded(client, fake_telegram):
    call_command("set_telegram_webhook", "https://dm.example.com")
    BotState.objects.filter(pk=1).update(last_error_message="Connection refused", last_error_date=timezone.now())
    cache.clear()

    body = client.get("/health/ready/").json()

    assert body["status"] == "degraded"
    assert body["checks"]["telegram"]["status"] == "degraded"
    assert "Connection refused" in body["checks"]["telegram"]["error"]


def test_admin_shows_the_bot_state(client, fake_telegram, staff_user):
    call_command("set_telegram_webhook", "https://dm.example.com")
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)

    page = client.get("/admin/telegram_bot/botstate/").content.decode()

    assert "https://dm.example.com/telegram/webhook/" in page
    assert "ivan_test_bot" in page


def test_no_live_worker_on_the_telegram_queue_is_reported_down_with_the_fix(client, fake_telegram, settings):
    settings.OPS_HEARTBEAT_STALE_S = 60
    beat("worker", queues=("celery",))  # alive, but started with -Q celery only

    check = client.get("/health/ready/").json()["checks"]["telegram_worker"]

    assert check["status"] == "down"
    assert check["consumers"] == 0
    assert check["required"] is False
    assert "-Q telegram" in check["error"]


def test_a_live_worker_on_the_telegram_queue_is_ok(client, fake_telegram, settings):
    settings.OPS_HEARTBEAT_STALE_S = 60
    beat("worker", queues=("celery", "telegram"))

    check = client.get("/health/ready/").json()["checks"]["telegram_worker"]

    assert check["status"] == "ok"
    assert check["consumers"] == 1


def test_a_stale_worker_on_the_telegram_queue_does_not_count(client, fake_telegram, settings):
    settings.OPS_HEARTBEAT_STALE_S = 60
    beat("worker", age_s=300, queues=("telegram",))

    assert client.get("/health/ready/").json()["checks"]["telegram_worker"]["status"] == "down"
