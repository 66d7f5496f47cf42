"""The socket payload of a message is the API's message object, field for field."""

from __future__ import annotations

import pytest

from chat.models import Platform, Role
from chat.serializers import MessageOutputSerializer, message_payload
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fields",
    [
        {"role": Role.USER, "content": "Привет, Ivan", "platform": Platform.TELEGRAM, "client_id": "c-1"},
        {
            "role": Role.ASSISTANT,
            "content": "",
            "rating": -1,
            "stopped": True,
            "moderation": {"allowed": True, "score": 0.25},
            "quality": {"gate": "cheap", "label": "good"},
        },
    ],
)
def test_message_payload_equals_the_api_serializer(fields):
    message = MessageFactory(**fields)

    assert message_payload(message) == dict(MessageOutputSerializer(message).data)
    assert list(message_payload(message)) == list(MessageOutputSerializer(message).data)
