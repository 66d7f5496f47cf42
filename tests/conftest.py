"""Shared fixtures: API clients, users, a clean cache per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-staple-42"
# Read at import (collection), before pytest-django renames it to the test database's name.
DEVELOPMENT_DATABASE_NAME = settings.DATABASES["default"]["NAME"]


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and other cached state must not leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def staff_user(db):
    return UserFactory(password=PASSWORD, is_staff=True)


@pytest.fixture
def auth_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=staff_user)
    return client


@pytest.fixture
def celery_eager():
    """Celery tasks run in the calling thread (the broker is not involved); errors propagate."""
    from digitalme.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def root_logging_kept() -> Iterator[None]:
    """For a test that starts a Celery worker in this process (celery.contrib.testing's
    start_worker): that sets up Celery's logging — the root logger at ERROR with a handler of its
    own — and later tests' caplog then saw no warning at all. The root logger is put back."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def pipeline_alive(db):
    """ops: a Celery worker and beat that reported a heartbeat just now (integrations health and
    readiness treat a silent pipeline as down)."""
    from tests.ops.conftest import beat

    beat("worker")
    beat("beat")


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database, also when only browser tests run.

    pytest-django creates it only for tests marked django_db; browser tests carry no such mark
    (its per-test flush would run while Playwright's loop is active and fail), and the restore
    drill copies its schema into a database of its own.
    """
    from django.test.utils import setup_databases, teardown_databases

    if connection.settings_dict["NAME"] != DEVELOPMENT_DATABASE_NAME:  # pytest-django made it already
        yield
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(created, verbosity=0)
