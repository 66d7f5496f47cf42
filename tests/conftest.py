"""Shared fixtures: API clients, users, a clean cache per test."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-staple-42"


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
def pipeline_alive(db):
    """ops: a Celery worker and beat that reported a heartbeat just now (integrations health and
    readiness treat a silent pipeline as down)."""
    from tests.ops.conftest import beat

    beat("worker")
    beat("beat")
