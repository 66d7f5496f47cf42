"""A Celery worker's database connections: back to the pool after every task, the pool itself kept
(CELERY_DB_REUSE_MAX), and a solo worker's start leaves every pooled connection its own socket.

Celery's Django fixup closes every connection around each task and, with psycopg's pool in a prefork
worker, the whole pool too: each task then opened a new PostgreSQL connection (seen profiling the
Telegram worker, docs/QUALITY.md). CELERY_DB_REUSE_MAX keeps the pool; our own task hooks still
give each task's connections back, as Django does after a request. With the setting, a worker started
in-process (the solo pool: `make run`, the tests' start_worker) once left a pooled connection whose
file descriptor the fixup had closed — the next query on it went to whatever socket got that number
and waited forever (digitalme/celery.py, `_give_back_connections_before_the_fixup`)."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from digitalme.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


class _Task:
    """What the hooks read of a task run by a worker (not eagerly, in a test or a request)."""

    name = "telegram_bot.update_process"
    request = SimpleNamespace(is_eager=False)


WORKER_TASK = _Task()


def _needs_the_pool(settings) -> None:
    if "pool" not in settings.DATABASES["default"].get("OPTIONS", {}):
        pytest.skip("needs PostgreSQL with psycopg's pool (the production setup)")


def _prefork_fixup() -> DjangoWorkerFixup:
    fixup = DjangoWorkerFixup(app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
    return fixup


def _socket_inode(fd: int) -> int | None:
    """The inode of the socket behind `fd` (None: closed, or not a socket)."""
    try:
        status = os.fstat(fd)
    except OSError:
        return None
    return status.st_ino if stat.S_ISSOCK(status.st_mode) else None


def test_the_worker_keeps_its_connection_pool_from_task_to_task(settings):
    _needs_the_pool(settings)
    fixup = _prefork_fixup()
    connection.ensure_connection()
    pool = connection.pool

    for _ in range(3):
        fixup.on_task_prerun(sender=WORKER_TASK)
        connection.ensure_connection()
        fixup.on_task_postrun(sender=WORKER_TASK)

    assert connection.pool is pool
    assert not pool.closed


def test_a_tasks_connection_goes_back_to_the_pool_when_it_ends():
    connection.ensure_connection()
    assert connection.connection is not None

    signals.task_postrun.send(sender=WORKER_TASK, task_id="t-1", task=WORKER_TASK, state="SUCCESS")

    assert connection.connection is None


def test_a_solo_worker_starting_in_this_process_leaves_the_open_connection_its_socket(settings, root_logging_kept):
    """The solo pool sends worker_process_init in the worker's own process; the fixup's handler
    closes the fd of every open connection as if it were a forked child's copy. The connection this
    thread had open must instead go back to the pool whole: same socket, still PostgreSQL's."""
    _needs_the_pool(settings)
    if not settings.REDIS_URL:
        pytest.skip("needs the Redis broker")
    connection.ensure_connection()
    pooled = connection.connection
    socket_before = _socket_inode(pooled.pgconn.socket)
    assert socket_before is not None

    with start_worker(app, pool="solo", perform_ping_check=False, queues=["celery-database-test"], shutdown_timeout=10):
        given_back = connection.connection is None
        socket_after = _socket_inode(pooled.pgconn.socket)

    assert given_back  # handed back to the pool, not kept by this thread
    assert not pooled.closed
    assert socket_after == socket_before  # before the fix: closed (None) or another socket's
