"""Every response carries X-Request-ID, and every log line of the request carries it too."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_request_id_is_generated(client):
    response = client.get("/health/")
    assert len(response["X-Request-ID"]) == 32


def test_sane_incoming_request_id_is_honoured(client):
    response = client.get("/health/", HTTP_X_REQUEST_ID="abc-12345678")
    assert response["X-Request-ID"] == "abc-12345678"


@pytest.mark.parametrize("bad", ["x", "a b c d e f g h", "<script>alert(1)</script>", "y" * 300])
def test_insane_incoming_request_id_is_replaced(client, bad):
    response = client.get("/health/", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_request_id_is_on_log_lines(client, caplog):
    from digitalme.request_id import RequestIdLogFilter

    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/api/auth/register/",
            {"email": "log@example.com", "password": "correct-horse-battery-staple-42"},
            content_type="application/json",
            HTTP_X_REQUEST_ID="trace-0001-abcd",
        )
    assert response.status_code == 201
    records = [r for r in caplog.records if r.getMessage() == "user registered"]
    assert records and records[0].request_id == "trace-0001-abcd"


def test_json_formatter_emits_request_id():
    import json

    from digitalme.logging import JsonFormatter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.request_id = "rid-123456789"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world"
    assert line["request_id"] == "rid-123456789"
