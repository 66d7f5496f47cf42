"""The webhook's direct ASGI route (digitalme/direct_route.py): every check of the view and the same
answers as Django's whole stack, a body too large refused before it is read, and the ack in one
thread hop (the store) instead of a sync island's many."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import OperationalError
from django.test import AsyncClient

from digitalme import metrics
from digitalme.db import executor
from telegram_bot.models import ProcessedUpdate
from tests.telegram_bot.conftest import WEBHOOK_SECRET, asgi_client, message_update

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/telegram/webhook/"


def _headers(secret: str | None = WEBHOOK_SECRET, **extra: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **extra}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return headers


async def _post(body: bytes, **headers: Any):
    async with asgi_client() as client:
        return await client.post(PATH, content=body, headers=headers or _headers())


def _asgi_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-telegram-bot-api-secret-token", WEBHOOK_SECRET.encode()), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


async def _raw(scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """(status, headers, body, how many body chunks the application read) for a request sent in `chunks`."""
    from digitalme.asgi import application

    communicator = ApplicationCommunicator(application, scope)
    for index, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    start = await communicator.receive_output(5)
    body = await communicator.receive_output(5)
    await communicator.wait(5)
    unread = communicator.input_queue.qsize()
    headers = {name.lower(): value for name, value in start["headers"]}
    return start["status"], headers, body["body"], len(chunks) - unread


# --- bad input first: each refusal as the view gives it today -----------------------------------


async def test_a_wrong_secret_is_403_and_nothing_is_stored(fake_telegram):
    response = await _post(json.dumps(message_update("/help")).encode(), **_headers(secret="not-the-secret"))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_missing_secret_is_403(fake_telegram):
    response = await _post(json.dumps(message_update("/help")).encode(), **_headers(secret=None))

    assert response.status_code == 403
    assert not await ProcessedUpdate.objects.aexists()


async def test_without_a_configured_secret_even_an_empty_one_is_refused(fake_telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    response = await _post(json.dumps(message_update("/help")).encode(), **_headers(secret=""))

    assert response.status_code == 403


async def test_get_is_405_with_allow_post(fake_telegram):
    async with asgi_client() as client:
        response = await client.get(PATH, headers=_headers())

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


async def test_a_body_that_is_not_json_is_acknowledged_and_not_stored(fake_telegram, caplog):
    """As the view has always answered: a non-2xx would only make Telegram send the same bad body again."""
    response = await _post(b'{"update_id": 1, "message": {')

    assert response.status_code == 200
    assert "body is not JSON" in caplog.text
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_body_over_the_upload_limit_is_413_before_it_is_read(fake_telegram, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(message_update("x" * 2000)).encode()

    status, headers, answer, read = await _raw(
        _asgi_scope([(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]),
        [body[:500], body[500:]],
    )

    assert status == 413
    assert json.loads(answer)["code"] == "too_large"
    assert read == 0  # refused on its Content-Length: nothing of the body was taken in
    assert headers[b"x-request-id"]
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_streamed_body_without_length_is_413_once_it_passes_the_limit(fake_telegram, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    status, _, _, read = await _raw(
        _asgi_scope([(b"content-type", b"application/json")]), [b"{" + b" " * 600, b" " * 600, b" " * 600]
    )

    assert status == 413
    assert read == 2  # stopped at the chunk that went over, the rest never read
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_host_not_allowed_is_400(fake_telegram):
    status, _, _, _ = await _raw(
        {**_asgi_scope([(b"content-type", b"application/json")]), "headers": [(b"host", b"evil.example")]},
        [json.dumps(message_update("/help")).encode()],
    )

    assert status == 400
    assert not await ProcessedUpdate.objects.aexists()


async def test_a_database_that_is_down_is_a_json_503_so_telegram_sends_the_update_again(fake_telegram, monkeypatch):
    """The real outage, through a cut proxy and real processes: tests/faults/test_telegram_faults.py."""

    def down(**kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("telegram_bot.views.update_store", down)
    unavailable = metrics.TELEGRAM_WEBHOOK.labels(outcome="unavailable")
    before = unavailable._value.get()

    response = await _post(json.dumps(message_update("/help")).encode())

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "unavailable"
    assert unavailable._value.get() == before + 1


# --- what the middleware gave, kept --------------------------------------------------------------


async def test_the_request_id_is_taken_and_echoed(fake_telegram):
    response = await _post(
        json.dumps(message_update("/help")).encode(), **_headers(**{"X-Request-ID": "tg-route-0001"})
    )

    assert response.headers["X-Request-ID"] == "tg-route-0001"
    stored = await ProcessedUpdate.objects.aget()
    assert stored.request_id == "tg-route-0001"


async def test_the_request_is_counted_under_the_views_route(fake_telegram):
    counter = metrics.HTTP_REQUESTS.labels(method="POST", route=PATH, status="200")
    before = counter._value.get()

    await _post(json.dumps(message_update("/help")).encode())

    assert counter._value.get() == before + 1


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        (json.dumps(message_update("/help", update_id=90_001)).encode(), WEBHOOK_SECRET),
        (json.dumps(message_update("/help", update_id=90_002)).encode(), "wrong"),
        (b"not json", WEBHOOK_SECRET),
        (json.dumps(["no", "update_id"]).encode(), WEBHOOK_SECRET),
    ],
    ids=["accepted", "forbidden", "not-json", "no-update-id"],
)
async def test_the_route_answers_as_djangos_whole_stack_does(fake_telegram, body, secret):
    async with asgi_client() as client:
        direct = await client.post(PATH, content=body, headers=_headers(secret=secret))
    await ProcessedUpdate.objects.all().adelete()
    stack = await AsyncClient().post(PATH, data=body, content_type="application/json", headers=_headers(secret=secret))

    assert (direct.status_code, direct.json()) == (stack.status_code, stack.json())
    for header in ("Content-Type", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert direct.headers.get(header) == stack.get(header), header


# --- what it costs: one hop, on the bounded pool ---------------------------------------------------


async def test_the_ack_is_one_thread_hop_on_the_bounded_pool(fake_telegram, monkeypatch):
    """Through Django's stack the same POST took a sync island (thread hops each way, on a thread
    created per request) plus the store's own hop."""
    loop = asyncio.get_running_loop()
    hops: list[object] = []
    run_in_executor = loop.run_in_executor

    def counting(pool, func, *args):
        hops.append(pool)
        return run_in_executor(pool, func, *args)

    async with asgi_client() as client:
        await client.post(PATH, content=b"{}", headers=_headers())  # the route's first use resolves the view
        monkeypatch.setattr(loop, "run_in_executor", counting)
        response = await client.post(PATH, content=json.dumps(message_update("/help")).encode(), headers=_headers())

    assert response.status_code == 200
    assert hops == [executor()]
