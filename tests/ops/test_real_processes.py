"""Numbers true across processes, with real processes: two daphne servers sharing one Prometheus
multiprocess directory report one set of numbers (a killed one's open sockets disappear); a real
Celery worker and beat report heartbeats, count tasks, and log a task with the request id of
whoever queued it; a killed worker turns readiness down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from loadtest.server import DaphneServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
LOG_DIR = ROOT / "test-output"


def _env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "OPS_HEARTBEAT_INTERVAL_S": "0.5",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _wait(predicate: Callable[[], bool], *, timeout_s: float = 60.0, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _sample(body: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _scrape(server: DaphneServer) -> str:
    return httpx.get(f"{server.http_url}/metrics", timeout=10).text


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[DaphneServer, DaphneServer]]:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    env = _env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    a = DaphneServer(env=env, log_path=LOG_DIR / "ops-daphne-a.log").start()
    b = DaphneServer(env=env, log_path=LOG_DIR / "ops-daphne-b.log").start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_two_web_processes_report_one_set_of_numbers(two_servers):
    from websockets.sync.client import connect

    a, b = two_servers
    health = 'method="GET",route="/health/",status="200"'
    before = _sample(_scrape(a), "dm_http_requests_total", health)
    for _ in range(5):
        httpx.get(f"{a.http_url}/health/", timeout=10)
    for _ in range(7):
        httpx.get(f"{b.http_url}/health/", timeout=10)

    assert _sample(_scrape(b), "dm_http_requests_total", health) == before + 12  # read from the other one
    _wait(lambda: _sample(_scrape(a), "dm_processes_alive", 'role="web"') == 2, what="both web heartbeats")

    socket_a = connect(f"{a.ws_url}/ws/persona/ivan/", origin=a.http_url, open_timeout=30)
    socket_b = connect(f"{b.ws_url}/ws/persona/ivan/", origin=b.http_url, open_timeout=30)
    try:
        socket_a.recv(timeout=10), socket_b.recv(timeout=10)  # the ready frames
        assert _sample(_scrape(a), "dm_websocket_connections_open", 'route="/ws/persona/"') == 2
        b.process.send_signal(signal.SIGKILL)  # no goodbye: its files stay behind
        b.process.wait(timeout=10)
        assert _sample(_scrape(a), "dm_websocket_connections_open", 'route="/ws/persona/"') == 1
        assert _sample(_scrape(a), "dm_http_requests_total", health) >= before + 12  # counters survive it
    finally:
        socket_a.close()
        socket_b.close()


def json_lines(path: Path) -> list[dict]:
    """The JSON log lines of a process's output (banners and access-log lines skipped)."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


class _Celery:
    def __init__(self, role: str, args: list[str], env: dict[str, str]) -> None:
        if args[0] == "worker":
            # Tasks other tests queued (and nobody ran) would make this worker busy with stale work.
            from digitalme.celery import app

            app.control.purge()
        self.log_path = LOG_DIR / f"ops-celery-{role}.log"
        LOG_DIR.mkdir(exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "digitalme", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def json_lines(self) -> list[dict]:
        return json_lines(self.log_path)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


def test_worker_and_beat_heartbeats_task_metrics_and_request_ids(client, settings, tmp_path):
    from digitalme.celery import ping
    from digitalme.request_id import current_request_id

    settings.OPS_HEARTBEAT_STALE_S = 3
    env = _env()
    worker = _Celery(
        "worker", ["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"], env
    )
    beat = _Celery(
        "beat",
        ["beat", "--loglevel=INFO", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
        env,
    )
    try:

        def pipeline_ok() -> bool:
            checks = client.get("/health/ready/").json()["checks"]
            return checks["worker"]["status"] == "ok" and checks["beat"]["status"] == "ok"

        _wait(pipeline_ok, timeout_s=180, what="worker and beat heartbeats")  # a loaded 2-core host: ~30 s each
        # The worker's heartbeat names what it consumes: a plain worker reads both declared queues.
        from ops.models import ProcessHeartbeat

        queues = ProcessHeartbeat.objects.filter(role="worker").values_list("queues", flat=True)
        assert list(queues) == [",".join(sorted([settings.CELERY_TASK_DEFAULT_QUEUE, settings.TELEGRAM_QUEUE]))]

        marker = tmp_path / "pong"
        token = current_request_id.set("chain-test-0001")
        try:
            ping.delay(str(marker))
        finally:
            current_request_id.reset(token)
        _wait(marker.exists, timeout_s=60, what="the worker to run the task")
        _wait(
            lambda: any(line["message"] == "ping task ran" for line in worker.json_lines()),
            timeout_s=10,
            what="the task's log line",
        )
        ran = next(line for line in worker.json_lines() if line["message"] == "ping task ran")
        assert ran["request_id"] == "chain-test-0001"

        body = client.get("/metrics").content.decode()
        assert _sample(body, "dm_celery_tasks_total", 'state="succeeded",task="digitalme.ping"') >= 1

        worker.stop(signal.SIGKILL)  # a crash: no goodbye, the heartbeat just stops
        _wait(
            lambda: client.get("/health/ready/").json()["checks"]["worker"]["status"] == "down",
            timeout_s=20,
            what="the worker to be reported down",
        )
        assert client.get("/health/ready/").json()["checks"]["beat"]["status"] == "ok"
    finally:
        worker.stop()
        beat.stop()
