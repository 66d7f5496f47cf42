"""POST /api/performance/database-test: the chat turn's and the sync's hot queries, p50/p95 each,
and a verdict against 100 ms."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_is_staff_only(api_client, auth_client):
    assert api_client.post("/api/performance/database-test", {}, format="json").status_code == 401
    assert auth_client.post("/api/performance/database-test", {}, format="json").status_code == 403


def test_covers_the_chat_hot_queries_with_a_verdict(staff_client):
    response = staff_client.post("/api/performance/database-test", {"iterations": 5}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["threshold_p95_ms"] == 100.0
    assert {
        "select_1",
        "chat_latest_conversation",
        "chat_history",
        "chat_memory_facts",
        "chat_client_id_lookup",
        "persona_live_version",
        "integrations_due",
    } <= set(body["queries"])
    for result in body["queries"].values():
        assert result["p95"] >= result["p50"] > 0
        assert result["passed"] is (result["p95"] <= 100.0)
    assert body["passed"] is all(r["passed"] for r in body["queries"].values())
    assert body["slowest"]["query"] in body["queries"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"iterations": 0}, "iterations"),
        ({"iterations": "many"}, "iterations"),
        ({"iterations": 5000}, "iterations"),
        ({"loops": 3}, "loops"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(staff_client, payload, field):
    response = staff_client.post("/api/performance/database-test", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
