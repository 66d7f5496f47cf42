"""factory-boy factories for the main models of every app: a test states only what it is about."""

from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, MemoryFact, Message, Platform, Role
from integrations.models import Integration, Provider
from notifications.models import PushSubscription
from personality.models import Persona
from telegram_bot.models import TelegramAccount


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Faker("first_name")
    language = "en"

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "correct-horse-battery-staple-42")
        if create:
            self.save()


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Conversation {n}")
    platform = Platform.WEB


class MessageFactory(factory.django.DjangoModelFactory):
    """A user's message; `role=Role.ASSISTANT` for one of Ivan's replies."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    role = Role.USER
    content = factory.Sequence(lambda n: f"Message number {n}")
    platform = factory.SelfAttribute("conversation.platform")


class MemoryFactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemoryFact

    user = factory.SubFactory(UserFactory)
    key = factory.Sequence(lambda n: f"fact_{n}")
    value = "Masha"
    text = factory.LazyAttribute(lambda fact: f"The user's {fact.key.replace('_', ' ')} is {fact.value}.")
    language = "en"


class PersonaFactory(factory.django.DjangoModelFactory):
    """A bare persona (no traits, facts or versions); Ivan himself comes from `load_persona`."""

    class Meta:
        model = Persona
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"persona-{n}")
    name = factory.Faker("first_name")
    short_bio = "A software engineer who answers questions about his work."
    languages = factory.LazyFunction(lambda: ["en", "ru"])


class IntegrationFactory(factory.django.DjangoModelFactory):
    """A connected provider, without tokens (tests that sync store them through the services)."""

    class Meta:
        model = Integration

    user = factory.SubFactory(UserFactory)
    provider = Provider.GITHUB
    account_label = factory.Sequence(lambda n: f"octocat{n}")


class TelegramAccountFactory(factory.django.DjangoModelFactory):
    """A Telegram user linked to a DigitalMe account (`user=None` for an unlinked one)."""

    class Meta:
        model = TelegramAccount

    telegram_user_id = factory.Sequence(lambda n: 7_000_000 + n)
    chat_id = factory.SelfAttribute("telegram_user_id")
    username = factory.Sequence(lambda n: f"tg_user{n}")
    first_name = factory.Faker("first_name")
    language_code = "en"
    user = factory.SubFactory(UserFactory)
    linked_at = factory.LazyFunction(timezone.now)


class PushSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PushSubscription

    user = factory.SubFactory(UserFactory)
    endpoint = factory.Sequence(lambda n: f"https://push.example.test/send/{n}")
    p256dh = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    auth = "tBHItJI5svbpez7KI4CCXg"
    label = "Firefox on Linux"
