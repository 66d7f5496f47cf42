"""`POST /api/chat/load-test`: staff only, bounded input, the chat scenario run in-process."""

from __future__ import annotations

import pytest

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
