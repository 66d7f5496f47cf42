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


async def test_an_inactive_listener_costs_no_thread_hop(monkeypatch, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(realtime, "_user_event_listeners", {})
    called: list[int] = []
    realtime.register_user_event_listener(
        "off", lambda user_id, event: called.append(user_id), event_types=("reply.end",), active=lambda: False
    )
    hops: list[object] = []
    monkeypatch.setattr(realtime, "sync_to_async", lambda func, **kwargs: hops.append(func))

    await realtime.apush_to_user(7, {"type": "reply.end", "message": {"id": 2}})

    assert called == [] and hops == []


def test_the_web_push_listener_is_registered_for_finished_replies_only_while_push_is_configured():
    from notifications.services import push_enabled, push_on_user_event

    listener, types, active = realtime._user_event_listeners["webpush"]

    assert listener is push_on_user_event
    assert types == frozenset({"reply.end"})
    assert active is push_enabled
