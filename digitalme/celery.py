"""The Celery app: settings come from Django's (CELERY_ prefix), tasks from every app.

Its signal handlers carry the request id into every task (a header set at publish, restored in the
worker, so log lines and Sentry events of a task show the id of the request that caused it),
count tasks for Prometheus, and start the worker's and beat's heartbeats.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import time
from contextvars import Token
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

logger = logging.getLogger(__name__)

app = Celery("digitalme")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="digitalme.ping")
def ping(marker_path: str = "") -> str:
    """Round-trip check for the broker: writes a marker file when a path is given."""
    logger.info("ping task ran")  # with the request id of whoever queued it (ops)
    if marker_path:
        with open(marker_path, "w") as marker:
            marker.write("pong")
    return "pong"


# --- request id, metrics and heartbeats -------------------------------------------------------

REQUEST_ID_HEADER = "request_id"
_running: dict[str, tuple[float, Token]] = {}  # task id -> (start, request id context token)


@signals.before_task_publish.connect
def _publish_with_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    from digitalme.request_id import current_request_id

    request_id = current_request_id.get()
    if headers is not None and request_id != "-" and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


def _incoming_request_id(task: Any, task_id: str) -> str:
    from digitalme.request_id import current_request_id, new_request_id

    request = getattr(task, "request", None)
    given = getattr(request, REQUEST_ID_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        REQUEST_ID_HEADER
    )
    if given:
        return new_request_id(given)
    if current_request_id.get() != "-":  # an eager task inside a request keeps the request's id
        return current_request_id.get()
    # A task nobody's request caused (beat) is known by its own task id.
    return new_request_id(task_id.replace("-", ""))


@signals.task_prerun.connect
def _task_started(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    from digitalme.request_id import current_request_id

    token = current_request_id.set(_incoming_request_id(task, task_id))
    _running[task_id] = (time.perf_counter(), token)


@signals.task_postrun.connect
def _task_finished(task_id: str = "", task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    from digitalme.metrics import record_celery_task
    from digitalme.request_id import current_request_id

    started, token = _running.pop(task_id, (None, None))
    record_celery_task(
        task=getattr(task, "name", "") or "",
        state=state or "",
        duration_s=None if started is None else time.perf_counter() - started,
    )
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context (an eager task): leave it
            current_request_id.reset(token)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _return_database_connections(task: Any = None, **kwargs: Any) -> None:
    """Django's connection hygiene around a request, around a task: stale or broken connections
    closed, the rest given back to the pool. An eager task runs inside its caller's transaction: left alone."""
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


_PID_AT_IMPORT = os.getpid()  # a prefork pool's children are forked after this: their pid differs


@signals.worker_process_init.connect  # connected at import: runs before the Django fixup's receiver
def _give_back_connections_before_the_fixup(**kwargs: Any) -> None:
    """Celery's Django fixup handles `worker_process_init` as if in a freshly forked child: it
    `os.close()`s the file descriptor of every connection the thread has open (the parent's socket,
    in a child), then hands the connection back to psycopg's pool. But the solo pool sends the
    signal in the worker's own process, so a connection open there lost its socket while the pool
    kept it as healthy; the fd number went to the next socket opened (a Redis connection), and the
    next query on that pooled connection was written to Redis and waited forever for PostgreSQL.
    Without CELERY_DB_REUSE_MAX the fixup happened to close the thread's connections just before
    (at worker_init); with it, it doesn't. So in the worker's own process give them back properly
    first; in a forked child leave them to the fixup (they are the parent's, not to be used)."""
    if os.getpid() != _PID_AT_IMPORT:
        return
    from django.db import connections

    connections.close_all()


_modules_when_frozen = 0


@signals.task_postrun.connect
def _freeze_the_warm_heap(task: Any = None, **kwargs: Any) -> None:
    """After a task that imported something new (a pool child's first task imports what tasks
    need; a memory job imports litellm later), move every object the collector tracks to the
    permanent generation (gc.freeze; no collection first — that alone took 200–700 ms here): full
    collections then scan only what tasks create. Without it a Telegram reply now and then waited
    170–470 ms (once 2.2 s) behind a full collection of the child's whole heap (docs/QUALITY.md,
    Telegram fourth pass). Eager tasks (tests) leave it be."""
    global _modules_when_frozen
    if len(sys.modules) == _modules_when_frozen or getattr(getattr(task, "request", None), "is_eager", False):
        return
    gc.freeze()
    _modules_when_frozen = len(sys.modules)


@signals.worker_ready.connect
def _worker_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """The worker's heartbeat names the queues it consumes, so /ops/ and readiness can tell whether
    anyone reads the Telegram queue (a worker started with `-Q celery` alone does not)."""
    from ops.heartbeat import start_process_heartbeat

    def queues() -> list[str]:
        task_consumer = getattr(sender, "task_consumer", None)  # None while the broker reconnects
        if task_consumer is not None:
            return [queue.name for queue in task_consumer.queues]
        return list(app.amqp.queues.consume_from)

    start_process_heartbeat("worker", queues=queues)


@signals.beat_init.connect
def _beat_heartbeat(**kwargs: Any) -> None:
    from ops.heartbeat import start_process_heartbeat

    start_process_heartbeat("beat")


def queue_lengths(queues: list[str]) -> dict[str, int | None]:
    """Messages waiting per queue, straight from the broker (None: unknown or broker down)."""
    lengths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            for name in queues:
                try:
                    if hasattr(channel, "_size"):  # redis / filesystem transports: no declare needed
                        lengths[name] = int(channel._size(name))
                    else:
                        lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # noqa: BLE001 - a queue nobody declared yet
                    lengths[name] = None
    except Exception:  # noqa: BLE001 - broker down: say so, don't crash
        return dict.fromkeys(queues)
    return lengths
