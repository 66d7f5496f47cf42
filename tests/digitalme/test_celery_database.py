"""A Celery worker's database connections: back to the pool after every task, the pool itself kept.

Celery's Django fixup closes every connection around each task and, with psycopg's pool in a prefork
worker, the whole pool too: each task then opened a new PostgreSQL connection (seen profiling the
Telegram worker, docs/QUALITY.md). CELERY_DB_REUSE_MAX keeps the pool; our own task hooks still
give each task's connections back, as Django does after a request."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from digitalme.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


class _Task:
    """What the hooks read of a task run by a worker (not eagerly, in a test or a request)."""

    name = "telegram_bot.update_process"
    request = SimpleNamespace(is_eager=False)


WORKER_TASK = _Task()


def _prefork_fixup() -> DjangoWorkerFixup:
    fixup = DjangoWorkerFixup(app)
    fixup.worker = SimpleNamespace(pool_cls="celery.concurrency.prefork:TaskPool")
    return fixup


def test_the_worker_keeps_its_connection_pool_from_task_to_task(settings):
    if "pool" not in settings.DATABASES["default"].get("OPTIONS", {}):
        pytest.skip("needs PostgreSQL with psycopg's pool (the production setup)")
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
