"""/ops/: staff only, rendered complete from a fresh sample, live over /ws/ops/; windowed numbers
computed like Prometheus' rate() and histogram_quantile() from the real collectors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from digitalme import metrics
from ops import panels
from ops.services import ops_sample
from tests.factories import UserFactory
from tests.ops.conftest import beat

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://localhost")]


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/ops/")
    assert response.status_code == 302
    assert "/accounts/login/?next=/ops/" in response["Location"]


def test_a_user_who_is_not_staff_is_refused(client):
    client.force_login(UserFactory())
    assert client.get("/ops/").status_code == 403


def test_staff_sees_every_panel_graded_and_the_admin_links_here(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    beat("web", rss_bytes=620_000_000)  # above the seed's 500 MB
    client.force_login(staff)

    page = client.get("/ops/").content.decode()

    for title in ("Health", "API", "Database", "Processes", "Background jobs", "Chat", "Telegram", "Integrations"):
        assert f'>{title} <span class="badge"' in page
    assert 'data-stat="processes.memory_max" data-unit="MB" data-status="bad"' in page
    assert "620.0" in page
    assert 'data-stat="celery.worker" data-unit="s" data-status="bad"' in page  # no worker heartbeat
    assert "<script>" not in page  # CSP: data travels as application/json, code from static files
    assert 'href="/ops/"' in client.get("/admin/").content.decode()


def test_the_page_is_translated(client):
    staff = UserFactory(is_staff=True, language="ru")
    client.force_login(staff)

    page = client.get("/ops/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "Эксплуатация" in page
    assert "Фоновые задачи" in page


def _frame() -> dict:
    _, frame = ops_sample(now=timezone.now(), readiness=("ok", {}))
    return frame


def test_windowed_p95_and_error_rate_come_from_the_collectors_between_two_samples(settings):
    settings.OPS_WINDOW_S = 300
    ops_sample(now=timezone.now() - timedelta(seconds=60), readiness=("ok", {}))
    for _ in range(95):
        metrics.HTTP_REQUESTS.labels(method="GET", route="/api/ops-test/", status="200").inc()
        metrics.HTTP_LATENCY.labels(method="GET", route="/api/ops-test/").observe(0.02)
    for _ in range(5):
        metrics.HTTP_REQUESTS.labels(method="GET", route="/api/ops-test/", status="500").inc()
        metrics.HTTP_LATENCY.labels(method="GET", route="/api/ops-test/").observe(4.0)
    for _ in range(50):  # scrapes and probes don't count as API traffic
        metrics.HTTP_REQUESTS.labels(method="GET", route="/metrics", status="200").inc()

    http = _frame()["panels"]["http"]["stats"]

    assert http["error_rate"] == {"value": 5.0, "status": "bad"}
    assert http["requests"]["value"] == pytest.approx(100.0, rel=0.05)  # per minute over ~60 s
    assert http["p95"]["status"] == "ok"
    assert 10 <= http["p95"]["value"] <= 25


def test_the_first_sample_has_no_window_yet():
    http = _frame()["panels"]["http"]["stats"]
    assert http["p95"] == {"value": None, "status": "none"}


def test_the_telegram_queue_has_its_own_depth_beside_the_background_jobs_queue(settings):
    """Telegram updates wait on a queue of their own (its own worker): its backlog is what users wait
    for, so the dashboard shows it by itself — read from the real broker, not summed into the other."""
    from digitalme.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in (app.conf.task_default_queue, settings.TELEGRAM_QUEUE):
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)
        try:
            for update in range(3):  # routed by CELERY_TASK_ROUTES, published, and nobody consumes them here
                app.send_task("telegram_bot.update_process", args=[update])
            celery = _frame()["panels"]["celery"]["stats"]
        finally:
            channel.queue_purge(settings.TELEGRAM_QUEUE)

    assert celery["telegram_queue"] == {"value": 3, "status": "ok"}
    assert celery["queue"] == {"value": 0, "status": "ok"}


def test_workers_on_the_telegram_queue_are_counted_from_their_heartbeats(settings):
    """A queue's depth says nothing about whether anyone reads it: live workers name their queues."""
    settings.OPS_HEARTBEAT_STALE_S = 60
    beat("worker", queues=("celery",))  # a worker started with -Q celery: nobody reads Telegram's

    nobody = _frame()["panels"]["celery"]["stats"]["telegram_workers"]
    beat("worker", queues=("celery", settings.TELEGRAM_QUEUE))  # the same process, now reading both
    one = _frame()["panels"]["celery"]["stats"]["telegram_workers"]

    assert nobody == {"value": 0, "status": "bad"}
    assert one == {"value": 1, "status": "ok"}


def test_charted_stats_accumulate_a_time_series():
    now = timezone.now()
    ops_sample(now=now - timedelta(seconds=20), readiness=("ok", {}))
    ops_sample(now=now - timedelta(seconds=10), readiness=("ok", {}))
    _, frame = ops_sample(now=now, readiness=("ok", {}))

    assert len(frame["series"]["http.requests"]) == 2  # the first sample had no window
    assert len(frame["series"]["chat.active_users"]) == 3


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [[0.5, 0.0], [2.5, 0.0], [5.0, 10.0], [float("inf"), 10.0]]
    assert panels.histogram_quantile(0.95, buckets) == pytest.approx(4.875)
    assert panels.histogram_quantile(0.5, [[0.1, 10.0], [float("inf"), 20.0]]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "value, thresholds, expected",
    [
        (0.4, panels.HTTP_ERROR_RATE_PCT, "ok"),
        (0.7, panels.HTTP_ERROR_RATE_PCT, "warn"),
        (1.5, panels.HTTP_ERROR_RATE_PCT, "bad"),
        (2100, panels.HTTP_P95_MS, "bad"),
        (120, panels.DB_P95_MS, "bad"),
        (510, panels.MEMORY_MB, "bad"),
        (None, panels.MEMORY_MB, "none"),
    ],
)
def test_grades_follow_the_seed_thresholds(value, thresholds, expected):
    assert panels.grade(value, thresholds) == expected


async def _connect(user=None) -> tuple[WebsocketCommunicator, bool]:
    from digitalme.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/ops/", headers=ORIGIN)
    if user is not None:
        communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_the_socket_refuses_anyone_but_staff():
    from asgiref.sync import sync_to_async

    user = await sync_to_async(UserFactory)()
    communicator, connected = await _connect()
    assert not connected
    communicator, connected = await _connect(user)
    assert not connected
    await communicator.disconnect()


async def test_staff_get_a_frame_then_live_frames_and_errors_for_bad_input(settings):
    from asgiref.sync import sync_to_async

    settings.OPS_SAMPLE_INTERVAL_S = 1
    staff = await sync_to_async(UserFactory)(is_staff=True)
    communicator, connected = await _connect(staff)
    assert connected
    first = await communicator.receive_json_from(timeout=10)
    assert first["type"] == "ops.frame"
    assert {"health", "http", "database", "processes", "celery", "chat", "telegram", "integrations"} <= set(
        first["panels"]
    )

    await communicator.send_to(text_data="not json")
    assert (await _reply(communicator))["code"] == "bad_request"
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await _reply(communicator))["code"] == "bad_request"
    await communicator.send_json_to({"type": "ping"})
    assert (await _reply(communicator)) == {"type": "pong"}

    live = await communicator.receive_json_from(timeout=10)
    while live["at"] == first["at"]:
        live = await communicator.receive_json_from(timeout=10)
    assert live["type"] == "ops.frame"  # the next tick, unasked
    json.dumps(live)  # plain JSON all the way down
    await communicator.disconnect()


async def _reply(communicator: WebsocketCommunicator) -> dict:
    """The answer to what we sent, skipping the dashboard frames that keep arriving."""
    while True:
        frame = await communicator.receive_json_from(timeout=10)
        if frame.get("type") != "ops.frame":
            return frame
