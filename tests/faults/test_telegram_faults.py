"""Telegram faults with real processes (daphne + a Celery worker + a fake Bot API on loopback):
the web process killed with an update in flight, the worker killed in the middle of one, Telegram
answering 429 / 5xx, and the database going away. Every update is answered exactly once."""

from __future__ import annotations

import contextlib
import signal
import threading
import time

import httpx
import pytest
from django.core.management import call_command

from chat.models import Message, Role
from loadtest.server import DaphneServer
from telegram_bot.models import ProcessedUpdate
from telegram_bot.services import updates_resume
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import proxied_database_url
from tests.ops.test_real_processes import LOG_DIR, ROOT, _Celery, _env, _wait
from tests.telegram_bot.conftest import WEBHOOK_SECRET, message_update

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
LEASE_S = 5


@pytest.fixture
def telegram(settings):
    fake = FakeTelegram().start()
    settings.TELEGRAM_BOT_TOKEN = fake.token
    yield fake
    fake.stop()


def _process_env(telegram: FakeTelegram) -> dict[str, str]:
    return _env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_UPDATE_LEASE_S=str(LEASE_S),
        LLM_MODEL="fake/ivan",
        LLM_TIMEOUT_S="3",  # a dead worker's claim on its reply runs out 18 s after the last token
    )


def _worker(env: dict[str, str], name: str) -> _Celery:
    worker = _Celery(name, ["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"], env)
    _wait(  # a loaded 2-core host takes a while to import everything
        lambda: any(line.get("message", "").endswith(" ready.") for line in worker.json_lines()),
        timeout_s=240,
        what=f"{name} to start",
    )
    return worker


def _post(server: DaphneServer, update: dict) -> httpx.Response:
    return httpx.post(
        f"{server.http_url}/telegram/webhook/",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        timeout=30,
    )


def _replies(telegram: FakeTelegram, said: str) -> list:
    return [call for call in telegram.calls_of("sendMessage") if f"You said: {said}" in call.params.get("text", "")]


def test_killed_web_and_worker_processes_lose_no_update_and_answer_each_once(telegram):
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    env = _process_env(telegram)
    web = DaphneServer(env=env, log_path=LOG_DIR / "faults-tg-daphne-1.log").start()
    worker = _worker(env, "faults-tg-worker-1")
    restarted_web = restarted_worker = None
    try:
        # 1. daphne is killed while Telegram's POST is in flight; Telegram (not knowing whether it
        #    arrived) delivers it again to the restarted server.
        first = message_update("hello one", user_id=5001)
        sender = threading.Thread(target=lambda: _post_ignoring_errors(web, first), daemon=True)
        sender.start()
        time.sleep(0.05)
        web.process.send_signal(signal.SIGKILL)
        web.process.wait(timeout=10)
        sender.join(timeout=30)
        restarted_web = DaphneServer(env=env, log_path=LOG_DIR / "faults-tg-daphne-2.log").start()
        assert _post(restarted_web, first).status_code == 200
        _wait(lambda: bool(_replies(telegram, "hello one")), timeout_s=120, what="the reply to the first update")

        # 2. the worker is killed in the middle of an update (Ivan is typing); the update's lease
        #    runs out and the resume job (beat's, every minute) hands it to the restarted worker.
        second = message_update("[[slow]] hello two", user_id=5002)
        assert _post(restarted_web, second).status_code == 200
        _wait(
            lambda: any(c.params.get("chat_id") == "5002" for c in telegram.calls_of("sendChatAction")),
            timeout_s=120,
            what="the worker to start answering the second update",
        )
        worker.stop(signal.SIGKILL)
        restarted_worker = _worker(env, "faults-tg-worker-2")
        time.sleep(LEASE_S + 1)
        assert updates_resume() == 1
        _wait(
            lambda: bool(_replies(telegram, "[[slow]] hello two")), timeout_s=120, what="the reply to the second update"
        )
        time.sleep(3)  # room for a duplicate to show up, were there one
    finally:
        for process in (restarted_worker, worker):
            if process is not None:
                process.stop()
        for server in (restarted_web, web):
            if server is not None:
                server.stop()

    assert len(_replies(telegram, "hello one")) == 1
    assert len(_replies(telegram, "[[slow]] hello two")) == 1
    for update in (first, second):
        client_id = f"tg:{update['update_id']}"
        assert Message.objects.filter(client_id=client_id, role=Role.USER).count() == 1
        assert Message.objects.filter(client_id=client_id, role=Role.ASSISTANT).count() == 1
    assert set(ProcessedUpdate.objects.values_list("status", flat=True)) == {"done"}


def _post_ignoring_errors(server: DaphneServer, update: dict) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server died under it: Telegram would just try again
        _post(server, update)


def test_telegram_429_and_5xx_are_honoured_and_retried_until_delivered_once(telegram):
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    env = _process_env(telegram)
    web = DaphneServer(env=env, log_path=LOG_DIR / "faults-tg-daphne-3.log").start()
    worker = None
    try:
        worker = _worker(env, "faults-tg-worker-3")
        telegram.fail_next("sendMessage", 429, retry_after=2)
        telegram.fail_next("sendMessage", 502, times=4)  # outlasts the in-process retries: the task retries
        update = message_update("hello three", user_id=5003)

        assert _post(web, update).status_code == 200
        _wait(lambda: len(telegram.calls_of("sendMessage")) >= 6, timeout_s=180, what="the delivered reply")
        time.sleep(3)
    finally:
        if worker is not None:
            worker.stop()
        web.stop()

    calls = telegram.calls_of("sendMessage")
    assert len(calls) == 6  # 429, four 502s, then the one that arrived
    assert calls[1].at - calls[0].at >= 2  # retry_after honoured
    assert calls[5].at - calls[4].at >= 5  # the task's own retry, after its backoff
    assert not telegram.failures.get("sendMessage")
    assert len(_replies(telegram, "hello three")) == 6
    stored = ProcessedUpdate.objects.get(update_id=update["update_id"])
    assert (stored.status, stored.attempts) == ("done", 2)
    assert Message.objects.filter(client_id=f"tg:{update['update_id']}", role=Role.ASSISTANT).count() == 1


# --- the database going away --------------------------------------------------------------------

OUTAGE_S = 8  # long enough for psycopg's pool to be backing off its reconnection attempts
RESENDS_MAX = 60  # Telegram's redeliveries after the database is back, one a second at most


def test_a_database_outage_is_a_json_503_and_the_resent_update_is_answered_once_after_it(
    telegram, database_proxy: TcpProxy
):
    """The real psycopg path, nothing patched: daphne and the worker reach PostgreSQL only through a
    proxy the test cuts (connections reset, port closed). The webhook answers 503 with the JSON error
    body — not a 500, not a 200 for an update it could not keep — so Telegram keeps the update and
    sends it again; once the database is back the route answers 200 again, readiness recovers, and
    the resent update is stored and answered once."""
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    env = _process_env(telegram)
    env.update(
        DATABASE_URL=proxied_database_url(env["DATABASE_URL"], database_proxy),
        DB_POOL_TIMEOUT_S="3",  # how long a request waits for a connection while the database is down
        THROTTLE_HEALTH_READY="10000/min",
    )
    web = DaphneServer(env=env, log_path=LOG_DIR / "faults-tg-daphne-db.log").start()
    worker = None
    try:
        worker = _worker(env, "faults-tg-worker-db")
        before = message_update("before the outage", user_id=5006)
        assert _post(web, before).status_code == 200
        _wait(lambda: bool(_replies(telegram, "before the outage")), timeout_s=120, what="the reply before the outage")
        through_the_proxy = database_proxy.accepted

        database_proxy.cut()
        during = message_update("sent during the outage", user_id=5007)
        down = _post(web, during)
        ready_down = httpx.get(f"{web.http_url}/health/ready/", timeout=30)
        time.sleep(OUTAGE_S)  # Telegram waits before its next try; the pool keeps failing meanwhile
        still_down = _post(web, during)
        database_proxy.restore()
        resends = [_resend_until_accepted(web, during)]
        ready_after = _poll_status(f"{web.http_url}/health/ready/")
        _wait(lambda: bool(_replies(telegram, "sent during the outage")), timeout_s=120, what="the reply after it")
        time.sleep(3)  # room for a duplicate to show up, were there one
    finally:
        if worker is not None:
            worker.stop()
        web.stop()

    assert through_the_proxy >= 2  # both processes' connections came through the proxy
    for answer in (down, still_down):
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"]
        assert answer.json()["code"] == "unavailable"
    assert ready_down.status_code == 503
    assert ready_down.json()["checks"]["database"]["status"] == "down"
    statuses = resends[0]
    assert statuses[-1] == 200, statuses
    assert set(statuses) <= {200, 503}, statuses
    assert ready_after == 200
    assert len(_replies(telegram, "sent during the outage")) == 1
    stored = ProcessedUpdate.objects.get(update_id=during["update_id"])
    assert stored.status == "done"
    assert Message.objects.filter(client_id=f"tg:{during['update_id']}", role=Role.USER).count() == 1
    assert Message.objects.filter(client_id=f"tg:{during['update_id']}", role=Role.ASSISTANT).count() == 1


def _resend_until_accepted(server: DaphneServer, update: dict) -> list[int]:
    """Telegram's redelivery: the same update again, a second apart, until it gets a 200."""
    statuses: list[int] = []
    while len(statuses) < RESENDS_MAX and 200 not in statuses:
        if statuses:
            time.sleep(1)
        statuses.append(_post(server, update).status_code)
    return statuses


def _poll_status(url: str) -> int:
    status = 0
    for _ in range(RESENDS_MAX):
        status = httpx.get(url, timeout=30).status_code
        if status == 200:
            break
        time.sleep(1)
    return status
