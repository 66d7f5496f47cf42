"""Staff review of moderation verdicts: record a false positive or a missed harm, and turn the
reviews into corpus rows for the next training run. (Kept apart from chat/services.py, the chat
turn's module.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction

from chat.models import Message, ModerationReview
from chat.moderation_corpus import HARMFUL, HARMLESS, Sample
from chat.moderation_model import HARM_CATEGORIES
from digitalme.errors import DomainError
from digitalme.language import detect_language


class ReviewError(DomainError):
    status_code = 400
    code = "invalid_review"


def moderation_review_record(*, message: Message, decision: str, category: str = "", reviewer: Any) -> ModerationReview:
    """One review per message (a second replaces the first). A missed harm names one of the
    classifier's harms; a false positive keeps the category the verdict blocked it as."""
    if decision not in ModerationReview.Decision.values:
        raise ReviewError(f"decision must be one of {', '.join(ModerationReview.Decision.values)}")
    if decision == ModerationReview.Decision.FALSE_NEGATIVE and category not in HARM_CATEGORIES:
        raise ReviewError(f"a missed harm needs a category: one of {', '.join(HARM_CATEGORIES)}")
    if decision == ModerationReview.Decision.FALSE_POSITIVE:
        category = str(message.moderation.get("category") or "general")
    with transaction.atomic():
        review, _ = ModerationReview.objects.update_or_create(
            message=message, defaults={"decision": decision, "category": category, "reviewer": reviewer}
        )
    return review


def moderation_feedback_samples() -> Iterator[Sample]:
    """Every review as a corpus row: false positives as harmless, missed harms as harmful."""
    reviews = ModerationReview.objects.select_related("message").order_by("id")
    for review in reviews.iterator():
        text = review.message.content
        if not text.strip():
            continue
        label = HARMLESS if review.decision == ModerationReview.Decision.FALSE_POSITIVE else HARMFUL
        yield Sample(label, review.category, detect_language(text), text, f"review.{review.pk}")
