"""Memory upkeep: storing facts, the rolling summary, and forgetting on request.

After each exchange `remember()` stores the facts stated plainly in the user's message (rules,
microseconds) and queues the LLM-assisted extraction and the summary in Celery only when they
have work to do. The tasks (chat/tasks.py) call `memory_summarize` / `memory_extract_with_llm`.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.db.models.functions import Coalesce

from chat import llm, rows
from chat.errors import NotFound
from chat.memory.extraction import (
    LLM_EXTRACTION_PROMPT,
    ExtractedFact,
    extract_facts,
    llm_extraction_enabled,
    parse_llm_facts,
)
from chat.models import MemoryFact, Message, Role, UserMemory
from chat.selectors import memory_fact_list, usable_history
from digitalme.language import detect_language

logger = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "You keep Ivan's memory of one user. Write a short third-person summary (at most 120 words) of "
    "what the user and Ivan talked about: names, plans, facts about the user, open questions. "
    "Merge it with the previous summary. Output only the summary."
)
SUMMARY_MAX_TOKENS = 220


def remember(*, user, user_message: Message, language: str, pending_chars: int | None = None) -> None:
    """After an exchange: store the facts stated in the message now, queue the LLM work after commit.
    `pending_chars`: the summary trigger's count when the caller read it already (the chat turn
    reads it with its finishing write), else it is read here."""
    for fact in extract_facts(user_message.content):
        memory_fact_record(user=user, fact=fact, source_message=user_message, language=language)
    if llm_extraction_enabled():
        _enqueue("memory_extract_llm", user_message.pk)
    if summary_due(user=user, pending_chars=pending_chars):
        _enqueue("memory_summarize", user.pk)


def _enqueue(task_name: str, *args: Any) -> None:
    """Queue a memory task after commit; a broker outage must not fail the chat turn."""
    from chat import tasks  # tasks import this module: the task objects are looked up when sending

    def send() -> None:
        try:
            getattr(tasks, task_name).delay(*args)
        except Exception:
            logger.warning("could not queue a memory task", extra={"task": task_name}, exc_info=True)

    transaction.on_commit(send)


def memory_fact_record(
    *, user, fact: ExtractedFact, source_message: Message | None = None, language: str = ""
) -> MemoryFact:
    """Store a fact about the user. The same value again is not duplicated; a different value for
    the same key replaces the current fact, which stays as history (`replaced_by`)."""
    with transaction.atomic():
        current = (
            MemoryFact.objects.select_for_update().filter(user=user, key=fact.key, replaced_by__isnull=True).first()
        )
        if current is not None and current.value.casefold() == fact.value.casefold():
            return current
        if current is not None:
            # Step aside first (a self-reference inside this transaction), so the one-current-fact-
            # per-key constraint holds while the new fact is inserted; then point at the new one.
            MemoryFact.objects.filter(pk=current.pk).update(replaced_by=current.pk)
        new = MemoryFact(
            user=user,
            key=fact.key[:64],
            value=fact.value[:300],
            text=fact.text[:400],
            language=language,
            source_message=source_message,
        )
        new.full_clean(validate_constraints=False)  # the database's unique constraint guards the key
        new.save()
        if current is not None:
            MemoryFact.objects.filter(pk=current.pk).update(replaced_by=new.pk)
    return new


def _pending(user) -> QuerySet[Message]:
    """The user's messages not folded into the summary yet (one query with the summary's mark)."""
    mark = UserMemory.objects.filter(user=user).values("summarized_until_id")[:1]
    return Message.objects.filter(conversation__user=user, id__gt=Coalesce(Subquery(mark), 0)).exclude(content="")


def summary_due(*, user, pending_chars: int | None = None) -> bool:
    """True when the not-yet-summarised messages probably pass the threshold: ~4 characters per
    token (`pending_chars`, or one statement to count them); the task counts for real (and does
    nothing when it was wrong)."""
    if pending_chars is None:
        pending_chars = rows.pending_chars(user_id=user.pk)
    return pending_chars / 4 >= settings.CHAT_SUMMARY_THRESHOLD_TOKENS


def _messages_to_summarise(*, user) -> list[Message]:
    if not summary_due(user=user):
        return []
    keep = settings.CHAT_SUMMARY_KEEP_RECENT
    messages = list(_pending(user).order_by("id"))
    older = usable_history(messages[:-keep] if keep else messages)
    if llm.count_tokens(text="\n".join(m.content for m in older)) < settings.CHAT_SUMMARY_THRESHOLD_TOKENS:
        return []
    return older


def memory_summarize(*, user_id: int) -> bool:
    """Fold the user's older messages into the rolling summary (Celery). False when not due."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return False
    older = _messages_to_summarise(user=user)
    if not older:
        return False
    memory, _ = UserMemory.objects.get_or_create(user=user)
    transcript = "\n".join(f"{'User' if m.role == Role.USER else 'Ivan'}: {m.content}" for m in older)
    request = [
        {"role": "system", "content": SUMMARY_PROMPT},
        {"role": "user", "content": f"Previous summary: {memory.summary or '(none)'}\n\nConversation:\n{transcript}"},
    ]
    summary = async_to_sync(llm.complete)(request, max_tokens=SUMMARY_MAX_TOKENS)
    with transaction.atomic():
        memory = UserMemory.objects.select_for_update().get(pk=memory.pk)
        memory.summary = summary.strip()[:4000]
        memory.summarized_until = older[-1]
        memory.save()
    return True


def memory_extract_with_llm(*, message_id: int) -> list[MemoryFact]:
    """LLM-assisted extraction for one user message (Celery; when a capable model is configured)."""
    message = Message.objects.select_related("conversation__user").filter(pk=message_id, role=Role.USER).first()
    if message is None or message.moderation.get("allowed") is False:
        return []
    request = [
        {"role": "system", "content": LLM_EXTRACTION_PROMPT},
        {"role": "user", "content": message.content},
    ]
    raw = async_to_sync(llm.complete)(request, max_tokens=300)
    user = message.conversation.user
    language = detect_language(message.content, default=getattr(user, "language", "en"))
    return [
        memory_fact_record(user=user, fact=fact, source_message=message, language=language)
        for fact in parse_llm_facts(raw)
    ]


def memory_list(*, user) -> list[MemoryFact]:
    """What Ivan currently remembers about the user (newest first)."""
    return list(memory_fact_list(user=user))


def memory_fact_delete(*, user, fact_id: int | str) -> None:
    try:
        fact = MemoryFact.objects.get(user=user, pk=int(fact_id))
    except (MemoryFact.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such memory item.") from None
    fact.delete()


def memory_delete_all(*, user) -> int:
    """Forget everything Ivan learned about the user (facts, their history and the summary).

    Returns how many current facts were forgotten.
    """
    with transaction.atomic():
        current = MemoryFact.objects.filter(user=user, replaced_by__isnull=True).count()
        MemoryFact.objects.filter(user=user).delete()
        UserMemory.objects.filter(user=user).delete()
    return current
