"""Changes to the persona. Every change records a PersonaVersion (who, when, diff); publishing pushes.

The rows are the working copy; `version_record` snapshots them after each change. Publishing
marks one version as the live one (exactly one per persona) and tells every open page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from digitalme.realtime import push_to_persona_watchers
from personality.errors import PersonaDataError, TraitOutOfBoundsError
from personality.evaluation.regression import PublishCheck, publish_enforce
from personality.models import Fact, Persona, PersonaVersion, StyleExample, Trait, VersionStatus
from personality.schema import validate_snapshot
from personality.selectors import (
    persona_public_data,
    persona_snapshot,
    profile_from_snapshot,
    version_get,
    version_latest,
)
from personality.versioning import diff_summary, snapshot_diff

logger = logging.getLogger(__name__)


def _full_clean(instance: Any, field_prefix: str) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        name, messages = next(iter(fields.items()))
        raise PersonaDataError("; ".join(messages), field=f"{field_prefix}.{name}") from exc


def _write_working_copy(*, persona: Persona, snapshot: dict) -> None:
    """Make the rows equal `snapshot` exactly (children replaced in snapshot order)."""
    persona.slug = snapshot["slug"]
    persona.name = snapshot["name"]
    persona.short_bio = snapshot["short_bio"]
    persona.description = snapshot["description"]
    persona.languages = list(snapshot["languages"])
    persona.speaking_style = snapshot["speaking_style"]
    persona.values = list(snapshot["values"])
    persona.boundaries = [dict(item) for item in snapshot["boundaries"]]
    persona.card = dict(snapshot["card"])
    _full_clean(persona, "persona")
    persona.save()
    persona.traits.all().delete()
    persona.facts.all().delete()
    persona.style_examples.all().delete()
    for position, t in enumerate(snapshot["traits"]):
        trait = Trait(
            persona=persona,
            name=t["name"],
            value=t["value"],
            min_value=t["min"],
            max_value=t["max"],
            description=t["description"],
            low_behaviour=t["low"],
            high_behaviour=t["high"],
            position=position,
        )
        _full_clean(trait, f"traits[{position}]")
        trait.save()
    Fact.objects.bulk_create(
        Fact(persona=persona, text=f["text"], tags=f["tags"], pinned=f["pinned"], source=f["source"], position=i)
        for i, f in enumerate(snapshot["facts"])
    )
    StyleExample.objects.bulk_create(
        StyleExample(
            persona=persona,
            user_message=e["user"],
            answer=e["answer"],
            language=e["language"],
            source=e["source"],
            position=i,
        )
        for i, e in enumerate(snapshot["style_examples"])
    )


def _fresh(persona: Persona) -> Persona:
    """Re-read with children so snapshots never see stale prefetch caches."""
    return Persona.objects.prefetch_related("traits", "facts", "style_examples").get(pk=persona.pk)


@transaction.atomic
def version_record(*, persona: Persona, author: Any = None, summary: str = "") -> PersonaVersion | None:
    """Store the working copy as a new draft version; None when nothing changed since the latest one."""
    persona = _fresh(persona)
    snapshot = persona_snapshot(persona=persona)
    latest = version_latest(persona=persona)
    if latest is not None and latest.snapshot == snapshot:
        return None
    changes = snapshot_diff(latest.snapshot if latest else None, snapshot)
    version = PersonaVersion.objects.create(
        persona=persona,
        number=(latest.number + 1) if latest else 1,
        snapshot=snapshot,
        author=author if getattr(author, "is_authenticated", False) else None,
        summary=(f"{summary}: {diff_summary(changes)}" if summary else diff_summary(changes))[:500],
        diff=changes,
    )
    logger.info("persona version recorded", extra={"persona": persona.slug, "version": version.number})
    return version


@transaction.atomic
def version_publish(*, version: PersonaVersion, author: Any = None) -> PersonaVersion:
    """Make `version` the live one (the previous live one becomes superseded) and push it to pages."""
    version = PersonaVersion.objects.select_for_update().select_related("persona").get(pk=version.pk)
    if version.status == VersionStatus.PUBLISHED:
        return version
    PersonaVersion.objects.filter(persona_id=version.persona_id, status=VersionStatus.PUBLISHED).update(
        status=VersionStatus.SUPERSEDED
    )
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    profile = profile_from_snapshot(version.snapshot, version=version.number)
    push_to_persona_watchers(
        version.persona.slug, {"type": "persona.updated", "persona": persona_public_data(profile=profile)}
    )
    logger.info("persona version published", extra={"persona": version.persona.slug, "version": version.number})
    return version


def version_publish_guarded(*, version: PersonaVersion, author: Any = None) -> PublishCheck:
    """Publish `version` under the regression rule (PERSONA_EVAL_PUBLISH_RULE) and say how it compares.

    `warn`: publishes and returns the check (its message is the warning to show). `refuse`: a version
    that scores below the live one by more than the margin, or was never evaluated, is not published
    (PublishRefusedError, 409); the version itself stays as a draft. Every publish path calls this.
    """
    check = publish_enforce(version=version)
    version_publish(version=version, author=author)
    if check.status in ("regressed", "not_evaluated"):
        logger.warning(
            "persona version published despite the publish check",
            extra={"persona": version.persona.slug, "version": version.number, "check": check.status},
        )
    return check


@transaction.atomic
def persona_load_snapshot(
    *, raw: dict, author: Any = None, summary: str = "", source_hash: str = "", publish: bool = True
) -> tuple[Persona, PersonaVersion | None]:
    """Create or update a persona from a raw snapshot (data file, card) in one transaction.

    Idempotent: when the working copy already equals the data and the latest version is published,
    nothing is written and the version is None.
    """
    snapshot = validate_snapshot(raw)
    persona = Persona.objects.select_for_update().filter(slug=snapshot["slug"]).first()
    if persona is None:
        persona = Persona(slug=snapshot["slug"])
    else:
        persona = _fresh(persona)
        latest = version_latest(persona=persona)
        if (
            persona_snapshot(persona=persona) == snapshot
            and latest is not None
            and (latest.status == VersionStatus.PUBLISHED or not publish)
        ):
            return persona, None
    _write_working_copy(persona=persona, snapshot=snapshot)
    if source_hash and persona.source_hash != source_hash:
        persona.source_hash = source_hash
        persona.save(update_fields=["source_hash"])
    version = version_record(persona=persona, author=author, summary=summary)
    if version is None:  # rows already matched the latest version, which was not published
        version = version_latest(persona=persona)
    if publish and version is not None:
        version = version_publish(version=version, author=author)
    return persona, version


@dataclass(frozen=True)
class SeedResult:
    """What `persona_seed` did: created | updated | unchanged | kept (staff edits) | replaced (--force)."""

    persona: Persona
    version: PersonaVersion | None  # the version the load wrote or published; None when nothing was written
    action: str
    edits: str = ""  # kept: the edits that were kept; replaced: what the load replaced


def _edits_since_load(*, persona: Persona) -> str:
    """The edits made since the data file was last loaded ("" when none): versions after the one the
    load wrote, another version published, or a working copy that differs from the latest version."""
    if persona.source_version is None:
        return "not loaded from a data file before (created by card import or by hand)"
    later = list(
        PersonaVersion.objects.filter(persona=persona, number__gt=persona.source_version)
        .select_related("author")
        .order_by("number")
    )
    parts = [
        f"v{version.number} by {version.author.email if version.author else 'system'}: {version.summary}"
        for version in later
    ]
    published = PersonaVersion.objects.filter(persona=persona, status=VersionStatus.PUBLISHED).first()
    if published is not None and published.number != persona.source_version and not later:
        parts.append(f"v{published.number} published instead of v{persona.source_version}")
    latest = later[-1] if later else version_latest(persona=persona)
    if latest is not None and persona_snapshot(persona=_fresh(persona)) != latest.snapshot:
        parts.append("unrecorded changes to the working copy")
    return "; ".join(parts)


@transaction.atomic
def persona_seed(*, raw: dict, source_hash: str, summary: str = "", force: bool = False) -> SeedResult:
    """Seed a persona from deploy data (`load_persona`, run on every deploy) without undoing staff's work.

    Loads when the persona is absent, or when the data file changed (`source_hash`) and nobody edited
    the persona since the last load; otherwise keeps it and says why. `force` loads anyway and reports
    what it replaced (the diff from the current working copy and the version that was live).
    """
    snapshot = validate_snapshot(raw)
    persona = Persona.objects.select_for_update().filter(slug=snapshot["slug"]).first()
    existed = persona is not None
    replaced = ""
    if persona is not None:
        if persona.source_hash == source_hash and not force:
            return SeedResult(persona=persona, version=None, action="unchanged")
        edits = _edits_since_load(persona=persona)
        if edits and not force:
            return SeedResult(persona=persona, version=None, action="kept", edits=edits)
        if force:
            live = PersonaVersion.objects.filter(persona=persona, status=VersionStatus.PUBLISHED).first()
            changes = diff_summary(snapshot_diff(persona_snapshot(persona=_fresh(persona)), snapshot))
            live_text = f"replaces version {live.number} (live)" if live else "replaces the unpublished working copy"
            replaced = f"{live_text}; changes: {changes}" + (f"; discarded edits: {edits}" if edits else "")
    persona, version = persona_load_snapshot(raw=snapshot, summary=summary, source_hash=source_hash)
    loaded = version or version_latest(persona=persona)
    Persona.objects.filter(pk=persona.pk).update(
        source_hash=source_hash, source_version=loaded.number if loaded else None
    )
    persona.refresh_from_db()
    if existed is False:
        action = "created"
    elif force:
        action = "replaced"
    else:
        action = "updated" if version is not None else "unchanged"
    logger.info("persona seeded from data", extra={"persona": persona.slug, "action": action})
    return SeedResult(persona=persona, version=version, action=action, edits=replaced)


def _check_trait_value(*, trait: Trait, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TraitOutOfBoundsError(
            f"Trait {trait.name!r}: value must be a number.", fields={f"traits.{trait.name}": ["must be a number"]}
        )
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise TraitOutOfBoundsError(
            f"Trait {trait.name!r}: {value} is outside 0..1.",
            fields={f"traits.{trait.name}": [f"{value} is outside 0..1"]},
        )
    if not trait.min_value <= value <= trait.max_value:
        raise TraitOutOfBoundsError(
            f"Trait {trait.name!r}: {value} is outside its bounds [{trait.min_value}, {trait.max_value}].",
            fields={f"traits.{trait.name}": [f"{value} is outside [{trait.min_value}, {trait.max_value}]"]},
        )
    return round(value, 4)


def trait_clamp(*, trait: Trait, value: float) -> float:
    """The nearest value inside the trait's bounds (used by learning, which may only nudge)."""
    return round(min(max(value, trait.min_value, 0.0), trait.max_value, 1.0), 4)


@transaction.atomic
def persona_update(
    *,
    persona: Persona,
    author: Any = None,
    short_bio: str | None = None,
    traits: Iterable[dict] | None = None,
    summary: str = "",
    publish: bool = False,
) -> PersonaVersion | None:
    """Change the bio and/or trait values (bounds enforced); record a version and optionally publish it."""
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    if short_bio is not None:
        persona.short_bio = short_bio.strip()
        _full_clean(persona, "persona")
        persona.save(update_fields=["short_bio", "updated"])
    by_name = {trait.name: trait for trait in persona.traits.select_for_update()}
    for item in traits or ():
        name = item.get("name")
        trait = by_name.get(name)  # type: ignore[arg-type]
        if trait is None:
            raise TraitOutOfBoundsError(
                f"Unknown trait {name!r}; known: {', '.join(sorted(by_name))}.",
                code="unknown_trait",
                fields={f"traits.{name}": ["unknown trait"]},
            )
        trait.value = _check_trait_value(trait=trait, value=item.get("value"))
        trait.save(update_fields=["value"])
    version = version_record(persona=persona, author=author, summary=summary)
    if publish:
        target = version or version_latest(persona=persona)
        if target is not None:
            version = version_publish(version=target, author=author)
    return version


@transaction.atomic
def persona_revert(*, persona: Persona, number: int, author: Any = None, publish: bool = False) -> PersonaVersion:
    """Restore the working copy to exactly version `number`'s snapshot, as a new version."""
    target = version_get(persona=persona, number=number)
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    _write_working_copy(persona=persona, snapshot=validate_snapshot(target.snapshot))
    version = version_record(persona=persona, author=author, summary=f"revert to v{number}")
    if version is None:
        version = version_latest(persona=persona)
    assert version is not None
    if publish:
        version = version_publish(version=version, author=author)
    return version


def persona_import_card(
    *, content: bytes, author: Any = None, slug: str | None = None, publish: bool | None = None
) -> tuple[Persona, PersonaVersion | None, PublishCheck | None]:
    """Import a Character Card V2 (JSON or PNG bytes); returns the persona, the new version and its publish check.

    A new persona is published at once; an existing one gets a draft version, published under the
    regression rule when `publish` (PublishRefusedError when `refuse` stops it: the draft stays).
    Errors name the card field (e.g. `data.character_book.entries[2].content`).
    """
    from personality.cards import CardError, card_read, card_to_snapshot

    card = card_read(content)
    raw, card_field = card_to_snapshot(card, slug=slug)
    is_new = not Persona.objects.filter(slug=raw["slug"]).exists()
    publish = is_new if publish is None else publish
    try:
        persona, version = persona_load_snapshot(
            raw=raw, author=author, summary="imported from a character card", publish=publish and is_new
        )
    except PersonaDataError as exc:
        raise CardError(exc.reason, field=card_field(exc.field)) from exc
    check = None
    if publish and not is_new:
        target = version or version_latest(persona=persona)
        if target is not None:
            check = version_publish_guarded(version=target, author=author)
            target.refresh_from_db()
            version = version and target
    return persona, version, check
