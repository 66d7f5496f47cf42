"""The web process through a database outage: how long after PostgreSQL comes back do its routes
answer normally again?

Starts daphne (as the Procfile does) on the environment's PostgreSQL and Redis, but reaching
PostgreSQL only through a loopback TCP proxy (tests/fakes/tcp_proxy.py) — the shared server is never
stopped. Before, during and after cutting the proxy for --outage-s seconds (connections reset, port
closed), it asks in turn, as fast as they answer: the Telegram webhook (the same update until it
gets its 200, as Telegram redelivers), the REST chat API (a conversation created) and /health/ready/.
Prints, per route, the statuses seen while the database was away and how many seconds after the
proxy's return the first normal answer came. Any DATABASE_URL/pool setting can be given to the
server with --env NAME=VALUE (e.g. DB_POOL_RECONNECT_TIMEOUT_S=300, psycopg's default).

    make bench-db-outage BENCH_ARGS="--outage-s 30"
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "db-outage-webhook-secret"
OK = {200, 201}


def _routes(http: httpx.Client, token: str) -> dict[str, Callable[[], int]]:
    update_id = 700_000_000 + secrets.randbelow(10**8)

    def webhook() -> int:
        nonlocal update_id
        update = {
            "update_id": update_id,
            "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": 1, "type": "private"}, "text": "hi"},
        }
        status = http.post(
            "/telegram/webhook/", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        ).status_code
        if status == 200:
            update_id += 1  # acknowledged: Telegram moves on to the next update
        return status

    def rest_chat() -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return http.post("/api/conversations/", json={"title": "outage"}, headers=headers).status_code

    def ready() -> int:
        return http.get("/health/ready/").status_code

    return {"webhook": webhook, "rest_chat": rest_chat, "ready": ready}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-s", type=float, default=8.0, help="how long the proxy stays cut")
    parser.add_argument("--deadline-s", type=float, default=150.0, help="give up waiting for recovery after this")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the server")
    args = parser.parse_args()

    from loadtest.server import DaphneServer, bench_django_setup
    from tests.fakes.tcp_proxy import TcpProxy

    if why := bench_django_setup({}):
        raise SystemExit(why)
    from django.conf import settings

    db = settings.DATABASES["default"]
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    url = urlsplit(os.environ["DATABASE_URL"])
    proxied = url._replace(netloc=f"{url.netloc.rsplit('@', 1)[0]}@127.0.0.1:{proxy.port}").geturl()
    env = {
        "DATABASE_URL": proxied,
        "TELEGRAM_BOT_TOKEN": "123456:outage",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "THROTTLE_HEALTH_READY": "100000/min",
        "LOG_LEVEL": "WARNING",
        **dict(item.split("=", 1) for item in args.env),
    }
    web = DaphneServer(env=env, log_path=ROOT / "bench-output" / "db-outage-daphne.log").start()
    seen: list[tuple[float, str, int]] = []
    try:
        with httpx.Client(base_url=web.http_url, timeout=60) as http:
            credentials = {"email": f"outage-{secrets.token_hex(4)}@example.com", "password": secrets.token_urlsafe(16)}
            assert http.post("/api/auth/register/", json=credentials).status_code == 201
            token = http.post("/api/auth/token/", json=credentials).json()["access"]
            routes = _routes(http, token)
            started = time.monotonic()

            def ask_all() -> dict[str, int]:
                answers = {name: ask() for name, ask in routes.items()}
                seen.extend((time.monotonic() - started, name, status) for name, status in answers.items())
                return answers

            before = ask_all()
            proxy.cut()
            cut_at = time.monotonic() - started
            while time.monotonic() - started < cut_at + args.outage_s:
                ask_all()
                time.sleep(0.25)
            proxy.restore()
            back_at = time.monotonic() - started
            recovered: dict[str, float] = {}
            while len(recovered) < len(routes) and time.monotonic() - started < back_at + args.deadline_s:
                for name, status in ask_all().items():
                    if status in OK and name not in recovered:
                        recovered[name] = round(time.monotonic() - started - back_at, 2)
                time.sleep(0.25)
    finally:
        web.stop()
        proxy.cut()
    report = {
        "outage_s": round(back_at - cut_at, 1),
        "before": before,
        "while_down": {name: sorted({s for t, n, s in seen if n == name and cut_at < t <= back_at}) for name in routes},
        "recovered_after_s": {name: recovered.get(name) for name in routes},
        "not_ok_after_back": {
            name: sum(1 for t, n, s in seen if n == name and t > back_at and s not in OK) for name in routes
        },
        "server_env": {key: value for key, value in env.items() if key.startswith("DB_")},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
