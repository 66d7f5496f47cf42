"""Presence: which users have a chat page open, shared by every process through Redis."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from digitalme.presence import presence_enter, presence_leave, user_has_open_page
from tests.chat.conftest import communicator, session_cookie_header

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_open_chat_socket_makes_the_user_present_until_it_closes(user):
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from(timeout=5))["type"] == "ready"
    assert await sync_to_async(user_has_open_page)(user.pk)

    await comm.disconnect()

    assert not await sync_to_async(user_has_open_page)(user.pk)


async def test_an_anonymous_socket_counts_for_nobody(user):
    comm = communicator()
    await comm.connect()
    try:
        assert not await sync_to_async(user_has_open_page)(user.pk)
    finally:
        await comm.disconnect()


async def test_a_vanished_process_leaves_no_presence_behind(user, monkeypatch):
    from digitalme import presence

    monkeypatch.setattr(presence, "PRESENCE_TTL_S", -1)  # as if its last refresh was long ago
    await presence_enter(user.pk, "dead-process-socket")
    assert not await sync_to_async(user_has_open_page)(user.pk)
    await presence_leave(user.pk, "dead-process-socket")


async def test_two_tabs_one_closed_still_present(user):
    await presence_enter(user.pk, "tab-a")
    await presence_enter(user.pk, "tab-b")
    await presence_leave(user.pk, "tab-a")
    try:
        assert await sync_to_async(user_has_open_page)(user.pk)
    finally:
        await presence_leave(user.pk, "tab-b")
