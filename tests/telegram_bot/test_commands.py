"""manage.py set_telegram_webhook and run_telegram_bot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from telegram_bot.models import BotState
from tests.telegram_bot.conftest import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def test_set_webhook_registers_url_secret_allowed_updates_and_commands(fake_telegram, capsys):
    call_command("set_telegram_webhook", "https://dm.example.com")

    [call] = fake_telegram.calls_of("setWebhook")
    assert call.params["url"] == "https://dm.example.com/telegram/webhook/"
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]
    assert {c.params.get("language_code") for c in fake_telegram.calls_of("setMyCommands")} == {None, "en", "ru"}
    state = BotState.objects.get(pk=1)
    assert (state.mode, state.webhook_url) == ("webhook", "https://dm.example.com/telegram/webhook/")
    output = capsys.readouterr().out
    assert "Webhook set" in output
    assert WEBHOOK_SECRET not in output


def test_delete_removes_the_webhook(fake_telegram):
    call_command("set_telegram_webhook", "https://dm.example.com/telegram/webhook/")

    call_command("set_telegram_webhook", "--delete")

    assert fake_telegram.calls_of("deleteWebhook")
    assert BotState.objects.get(pk=1).mode == "none"


def test_set_webhook_refuses_without_a_secret(fake_telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
        call_command("set_telegram_webhook", "https://dm.example.com")

    assert fake_telegram.calls_of("setWebhook") == []


def test_a_rejected_token_is_reported_without_printing_it(fake_telegram, settings):
    settings.TELEGRAM_BOT_TOKEN = "999:wrong-token-value"

    with pytest.raises(CommandError) as raised:
        call_command("set_telegram_webhook", "https://dm.example.com")

    assert "rejected" in str(raised.value)
    assert "wrong-token-value" not in str(raised.value)


def test_poller_idles_quietly_without_a_token():
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "", "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_telegram_bot", "--idle-without-token"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()  # printed once the command is idling
        time.sleep(1)
        assert process.poll() is None  # still running: honcho would stop everything if it exited
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert "TELEGRAM_BOT_TOKEN is not set" in first_line
    assert process.returncode == 0


def test_poller_without_a_token_and_without_idle_fails(settings):
    settings.TELEGRAM_BOT_TOKEN = ""

    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        call_command("run_telegram_bot")
