"""Persona drift: how Ivan actually behaves in live chats, per platform and per day.

A background job (`personality.drift_sample`, every PERSONA_DRIFT_INTERVAL_MIN minutes from beat)
scores a sample of new replies — a reply is taken when a hash of its id falls under
PERSONA_DRIFT_SAMPLE_RATE, so every platform is sampled at the same rate — with the full offline
verdict (verdict.py), against the persona version that was live when the reply was written.
Only the scores, the label, the style markers and the reply's id are stored (`ReplySample`); the
text of users' messages never leaves their conversation.

`drift_series` feeds the persona page (staff) and /ops/; `drift_metrics` the Prometheus gauges
the drift alert compares: the in-character share of the last day per platform against the live
version's baseline (its latest evaluation run).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from chat.models import Message, Role
from personality.evaluation.verdict import PersonaFacts, reply_verdict
from personality.models import EvalRun, Persona, PersonaVersion, ReplySample, VersionStatus
from personality.selectors import profile_from_snapshot

logger = logging.getLogger(__name__)

MARKERS = ("words", "asks_back", "exclamations", "humour", "formal")


def sampled(message_id: int, rate: float) -> bool:
    """Deterministic sampling: the same reply is always in or out, whichever process asks."""
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(f"drift:{message_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _version_at(versions: list[PersonaVersion], moment) -> PersonaVersion | None:
    """The version that was live at `moment` (versions sorted by published_at)."""
    live = None
    for version in versions:
        if version.published_at and version.published_at <= moment:
            live = version
    return live


def drift_sample_run(*, slug: str = "ivan", limit: int | None = None) -> dict[str, int]:
    """Score the sampled replies written since the last run; returns counts per platform."""
    persona = Persona.objects.get(slug=slug)
    rate = settings.PERSONA_DRIFT_SAMPLE_RATE
    limit = limit or settings.PERSONA_DRIFT_MAX_PER_RUN
    after = ReplySample.objects.filter(persona=persona).aggregate(last=Max("message_id"))["last"] or 0
    versions = list(PersonaVersion.objects.filter(persona=persona, published_at__isnull=False).order_by("published_at"))
    facts: dict[int, tuple[PersonaFacts, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    candidates = (
        Message.objects.filter(role=Role.ASSISTANT, id__gt=after, stopped=False)
        .exclude(content="")
        .order_by("id")
        .only("id", "conversation_id", "content", "platform", "created", "model")
    )
    taken = 0
    for reply in candidates.iterator(chunk_size=200):
        if taken >= limit:
            break
        if not sampled(reply.pk, rate):
            continue
        version = _version_at(versions, reply.created)
        if version is None:
            continue
        if version.number not in facts:
            profile = profile_from_snapshot(version.snapshot, version=version.number)
            facts[version.number] = (PersonaFacts(profile), profile.name)
        question = (
            Message.objects.filter(conversation_id=reply.conversation_id, role=Role.USER, id__lt=reply.pk)
            .order_by("-id")
            .values_list("content", flat=True)
            .first()
        )
        verdict = reply_verdict(reply=reply.content, user_message=question or "", persona=facts[version.number][0])
        try:
            with transaction.atomic():
                ReplySample.objects.create(
                    persona=persona,
                    message_id=reply.pk,
                    platform=reply.platform,
                    replied_at=reply.created,
                    day=timezone.localdate(reply.created),
                    version_number=version.number,
                    model=reply.model[:120],
                    label=verdict.label,
                    in_character=verdict.in_character,
                    markers={name: verdict.markers.get(name, 0.0) for name in MARKERS},
                    checks=verdict.checks,
                )
        except IntegrityError:  # another run scored it meanwhile
            continue
        taken += 1
        counts[reply.platform] += 1
    logger.info("drift sample", extra={"persona": slug, "scored": taken})
    return dict(counts)


def drift_series(*, slug: str = "ivan", days: int = 14) -> dict[str, Any]:
    """Per platform and day: samples, in-character share, labels and mean style markers; publish days."""
    persona = Persona.objects.get(slug=slug)
    since = timezone.localdate() - timedelta(days=days - 1)
    rows: dict[tuple[str, date], list[ReplySample]] = defaultdict(list)
    for sample in ReplySample.objects.filter(persona=persona, day__gte=since).order_by("day"):
        rows[(sample.platform, sample.day)].append(sample)
    platforms: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (platform, day), group in sorted(rows.items(), key=lambda item: (item[0][0], item[0][1])):
        labels: dict[str, int] = defaultdict(int)
        for sample in group:
            labels[sample.label] += 1
        platforms[platform].append(
            {
                "day": day.isoformat(),
                "samples": len(group),
                "in_character": round(sum(s.in_character for s in group) / len(group), 4),
                "labels": dict(labels),
                "markers": {
                    name: round(sum(float(s.markers.get(name, 0.0)) for s in group) / len(group), 3) for name in MARKERS
                },
                "versions": sorted({s.version_number for s in group}),
            }
        )
    published = [
        {"version": v.number, "day": timezone.localdate(v.published_at).isoformat()}
        for v in PersonaVersion.objects.filter(persona=persona, published_at__date__gte=since).order_by("published_at")
        if v.published_at
    ]
    live = PersonaVersion.objects.filter(persona=persona, status=VersionStatus.PUBLISHED).first()
    return {
        "days": days,
        "since": since.isoformat(),
        "platforms": dict(platforms),
        "published": published,
        "live_version": live.number if live else None,
        "baseline": drift_baseline(persona=persona, live=live),
    }


def drift_baseline(*, persona: Persona, live: PersonaVersion | None) -> float | None:
    """The live version's expected in-character share: its latest finished evaluation run."""
    if live is None:
        return None
    run = (
        EvalRun.objects.filter(persona=persona, version_number=live.number, status=EvalRun.Status.DONE)
        .order_by("-finished", "-id")
        .only("share_in_character")
        .first()
    )
    return run.share_in_character if run else None


def drift_metrics(*, slug: str = "ivan", hours: int = 24) -> dict[str, Any]:
    """In-character share and sample count per platform over the last `hours`, and the baseline."""
    persona = Persona.objects.filter(slug=slug).first()
    if persona is None:
        return {"platforms": {}, "baseline": None, "live_version": None}
    since = timezone.now() - timedelta(hours=hours)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for platform, in_character in ReplySample.objects.filter(persona=persona, replied_at__gte=since).values_list(
        "platform", "in_character"
    ):
        totals[platform][0] += 1
        totals[platform][1] += int(in_character)
    live = PersonaVersion.objects.filter(persona=persona, status=VersionStatus.PUBLISHED).first()
    return {
        "platforms": {p: {"samples": n, "in_character": ok / n} for p, (n, ok) in totals.items() if n},
        "baseline": drift_baseline(persona=persona, live=live),
        "live_version": live.number if live else None,
    }
