from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from digitalme.asgi import application
from personality.models import Persona
from personality.services import persona_update
from tests.personality.conftest import IVAN_FILE

ORIGIN = (b"origin", b"http://testserver")


@sync_to_async
def _load_ivan():
    from personality.loading import persona_load_file

    return persona_load_file(path=IVAN_FILE).persona


@sync_to_async
def _publish_humor(value: float) -> None:
    persona_update(persona=Persona.objects.get(slug="ivan"), traits=[{"name": "humor", "value": value}], publish=True)


@pytest.mark.django_db(transaction=True)
async def test_anonymous_watcher_gets_the_live_persona_and_then_each_published_version():
    await _load_ivan()
    communicator = WebsocketCommunicator(application, "/ws/persona/ivan/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "ready"
    assert {"name": "humor", "value": 0.6, "min": 0.3, "max": 0.85}.items() <= first["persona"]["traits"][0].items()

    await _publish_humor(0.8)
    pushed = await communicator.receive_json_from(timeout=5)
    assert pushed["type"] == "persona.updated"
    assert pushed["persona"]["version"] == 2
    assert pushed["persona"]["traits"][0]["value"] == 0.8
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_unknown_persona_socket_is_closed():
    communicator = WebsocketCommunicator(application, "/ws/persona/nobody/", headers=[ORIGIN])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_watcher_socket_is_read_only():
    await _load_ivan()
    communicator = WebsocketCommunicator(application, "/ws/persona/ivan/", headers=[ORIGIN])
    await communicator.connect()
    await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "message", "content": "hi"})
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["code"] == "bad_request"
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()
