"""`POST /api/chat/load-test`: staff only, bounded input, the chat scenario run in-process."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User

URL = "/api/chat/load-test"


@pytest.mark.django_db
def test_anonymous_is_401(api_client):
    assert api_client.post(URL, {"concurrentUsers": 1, "messagesPerUser": 1}, format="json").status_code == 401


@pytest.mark.django_db
def test_non_staff_is_403(auth_client):
    response = auth_client.post(URL, {"concurrentUsers": 1, "messagesPerUser": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "concurrentUsers"),
        ({"concurrentUsers": 0, "messagesPerUser": 1}, "concurrentUsers"),
        ({"concurrentUsers": 51, "messagesPerUser": 1}, "concurrentUsers"),
        ({"concurrentUsers": 2, "messagesPerUser": 21}, "messagesPerUser"),
        ({"concurrentUsers": "many", "messagesPerUser": 1}, "concurrentUsers"),
        ({"concurrentUsers": 50, "messagesPerUser": 20}, "messagesPerUser"),
    ],
)
def test_out_of_bounds_input_is_400_naming_the_field(staff_client, body, field):
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_staff_run_returns_figures_and_cleans_up(staff_user, ivan):
    client = APIClient()
    client.force_authenticate(user=staff_user)
    users_before = User.objects.count()
    response = client.post(URL, {"concurrentUsers": 3, "messagesPerUser": 2}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["users"] == 3
    assert body["turns_sent"] == 6
    assert body["turns_ok"] == 6
    assert body["errors"] == 0
    assert body["messages_stored"] == body["messages_sent"] == 6
    assert body["replies_intact"] == 6
    assert body["full_reply_ms"]["p95"] >= body["full_reply_ms"]["p50"] > 0
    assert User.objects.count() == users_before  # the throwaway users and their messages are gone
