"""A worker child's warm heap is frozen out of the garbage collector's full collections: after a
task that imported something new, once, and never for an eager task (tests, requests)."""

from __future__ import annotations

import gc
import json  # noqa: F401 - imported before the first task: nothing new for the second
from types import SimpleNamespace

import pytest
from celery import signals

from digitalme import celery as worker


class _Task:
    name = "telegram_bot.update_process"

    def __init__(self, *, eager: bool) -> None:
        self.request = SimpleNamespace(is_eager=eager)


@pytest.fixture
def unfrozen(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(worker, "_modules_when_frozen", 0)
    yield
    gc.unfreeze()


def _task_ends(task: _Task) -> None:
    signals.task_postrun.send(sender=task, task_id="t-1", task=task, state="SUCCESS")


def test_a_workers_heap_is_frozen_after_its_first_task(unfrozen):
    _task_ends(_Task(eager=False))

    assert gc.get_freeze_count() > 0


def test_it_is_not_frozen_again_when_a_task_imported_nothing(unfrozen):
    _task_ends(_Task(eager=False))
    frozen = gc.get_freeze_count()
    garbage_of_the_next_task = [object() for _ in range(1000)]

    _task_ends(_Task(eager=False))

    assert gc.get_freeze_count() == frozen
    assert garbage_of_the_next_task


def test_an_eager_task_leaves_the_heap_alone(unfrozen):
    _task_ends(_Task(eager=True))

    assert gc.get_freeze_count() == 0
