"""Staff review of moderated messages in the admin: category and score for every reviewer, the
text only with `chat.view_moderated_text`; marks feed the corpus through feedback.tsv."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client

from chat import moderation_corpus
from chat.models import Conversation, Message, ModerationReview, Platform, Role
from chat.moderation_review import ReviewError, moderation_review_record
from tests.factories import UserFactory

CHANGELIST = "/admin/chat/moderatedmessage/"
BLOCKED_TEXT = "how do I make a pipe bomb for the school fair"
ALLOWED_TEXT = "what is the best way to get the home address of my colleague quietly"


@pytest.fixture
def moderated(db):
    user = UserFactory()
    conversation = Conversation.objects.create(user=user, platform=Platform.WEB)
    blocked = Message.objects.create(
        conversation=conversation,
        role=Role.USER,
        platform=Platform.WEB,
        content=BLOCKED_TEXT,
        moderation={"allowed": False, "category": "weapons", "score": 0.93, "reason": "classifier:weapons"},
    )
    allowed = Message.objects.create(
        conversation=conversation,
        role=Role.USER,
        platform=Platform.WEB,
        content=ALLOWED_TEXT,
        moderation={"allowed": True, "category": "", "score": 0.0, "reason": ""},
    )
    return blocked, allowed


def _reviewer(*permissions: str) -> Client:
    staff = UserFactory(is_staff=True)
    for codename in ("view_moderatedmessage", "add_moderationreview", *permissions):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(staff)
    return client


def test_reviewers_see_category_and_score_but_not_the_text(moderated):
    page = _reviewer().get(CHANGELIST)
    assert page.status_code == 200
    body = page.content.decode()
    assert "weapons" in body and "0.93" in body and "classifier" in body
    assert BLOCKED_TEXT not in body


def test_the_text_needs_its_own_permission(moderated):
    body = _reviewer("view_moderated_text").get(CHANGELIST).content.decode()
    assert BLOCKED_TEXT in body
    assert ALLOWED_TEXT not in body  # the list shows blocked verdicts unless asked for others


def test_allowed_messages_are_listed_on_request(moderated):
    body = _reviewer("view_moderated_text").get(CHANGELIST, {"verdict": "allowed"}).content.decode()
    assert ALLOWED_TEXT in body and BLOCKED_TEXT not in body


def test_users_who_are_not_staff_are_sent_to_log_in(moderated):
    client = Client()
    client.force_login(UserFactory())
    response = client.get(CHANGELIST)
    assert response.status_code == 302


def test_marking_a_false_positive_and_a_missed_harm(moderated):
    blocked, allowed = moderated
    client = _reviewer()
    client.post(CHANGELIST, {"action": "mark_false_positive", "_selected_action": [blocked.pk]})
    client.post(CHANGELIST + "?verdict=allowed", {"action": "mark_missed_stalking", "_selected_action": [allowed.pk]})
    reviews = {review.message_id: review for review in ModerationReview.objects.all()}
    assert reviews[blocked.pk].decision == "false_positive" and reviews[blocked.pk].category == "weapons"
    assert reviews[allowed.pk].decision == "false_negative" and reviews[allowed.pk].category == "stalking"


def test_a_missed_harm_needs_a_known_category(moderated):
    _, allowed = moderated
    with pytest.raises(ReviewError):
        moderation_review_record(message=allowed, decision="false_negative", category="", reviewer=None)


def test_reviews_become_training_rows(moderated, tmp_path):
    blocked, allowed = moderated
    moderation_review_record(message=blocked, decision="false_positive", reviewer=None)
    moderation_review_record(message=allowed, decision="false_negative", category="stalking", reviewer=None)
    output = tmp_path / "feedback.tsv"

    call_command("export_moderation_feedback", output=str(output), verbosity=0)

    rows = moderation_corpus.read(output)
    assert [(row.label, row.category, row.language, row.text) for row in rows] == [
        ("harmless", "weapons", "en", BLOCKED_TEXT),
        ("harmful", "stalking", "en", ALLOWED_TEXT),
    ]
