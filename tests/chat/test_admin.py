"""The chat's user data in the admin: visible to staff with the view permission, never editable."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from chat.models import Role
from tests.factories import ConversationFactory, MemoryFactFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _staff_client(*codenames: str) -> Client:
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="chat", codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def _conversation_with_messages(count: int = 2):
    conversation = ConversationFactory()
    for index in range(count):
        MessageFactory(conversation=conversation, role=Role.USER if index % 2 == 0 else Role.ASSISTANT)
    return conversation


def test_conversation_list_shows_owner_and_message_count_at_a_fixed_query_cost(
    admin_client, django_assert_max_num_queries
):
    first = _conversation_with_messages(3)
    with django_assert_max_num_queries(8) as few:
        response = admin_client.get("/admin/chat/conversation/")
    assert response.status_code == 200
    html = response.content.decode()
    assert first.user.email in html
    assert f"?conversation__id__exact={first.pk}" in html
    for _ in range(10):
        _conversation_with_messages(2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get("/admin/chat/conversation/").status_code == 200


def test_a_conversation_can_be_viewed_but_not_changed_added_or_deleted(admin_client):
    conversation = _conversation_with_messages()
    page = admin_client.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    refused = [
        admin_client.post(f"/admin/chat/conversation/{conversation.pk}/change/", {"title": "edited"}).status_code,
        admin_client.get("/admin/chat/conversation/add/").status_code,
        admin_client.post(f"/admin/chat/conversation/{conversation.pk}/delete/", {"post": "yes"}).status_code,
    ]
    assert refused == [403, 403, 403]
    conversation.refresh_from_db()
    assert conversation.title != "edited"


def test_messages_of_one_conversation_are_listed_with_their_text(admin_client):
    mine = _conversation_with_messages(2)
    other = MessageFactory(content="someone else's words")
    response = admin_client.get(f"/admin/chat/message/?conversation__id__exact={mine.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    for message in mine.messages.all():
        assert message.content in html
    assert other.content not in html


def test_staff_who_may_see_conversations_may_not_read_messages_without_the_message_permission():
    conversation = _conversation_with_messages()
    client = _staff_client("view_conversation")
    assert client.get("/admin/chat/conversation/").status_code == 200
    assert client.get(f"/admin/chat/message/?conversation__id__exact={conversation.pk}").status_code == 403
    assert _staff_client("view_message").get("/admin/chat/message/").status_code == 200


def test_memory_facts_are_listed_and_filtered_by_current_and_never_editable(admin_client):
    old = MemoryFactFactory(key="employer", value="Yandex", text="Works at Yandex.")
    new = MemoryFactFactory(user=old.user, key="employer_now", value="JetBrains", text="Works at JetBrains.")
    old.replaced_by = new
    old.save(update_fields=["replaced_by"])
    current = admin_client.get("/admin/chat/memoryfact/?current=yes").content.decode()
    assert "Works at JetBrains." in current and "Works at Yandex." not in current
    replaced = admin_client.get("/admin/chat/memoryfact/?current=no").content.decode()
    assert "Works at Yandex." in replaced and "Works at JetBrains." not in replaced
    assert admin_client.post(f"/admin/chat/memoryfact/{new.pk}/change/", {"value": "x"}).status_code == 403
    assert admin_client.post(f"/admin/chat/memoryfact/{new.pk}/delete/", {"post": "yes"}).status_code == 403
