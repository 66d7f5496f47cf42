"""A Celery worker's database connections go back to the pool after every task, as Django does
after a request (our task hooks in digitalme/celery.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery import signals
from django.db import connection

import digitalme.celery  # noqa: F401 - connects the task hooks

pytestmark = pytest.mark.django_db(transaction=True)


class _Task:
    """What the hooks read of a task run by a worker (not eagerly, in a test or a request)."""

    name = "telegram_bot.update_process"
    request = SimpleNamespace(is_eager=False)


WORKER_TASK = _Task()


def test_a_tasks_connection_goes_back_to_the_pool_when_it_ends():
    connection.ensure_connection()
    assert connection.connection is not None

    signals.task_postrun.send(sender=WORKER_TASK, task_id="t-1", task=WORKER_TASK, state="SUCCESS")

    assert connection.connection is None
