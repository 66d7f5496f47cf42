"""Every factory makes a row the model itself accepts (full_clean), linked as its name says."""

from __future__ import annotations

import pytest

from chat.models import Role
from tests import factories

pytestmark = pytest.mark.django_db

ALL = [
    factories.UserFactory,
    factories.ConversationFactory,
    factories.MessageFactory,
    factories.MemoryFactFactory,
    factories.PersonaFactory,
    factories.IntegrationFactory,
    factories.TelegramAccountFactory,
    factories.PushSubscriptionFactory,
]


@pytest.mark.parametrize("factory", ALL, ids=lambda factory: factory.__name__)
def test_each_factory_makes_two_distinct_valid_rows(factory):
    first, second = factory(), factory()
    first.full_clean()
    second.full_clean()
    assert first.pk != second.pk
    assert factory._meta.model.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_a_reply_belongs_to_the_conversation_and_platform_given():
    conversation = factories.ConversationFactory(platform="telegram")
    reply = factories.MessageFactory(conversation=conversation, role=Role.ASSISTANT)
    assert (reply.conversation.user, reply.platform) == (conversation.user, "telegram")


def test_a_telegram_account_is_linked_to_its_user():
    account = factories.TelegramAccountFactory()
    assert account.is_linked and account.user.telegram_account == account
    assert account.chat_id == account.telegram_user_id
