"""Measure Telegram webhook latency: POST /telegram/webhook/ → the reply arriving at the Bot API.

Runs the real stack: daphne serving DigitalMe, the fake Telegram Bot API from the tests on
loopback, the fake LLM (LLM_MODEL=fake/ivan), PostgreSQL and Redis from the environment.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dm_tg_latency REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python tools/telegram_latency.py --runs 15

The database is created if missing and migrated; a user with a linked Telegram account is set up.
Prints each run and the median / p90 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import FakeTelegram  # noqa: E402

SECRET = "latency-webhook-secret"
TG_USER_ID = 5550001


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def prepare_database(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "load_persona", "personality/data/ivan.yaml"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    script = (
        "from accounts.models import User; from telegram_bot.models import TelegramAccount\n"
        "user, _ = User.objects.get_or_create(email='latency@example.com')\n"
        f"TelegramAccount.objects.update_or_create(telegram_user_id={TG_USER_ID}, defaults={{'chat_id': {TG_USER_ID}, 'user': user}})\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True)


def ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    fake = FakeTelegram().start()
    port = free_port()
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "JWT_SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY") or secrets.token_urlsafe(40),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LLM_MODEL": "fake/ivan",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LOG_LEVEL": "WARNING",
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_RATE_LIMIT_PER_MIN": "1000",
        "CHAT_RATE_LIMIT": "1000",
    }
    ensure_database(env.get("DATABASE_URL", ""))
    prepare_database(env)
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "digitalme.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[float] = []
    ack: list[float] = []
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for run in range(args.runs + 1):  # run 0 warms up (getMe, first imports)
                update_id = int(time.time() * 1000) % 2_000_000_000 + run
                update = {
                    "update_id": update_id,
                    "message": {
                        "message_id": run + 1,
                        "date": int(time.time()),
                        "chat": {"id": TG_USER_ID, "type": "private"},
                        "from": {"id": TG_USER_ID, "is_bot": False, "first_name": "Bench", "language_code": "en"},
                        "text": f"Latency probe number {run}",
                    },
                }
                before = len(fake.calls_of("sendMessage"))
                started = time.perf_counter()
                response = client.post(
                    "/telegram/webhook/",
                    content=json.dumps(update),
                    headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                acknowledged = time.perf_counter()
                assert response.status_code == 200, response.text
                fake.wait_for("sendMessage", count=before + 1, timeout=30)
                arrived = fake.calls_of("sendMessage")[before].at
                # Call.at is time.monotonic(); perf_counter and monotonic share a clock on Linux.
                if run:
                    results.append((arrived - started) * 1000)
                    ack.append((acknowledged - started) * 1000)
                    print(
                        f"run {run:2d}: webhook answered in {ack[-1]:6.1f} ms, reply at Telegram after {results[-1]:7.1f} ms"
                    )
    finally:
        stopping = time.perf_counter()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        print(f"daphne stopped in {time.perf_counter() - stopping:.1f} s")
        fake.stop()
    results.sort()
    print(
        f"\n{len(results)} runs — POST → sendMessage: median {statistics.median(results):.0f} ms, "
        f"p90 {results[int(len(results) * 0.9) - 1]:.0f} ms, max {results[-1]:.0f} ms; "
        f"webhook acknowledged: median {statistics.median(ack):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
