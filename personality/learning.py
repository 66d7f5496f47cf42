"""Learning from feedback: rated replies become proposals an admin applies (or, by setting, auto-applied).

- A reply rated +1 (no correction) → a candidate *style example* (the question and his answer).
- A correction on a reply → a candidate *fact* (new, unpinned, source "learned").
- Consistent negative feedback on how a trait shows (at least MIN_SIGNAL −1 replies showing the
  same signal, e.g. long replies rated down → verbosity too high) → a *trait change* of one
  STEP, clamped inside the trait's bounds; none when the trait already sits at that bound.
Each proposal keeps its provenance (message ids, ratings, corrections). Learning never edits or
removes a fact (so pinned facts are untouched) and never sets a trait outside its bounds.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.moderation import moderate_input, moderate_output
from digitalme.language import detect_language
from personality.errors import EvalQueueUnavailableError, PersonaError
from personality.evaluation.runner import eval_run_start
from personality.models import Fact, Persona, PersonaVersion, Proposal, StyleExample, Trait, VersionStatus
from personality.selectors import version_latest
from personality.services import trait_clamp, version_record

logger = logging.getLogger(__name__)

LOOKBACK_DAYS = 30
MIN_SIGNAL = 3
STEP = 0.05
MAX_EXAMPLE_CHARS = 800
_EMOJI_OR_LAUGH = re.compile(r"[\U0001F300-\U0001FAFF]|\)\)\)|\bhaha\b|\bхаха\b|\blol\b", re.IGNORECASE)
_FORMAL_RU = re.compile(r"\b(вы|вас|вам|ваш\w*)\b", re.IGNORECASE)


class LearningError(PersonaError):
    code = "learning_error"


def _moderation_block(*texts: str) -> str | None:
    """Why moderation refuses this user text as prompt text (injection, abuse, a secret or another
    person's data), or None. Learned text ends up in every user's prompt and in the public card."""
    for text in texts:
        for verdict in (moderate_input(text), moderate_output(text, final=False)):
            if not verdict.allowed:
                return verdict.category or "blocked"
    return None


def _words(text: str) -> int:
    return len(text.split())


# (trait, direction, what it means, predicate(reply text, correction)) — signals in −1 rated replies.
TRAIT_SIGNALS: list[tuple[str, int, str, Callable[[str, str], bool]]] = [
    (
        "verbosity",
        -1,
        "long replies were rated down",
        lambda reply, correction: _words(reply) > 80 or (bool(correction) and _words(correction) < 0.6 * _words(reply)),
    ),
    (
        "verbosity",
        +1,
        "very short replies were rated down",
        lambda reply, correction: _words(reply) < 6 and _words(correction) > 12,
    ),
    (
        "humor",
        -1,
        "replies with jokes or emoji were rated down",
        lambda reply, correction: bool(_EMOJI_OR_LAUGH.search(reply)),
    ),
    (
        "formality",
        -1,
        "replies using «вы» were rated down",
        lambda reply, correction: len(_FORMAL_RU.findall(reply)) >= 2,
    ),
]


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def _rated_replies(*, since) -> list[dict]:
    """Ivan's rated replies with the question each answered (read from the chat app's messages)."""
    from chat.models import Message, Role

    replies: list[dict[str, Any]] = [
        dict(row)
        for row in Message.objects.filter(role=Role.ASSISTANT, rating__isnull=False, created__gte=since)
        .exclude(content="")
        .order_by("id")
        .values("id", "conversation_id", "content", "rating", "correction", "created", "conversation__persona")
    ]
    questions: dict[int, str] = {}
    if replies:
        candidates = Message.objects.filter(
            role=Role.USER, conversation_id__in={r["conversation_id"] for r in replies}
        ).values("id", "conversation_id", "content")
        by_conversation: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for row in candidates.order_by("id"):
            by_conversation[row["conversation_id"]].append((row["id"], row["content"]))
        for reply in replies:
            earlier = [content for mid, content in by_conversation[reply["conversation_id"]] if mid < reply["id"]]
            questions[reply["id"]] = earlier[-1] if earlier else ""
    for reply in replies:
        reply["question"] = questions.get(reply["id"], "")
    return replies


def _create(
    persona: Persona, *, kind: str, payload: dict, provenance: dict, reason: str, fingerprint: str
) -> Proposal | None:
    if Proposal.objects.filter(persona=persona, fingerprint=fingerprint).exists():
        return None
    try:
        with transaction.atomic():
            return Proposal.objects.create(
                persona=persona,
                kind=kind,
                payload=payload,
                provenance=provenance,
                reason=reason,
                fingerprint=fingerprint,
            )
    except IntegrityError:  # a concurrent run created it
        return None


def learning_run(*, slug: str = "ivan", now=None) -> dict[str, int]:
    """Turn recent feedback into proposals; auto-apply them when PERSONA_LEARNING_AUTO_APPLY is set."""
    persona = Persona.objects.get(slug=slug)
    now = now or timezone.now()
    replies = [
        r for r in _rated_replies(since=now - timedelta(days=LOOKBACK_DAYS)) if r["conversation__persona"] == slug
    ]
    created: list[Proposal] = []
    known_examples = set(StyleExample.objects.filter(persona=persona).values_list("user_message", flat=True))
    known_facts = {text.strip().lower() for text in Fact.objects.filter(persona=persona).values_list("text", flat=True)}

    for reply in replies:
        provenance = {
            "messages": [reply["id"]],
            "ratings": {str(reply["id"]): reply["rating"]},
            "question": reply["question"],
            "reply": reply["content"],
        }
        if reply["rating"] == 1 and not reply["correction"] and reply["question"]:
            if reply["question"] in known_examples or len(reply["content"]) > MAX_EXAMPLE_CHARS:
                continue
            if blocked := _moderation_block(reply["question"], reply["content"]):
                logger.info(
                    "learning skipped a rated reply moderation blocks",
                    extra={"message_id": reply["id"], "category": blocked},
                )
                continue
            proposal = _create(
                persona,
                kind=Proposal.Kind.STYLE_EXAMPLE,
                payload={
                    "user": reply["question"],
                    "answer": reply["content"],
                    "language": detect_language(reply["question"] + " " + reply["content"]),
                },
                provenance=provenance,
                reason="A user rated this reply +1.",
                fingerprint=_fingerprint("example", reply["id"]),
            )
        elif reply["correction"]:
            if reply["correction"].strip().lower() in known_facts:
                continue
            if blocked := _moderation_block(reply["correction"]):
                logger.info(
                    "learning skipped a correction moderation blocks",
                    extra={"message_id": reply["id"], "category": blocked},
                )
                continue
            proposal = _create(
                persona,
                kind=Proposal.Kind.FACT,
                payload={"text": reply["correction"].strip(), "tags": ["learned"], "pinned": False},
                provenance={**provenance, "correction": reply["correction"]},
                reason=f"A user corrected this reply (rated {reply['rating']:+d}).",
                fingerprint=_fingerprint("fact", reply["id"]),
            )
        else:
            continue
        if proposal:
            created.append(proposal)

    created += _trait_proposals(persona, [r for r in replies if r["rating"] == -1])
    applied = 0
    if settings.PERSONA_LEARNING_AUTO_APPLY:
        for proposal in created:
            try:
                proposal_apply(proposal=proposal, author=None)
                applied += 1
            except LearningError as exc:
                logger.warning("learning proposal not applied", extra={"proposal": proposal.pk, "reason": exc.detail})
        if applied:
            _evaluate_learned_draft(persona)
    logger.info("learning run", extra={"persona": slug, "feedback": len(replies), "proposals": len(created)})
    return {"feedback": len(replies), "proposals": len(created), "applied": applied}


def _evaluate_learned_draft(persona: Persona) -> None:
    """Learning never publishes: it queues the personality test of the draft it made, so the verdict
    is ready when someone publishes it (the publish rule compares it with the live version)."""
    latest = version_latest(persona=persona)
    if latest is None or latest.status != VersionStatus.DRAFT:
        return
    try:
        eval_run_start(slug=persona.slug, version=latest.number)
    except EvalQueueUnavailableError:
        logger.warning("learned draft not evaluated: the job queue is down", extra={"version": latest.number})


def _trait_proposals(persona: Persona, negatives: list[dict]) -> list[Proposal]:
    traits = {trait.name: trait for trait in Trait.objects.filter(persona=persona)}
    created = []
    for name, direction, meaning, signal in TRAIT_SIGNALS:
        trait = traits.get(name)
        if trait is None:
            continue
        matching = [r for r in negatives if signal(r["content"], r["correction"] or "")]
        if len(matching) < MIN_SIGNAL:
            continue
        target = trait_clamp(trait=trait, value=trait.value + direction * STEP)
        if target == trait.value:
            continue  # already at its bound: learning may not push further
        ids = sorted(r["id"] for r in matching)
        proposal = _create(
            persona,
            kind=Proposal.Kind.TRAIT,
            payload={"name": name, "from": trait.value, "value": target},
            provenance={"messages": ids, "ratings": {str(i): -1 for i in ids}, "signal": meaning},
            reason=f"{len(matching)} replies rated −1: {meaning}.",
            fingerprint=_fingerprint("trait", name, direction, *ids),
        )
        if proposal:
            created.append(proposal)
    return created


@transaction.atomic
def proposal_apply(*, proposal: Proposal, author: Any = None) -> PersonaVersion | None:
    """Apply a pending proposal to the working copy and record a version. Never edits facts; bounds enforced."""
    proposal = Proposal.objects.select_for_update().select_related("persona").get(pk=proposal.pk)
    if proposal.status != Proposal.Status.PENDING:
        raise LearningError(f"Proposal {proposal.pk} is already {proposal.status}.")
    persona = proposal.persona
    payload = proposal.payload
    texts = [payload.get("user", ""), payload.get("answer", "")] if proposal.kind == Proposal.Kind.STYLE_EXAMPLE else []
    if proposal.kind == Proposal.Kind.FACT:
        texts = [payload.get("text", "")]
    if blocked := _moderation_block(*(text for text in texts if text)):
        raise LearningError(
            f"Proposal {proposal.pk} is blocked by moderation ({blocked}); it can't become prompt text."
        )
    if proposal.kind == Proposal.Kind.STYLE_EXAMPLE:
        StyleExample.objects.create(
            persona=persona,
            user_message=payload["user"],
            answer=payload["answer"],
            language=payload.get("language", "en"),
            source="learned",
            position=StyleExample.objects.filter(persona=persona).count(),
        )
        summary = "learned a style example"
    elif proposal.kind == Proposal.Kind.FACT:
        if Fact.objects.filter(persona=persona, pinned=True, text__iexact=payload["text"].strip()).exists():
            raise LearningError("The proposal repeats a pinned fact; pinned facts are not changed by learning.")
        Fact.objects.create(
            persona=persona,
            text=payload["text"].strip(),
            tags=list(payload.get("tags", [])),
            pinned=False,
            source="learned",
            position=Fact.objects.filter(persona=persona).count(),
        )
        summary = "learned a fact"
    elif proposal.kind == Proposal.Kind.TRAIT:
        trait = Trait.objects.select_for_update().filter(persona=persona, name=payload["name"]).first()
        if trait is None:
            raise LearningError(f"Trait {payload['name']!r} no longer exists.")
        value = float(payload["value"])
        if not trait.min_value <= value <= trait.max_value:
            raise LearningError(
                f"Trait {trait.name!r}: {value} is outside its bounds [{trait.min_value}, {trait.max_value}]; not applied.",
                fields={f"traits.{trait.name}": ["outside bounds"]},
            )
        trait.value = value
        trait.full_clean()
        trait.save(update_fields=["value"])
        summary = f"learned: {trait.name}"
    else:
        raise LearningError(f"Unknown proposal kind {proposal.kind!r}.")
    version = version_record(persona=persona, author=author, summary=f"{summary} (proposal {proposal.pk})")
    proposal.status = Proposal.Status.APPLIED
    proposal.decided_at = timezone.now()
    proposal.decided_by = author if getattr(author, "is_authenticated", False) else None
    proposal.applied_version = version
    proposal.save(update_fields=["status", "decided_at", "decided_by", "applied_version"])
    return version


def proposal_reject(*, proposal: Proposal, author: Any = None) -> Proposal:
    if proposal.status != Proposal.Status.PENDING:
        raise LearningError(f"Proposal {proposal.pk} is already {proposal.status}.")
    proposal.status = Proposal.Status.REJECTED
    proposal.decided_at = timezone.now()
    proposal.decided_by = author if getattr(author, "is_authenticated", False) else None
    proposal.save(update_fields=["status", "decided_at", "decided_by"])
    return proposal


# --- a deleted account's text leaves the persona --------------------------------------------------

_USER_TEXT_KINDS = (Proposal.Kind.FACT, Proposal.Kind.STYLE_EXAMPLE)


def learned_text_erase(user: Any) -> None:
    """Account deletion hook: every proposal made from the user's feedback goes, and what applied
    ones added (a corrected fact, a question in a style example) leaves the working copy and every
    stored version, the live one (the public card) included."""
    from chat.models import Message, Role

    rated = set(
        Message.objects.filter(conversation__user=user, role=Role.ASSISTANT, rating__isnull=False).values_list(
            "id", flat=True
        )
    )
    if not rated:
        return
    erased = 0
    with transaction.atomic():
        for proposal in (
            Proposal.objects.select_for_update().filter(kind__in=_USER_TEXT_KINDS).select_related("persona")
        ):
            if not rated & set(proposal.provenance.get("messages", [])):
                continue
            if proposal.status == Proposal.Status.APPLIED:
                _learned_item_remove(persona=proposal.persona, kind=proposal.kind, payload=proposal.payload)
            proposal.delete()
            erased += 1
        for proposal in Proposal.objects.select_for_update().filter(kind=Proposal.Kind.TRAIT):
            messages = proposal.provenance.get("messages", [])
            if rated & set(messages):  # no text, but no trace of the account either
                kept = [m for m in messages if m not in rated]
                ratings = {k: v for k, v in proposal.provenance.get("ratings", {}).items() if int(k) not in rated}
                proposal.provenance = {**proposal.provenance, "messages": kept, "ratings": ratings}
                proposal.save(update_fields=["provenance"])
    if erased:
        logger.info("learned text of a deleted account erased", extra={"user_id": user.pk, "proposals": erased})


def _learned_item_remove(*, persona: Persona, kind: str, payload: dict) -> None:
    if kind == Proposal.Kind.FACT:
        text = payload.get("text", "").strip()
        Fact.objects.filter(persona=persona, source="learned", text=text).delete()

        def keep(item: dict) -> bool:
            return not (item.get("source") == "learned" and item.get("text") == text)

        section, diff_kind, key = "facts", "fact", text
    else:
        question, answer = payload.get("user", ""), payload.get("answer", "")
        StyleExample.objects.filter(persona=persona, source="learned", user_message=question, answer=answer).delete()

        def keep(item: dict) -> bool:
            return not (item.get("source") == "learned" and item.get("user") == question)

        section, diff_kind, key = "style_examples", "style_example", question
    for version in PersonaVersion.objects.select_for_update().filter(persona=persona):
        snapshot = dict(version.snapshot)
        items = [item for item in snapshot.get(section, []) if keep(item)]
        diff = [change for change in version.diff if not (change.get("kind") == diff_kind and change.get("key") == key)]
        if len(items) != len(snapshot.get(section, [])) or len(diff) != len(version.diff):
            snapshot[section] = items
            version.snapshot = snapshot
            version.diff = diff
            version.save(update_fields=["snapshot", "diff"])
