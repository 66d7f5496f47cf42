"""REST: conversations, messages (JSON and SSE), feedback, memory; others' data is 404."""

from __future__ import annotations

import json

import pytest
from django.test import AsyncClient
from rest_framework.test import APIClient

from chat.models import Conversation, MemoryFact, Message, Platform, Role
from chat.services import chat_reply, conversation_create
from tests.chat.conftest import access_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_requests_are_401(api_client):
    assert api_client.get("/api/conversations/").status_code == 401
    assert api_client.get("/api/me/memory/").status_code == 401


def test_create_and_list_conversations(auth_client, user, django_assert_max_num_queries):
    created = auth_client.post("/api/conversations/", {"title": "Weekend plans"}, format="json")
    assert created.status_code == 201
    assert created.json()["title"] == "Weekend plans" and created.json()["platform"] == "api"
    for index in range(5):
        conversation_create(user=user, title=f"c{index}", platform=Platform.WEB)
    conversation_create(user=UserFactory(), title="someone else's", platform=Platform.WEB)

    with django_assert_max_num_queries(4):
        listed = auth_client.get("/api/conversations/")

    body = listed.json()
    assert body["count"] == 6
    assert "someone else's" not in [c["title"] for c in body["results"]]


def test_another_users_conversation_is_404_everywhere(auth_client, ivan):
    other = UserFactory()
    theirs = chat_reply(user=other, text="secret diary", platform=Platform.WEB)
    cid = theirs.conversation.pk

    assert auth_client.get(f"/api/conversations/{cid}/").status_code == 404
    assert auth_client.delete(f"/api/conversations/{cid}/").status_code == 404
    assert auth_client.get(f"/api/conversations/{cid}/messages/").status_code == 404
    response = auth_client.post(f"/api/conversations/{cid}/messages/", {"content": "hi"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    feedback = auth_client.post(f"/api/messages/{theirs.reply.pk}/feedback/", {"rating": 1}, format="json")
    assert feedback.status_code == 404
    assert Message.objects.filter(conversation_id=cid).count() == 2
    assert auth_client.get("/api/conversations/999999/").status_code == 404


def test_delete_a_conversation(auth_client, user, ivan):
    turn = chat_reply(user=user, text="forget this", platform=Platform.API)
    assert auth_client.delete(f"/api/conversations/{turn.conversation.pk}/").status_code == 204
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_post_a_message_returns_the_turn(auth_client, user, ivan):
    conversation = conversation_create(user=user, platform=Platform.API)

    response = auth_client.post(
        f"/api/conversations/{conversation.pk}/messages/", {"content": "hi from the API"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user_message"]["content"] == "hi from the API" and body["user_message"]["platform"] == "api"
    assert body["reply"]["role"] == "assistant"
    assert body["reply"]["content"] == "Ivan here. You said: hi from the API"


def test_rest_continues_a_web_conversation_with_its_context(auth_client, user, ivan, fake_llm):
    web_turn = chat_reply(user=user, text="I live in Kazan", platform=Platform.WEB)

    auth_client.post(
        f"/api/conversations/{web_turn.conversation.pk}/messages/", {"content": "Where do I live?"}, format="json"
    )

    sent = [m["content"] for m in fake_llm.last.messages]
    assert "I live in Kazan" in sent and sent[-1] == "Where do I live?"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"content": ""}, "invalid"),
        ({"content": "x" * 4001}, "invalid"),
        ({}, "invalid"),
        ({"content": None}, "invalid"),
    ],
)
def test_bad_message_bodies_are_400(auth_client, user, payload, code):
    conversation = conversation_create(user=user, platform=Platform.API)
    response = auth_client.post(f"/api/conversations/{conversation.pk}/messages/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code and "content" in response.json()["fields"]
    assert not Message.objects.exists()


def test_malformed_json_is_400(auth_client, user):
    conversation = conversation_create(user=user, platform=Platform.API)
    response = auth_client.post(
        f"/api/conversations/{conversation.pk}/messages/", data="{oops", content_type="application/json"
    )
    assert response.status_code == 400


def test_llm_failure_is_503_and_the_message_is_kept(auth_client, user, ivan):
    conversation = conversation_create(user=user, platform=Platform.API)
    response = auth_client.post(
        f"/api/conversations/{conversation.pk}/messages/", {"content": "x [[fail]]"}, format="json"
    )
    assert response.status_code == 503
    assert response.json()["code"] == "llm_unavailable"
    assert list(Message.objects.values_list("role", flat=True)) == [Role.USER]


def test_flood_is_429(auth_client, user, ivan, settings):
    settings.CHAT_RATE_LIMIT = 1
    conversation = conversation_create(user=user, platform=Platform.API)
    url = f"/api/conversations/{conversation.pk}/messages/"
    assert auth_client.post(url, {"content": "one"}, format="json").status_code == 201
    response = auth_client.post(url, {"content": "two"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert set(response.json()) == {"detail", "code", "fields"}
    assert response.json()["fields"]["retry_after_s"] >= 1


def test_messages_are_paginated_oldest_first_in_fixed_queries(auth_client, user, ivan, django_assert_max_num_queries):
    first = chat_reply(user=user, text="first", platform=Platform.API)
    for index in range(4):
        chat_reply(user=user, text=f"message {index}", platform=Platform.API, conversation=first.conversation)
    url = f"/api/conversations/{first.conversation.pk}/messages/?page_size=4"

    with django_assert_max_num_queries(5):
        page = auth_client.get(url).json()

    assert page["count"] == 10
    assert [m["content"] for m in page["results"]][:2] == ["first", "Ivan here. You said: first"]
    assert page["next"] is not None
    last = auth_client.get(url + "&page=3").json()
    assert [m["content"] for m in last["results"]] == ["message 3", "Ivan here. You said: message 3"]


def test_feedback_on_a_reply(auth_client, user, ivan):
    turn = chat_reply(user=user, text="rate me", platform=Platform.API)

    response = auth_client.post(
        f"/api/messages/{turn.reply.pk}/feedback/", {"rating": 1, "correction": "Nice."}, format="json"
    )

    assert response.status_code == 200 and response.json()["rating"] == 1
    bad = auth_client.post(f"/api/messages/{turn.reply.pk}/feedback/", {"rating": 5}, format="json")
    assert bad.status_code == 400 and "rating" in bad.json()["fields"]
    own = auth_client.post(f"/api/messages/{turn.user_message.pk}/feedback/", {"rating": 1}, format="json")
    assert own.status_code == 400


def test_memory_lists_and_deletes_facts(auth_client, user, ivan):
    turn = chat_reply(user=user, text="hello", platform=Platform.API)
    old = MemoryFact.objects.create(
        user=user, key="city", value="Kazan", text="lives in Kazan", source_message=turn.user_message
    )
    other = MemoryFact.objects.create(user=UserFactory(), key="city", value="Omsk", text="lives in Omsk")

    body = auth_client.get("/api/me/memory/").json()

    assert [fact["text"] for fact in body["facts"]] == ["lives in Kazan"]
    assert body["facts"][0]["source_message"] == turn.user_message.pk
    assert auth_client.delete(f"/api/me/memory/{other.pk}/").status_code == 404
    assert auth_client.delete(f"/api/me/memory/{old.pk}/").status_code == 204
    assert auth_client.get("/api/me/memory/").json()["facts"] == []
    MemoryFact.objects.create(user=user, key="job", value="X", text="works at X")
    assert auth_client.delete("/api/me/memory/").status_code == 204
    assert not MemoryFact.objects.filter(user=user).exists()
    assert MemoryFact.objects.filter(pk=other.pk).exists()


async def test_sse_streams_tokens_then_done(user, ivan):
    from asgiref.sync import sync_to_async

    conversation = await sync_to_async(conversation_create)(user=user, platform=Platform.API)
    token = await sync_to_async(access_token)(user)
    client = AsyncClient()

    response = await client.post(
        f"/api/conversations/{conversation.pk}/messages/",
        data={"content": "stream please"},
        content_type="application/json",
        headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    body = "".join(
        [chunk.decode() if isinstance(chunk, bytes) else chunk async for chunk in response.streaming_content]
    )
    events = [block.split("\n", 1) for block in body.strip().split("\n\n")]
    names = [head.removeprefix("event: ") for head, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"}
    deltas = [json.loads(data.removeprefix("data: "))["delta"] for head, data in events[:-1]]
    assert "".join(deltas) == "Ivan here. You said: stream please"
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert done["reply"]["content"] == "Ivan here. You said: stream please"
    assert await sync_to_async(Message.objects.filter(conversation=conversation).count)() == 2


async def test_sse_reports_llm_failure_as_an_error_event(user, ivan):
    from asgiref.sync import sync_to_async

    conversation = await sync_to_async(conversation_create)(user=user, platform=Platform.API)
    token = await sync_to_async(access_token)(user)

    response = await AsyncClient().post(
        f"/api/conversations/{conversation.pk}/messages/",
        data={"content": "[[fail]]"},
        content_type="application/json",
        headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"},
    )

    body = "".join([chunk.decode() async for chunk in response.streaming_content])
    assert body.startswith("event: error\n")
    assert json.loads(body.split("data: ", 1)[1])["code"] == "llm_unavailable"


def test_sse_request_with_bad_input_is_400(user):
    conversation = conversation_create(user=user, platform=Platform.API)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"content": ""},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 400
    assert response.content.decode().startswith("event: error")


def test_rename_a_conversation(auth_client, user):
    conversation = conversation_create(user=user, platform=Platform.WEB)
    response = auth_client.patch(f"/api/conversations/{conversation.pk}/", {"title": "Trip to Kazan"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "Trip to Kazan"
    too_long = auth_client.patch(f"/api/conversations/{conversation.pk}/", {"title": "x" * 121}, format="json")
    assert too_long.status_code == 400 and "title" in too_long.json()["fields"]
    theirs = conversation_create(user=UserFactory(), platform=Platform.WEB)
    assert (
        auth_client.patch(f"/api/conversations/{theirs.pk}/", {"title": "mine now"}, format="json").status_code == 404
    )
