"""Listeners of pushes to a user (web push) hear only the events they registered for."""

from __future__ import annotations

import pytest

from digitalme import realtime


@pytest.fixture
def heard(monkeypatch):
    events: list[tuple[int, str]] = []
    monkeypatch.setattr(realtime, "_user_event_listeners", {})
    realtime.register_user_event_listener(
        "recorder", lambda user_id, event: events.append((user_id, event["type"])), event_types=("reply.end",)
    )
    return events


async def test_a_listener_hears_only_its_event_types(heard, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    await realtime.apush_to_user(7, {"type": "message.created", "message": {"id": 1}})
    await realtime.apush_to_user(7, {"type": "reply.end", "message": {"id": 2}})

    assert heard == [(7, "reply.end")]


def test_the_web_push_listener_is_registered_for_finished_replies_only():
    from notifications.services import push_on_user_event

    listener, types = realtime._user_event_listeners["webpush"]

    assert listener is push_on_user_event
    assert types == frozenset({"reply.end"})
