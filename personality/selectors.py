"""Reads of the persona: working copy snapshots and PersonaProfiles for live, draft and old versions."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from personality.errors import PersonaNotFoundError, PersonaNotPublishedError, VersionNotFoundError
from personality.models import Persona, PersonaVersion, VersionStatus
from personality.profile import (
    BoundarySnapshot,
    FactSnapshot,
    PersonaProfile,
    StyleExampleSnapshot,
    TraitSnapshot,
)

DEFAULT_SLUG = "ivan"


def persona_get(*, slug: str) -> Persona:
    try:
        return Persona.objects.prefetch_related("traits", "facts", "style_examples").get(slug=slug)
    except Persona.DoesNotExist:
        raise PersonaNotFoundError(f"No persona with slug {slug!r}.") from None


def persona_snapshot(*, persona: Persona) -> dict:
    """The working copy as a snapshot dict (the format of personality.schema)."""
    return {
        "slug": persona.slug,
        "name": persona.name,
        "short_bio": persona.short_bio,
        "description": persona.description,
        "languages": list(persona.languages or []),
        "speaking_style": persona.speaking_style,
        "values": list(persona.values or []),
        "boundaries": [dict(item) for item in persona.boundaries or []],
        "traits": [
            {
                "name": trait.name,
                "value": trait.value,
                "min": trait.min_value,
                "max": trait.max_value,
                "description": trait.description,
                "low": trait.low_behaviour,
                "high": trait.high_behaviour,
            }
            for trait in persona.traits.all()
        ],
        "facts": [
            {"text": fact.text, "tags": list(fact.tags or []), "pinned": fact.pinned, "source": fact.source}
            for fact in persona.facts.all()
        ],
        "style_examples": [
            {"user": ex.user_message, "answer": ex.answer, "language": ex.language, "source": ex.source}
            for ex in persona.style_examples.all()
        ],
        "card": dict(persona.card or {}),
    }


def profile_from_snapshot(snapshot: dict, *, version: int | None) -> PersonaProfile:
    boundaries = snapshot.get("boundaries", [])
    return PersonaProfile(
        slug=snapshot["slug"],
        name=snapshot["name"],
        version=version,
        short_bio=snapshot["short_bio"],
        description=snapshot.get("description", ""),
        languages=tuple(snapshot.get("languages") or ("en",)),
        speaking_style=snapshot.get("speaking_style", ""),
        values=tuple(snapshot.get("values", [])),
        boundaries=tuple(f"{item['topic']}: {item['decline']}" for item in boundaries),
        boundary_rules=tuple(
            BoundarySnapshot(topic=item["topic"], decline=item["decline"], triggers=tuple(item.get("triggers", ())))
            for item in boundaries
        ),
        traits=tuple(
            TraitSnapshot(
                name=t["name"],
                value=t["value"],
                min=t["min"],
                max=t["max"],
                description=t.get("description", ""),
                low_behaviour=t.get("low", ""),
                high_behaviour=t.get("high", ""),
            )
            for t in snapshot.get("traits", [])
        ),
        facts=tuple(
            FactSnapshot(id=index, text=f["text"], tags=tuple(f.get("tags", ())), pinned=bool(f.get("pinned")))
            for index, f in enumerate(snapshot.get("facts", []))
        ),
        style_examples=tuple(
            StyleExampleSnapshot(
                id=index,
                user_message=e["user"],
                answer=e["answer"],
                language=e.get("language", "en"),
                source=e.get("source", "curated"),
            )
            for index, e in enumerate(snapshot.get("style_examples", []))
        ),
        extra={"card": snapshot.get("card", {})},
    )


def version_list(*, persona: Persona) -> QuerySet[PersonaVersion]:
    return PersonaVersion.objects.filter(persona=persona).select_related("author").order_by("-number")


def version_get(*, persona: Persona, number: int) -> PersonaVersion:
    try:
        return PersonaVersion.objects.select_related("author").get(persona=persona, number=number)
    except PersonaVersion.DoesNotExist:
        raise VersionNotFoundError(f"Persona {persona.slug!r} has no version {number}.") from None


def version_published(*, slug: str) -> PersonaVersion:
    version = (
        PersonaVersion.objects.select_related("persona")
        .filter(persona__slug=slug, status=VersionStatus.PUBLISHED)
        .first()
    )
    if version is None:
        if not Persona.objects.filter(slug=slug).exists():
            raise PersonaNotPublishedError(
                f"There is no persona {slug!r}: load one with "
                "`manage.py load_persona personality/data/ivan.yaml` (make run does this)."
            )
        raise PersonaNotPublishedError(
            f"Persona {slug!r} has no published version: publish one in the admin "
            "or run `manage.py load_persona personality/data/ivan.yaml`."
        )
    return version


def version_published_list() -> QuerySet[PersonaVersion]:
    """The live version of every published persona (one query), by slug."""
    return (
        PersonaVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("persona")
        .order_by("persona__slug")
    )


def version_latest(*, persona: Persona) -> PersonaVersion | None:
    return PersonaVersion.objects.filter(persona=persona).order_by("-number").first()


_live_profiles: dict[str, tuple[tuple[int, Any], PersonaProfile]] = {}
# The persona's published version (one at most: a unique constraint), its id and publication time.
_LIVE_VERSION = (
    "SELECT v.id, v.published_at FROM personality_personaversion v"
    " JOIN personality_persona p ON p.id = v.persona_id WHERE p.slug = %s AND v.status = %s LIMIT 1"
)


def persona_profile_live(slug: str = DEFAULT_SLUG) -> PersonaProfile:
    """The published version of the persona, as the chat pipeline answers from it.

    Kept per process for the published version: each call asks only which version is live (one
    small indexed query), so a publish in any process is seen by every process on its next turn,
    and the snapshot is decoded once per version — and the same object comes back, so what is
    derived from it (the prompt's fixed part, token counts) is cached with it.
    Raises PersonaNotPublishedError (a DomainError, 409) when the persona or its published version is missing.
    """
    sql, params = live_version_statement(slug)
    with connection.cursor() as cursor:  # every chat turn asks: plain SQL, no query to build
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return persona_profile_live_from(row, slug)


def live_version_statement(slug: str = DEFAULT_SLUG) -> tuple[str, list[Any]]:
    """The question persona_profile_live asks (which version is live: at most one row), for a
    caller that sends it in one round trip with reads of its own (the chat turn's first hop) and
    hands its row to `persona_profile_live_from`."""
    return _LIVE_VERSION, [slug, VersionStatus.PUBLISHED.value]


def persona_profile_live_from(row: Any, slug: str = DEFAULT_SLUG) -> PersonaProfile:
    """persona_profile_live, given the row its statement (`live_version_statement`) just read (None: no row)."""
    live = (row[0], row[1]) if row is not None else None
    cached = _live_profiles.get(slug)
    if live is not None and cached is not None and cached[0] == live:
        return cached[1]
    version = version_published(slug=slug)
    profile = profile_from_snapshot(version.snapshot, version=version.number)
    # Keyed by the row as the query above reads it (on SQLite its datetime comes back naive, the
    # ORM's aware: the two never compare equal, and every turn would decode the snapshot again).
    key = live if live is not None and live[0] == version.pk else (version.pk, version.published_at)
    _live_profiles[slug] = (key, profile)
    return profile


def persona_profile_draft(slug: str = DEFAULT_SLUG) -> PersonaProfile:
    """The working copy (what the admin is editing), to try before publishing.

    `version` is the number of the latest version when the working copy equals it, else None.
    """
    persona = persona_get(slug=slug)
    snapshot = persona_snapshot(persona=persona)
    latest = version_latest(persona=persona)
    number = latest.number if latest is not None and latest.snapshot == snapshot else None
    return profile_from_snapshot(snapshot, version=number)


def persona_profile_for_version(slug: str = DEFAULT_SLUG, *, version: int) -> PersonaProfile:
    """A stored version (live, draft or old), e.g. to replay it in the evaluation."""
    persona = persona_get(slug=slug)
    stored = version_get(persona=persona, number=version)
    return profile_from_snapshot(stored.snapshot, version=stored.number)


def persona_public_data(*, profile: PersonaProfile) -> dict:
    """What anyone may see of a persona (API detail, /persona/ page, `persona.updated` pushes)."""
    return {
        "slug": profile.slug,
        "name": profile.name,
        "short_bio": profile.short_bio,
        "description": profile.description,
        "languages": list(profile.languages),
        "version": profile.version,
        "traits": [
            {"name": t.name, "value": t.value, "min": t.min, "max": t.max, "description": t.description}
            for t in profile.traits
        ],
    }


def trait_history(*, persona: Persona) -> list[dict]:
    """Every version that has been live, oldest first, with its trait values (public: they were published)."""
    versions = PersonaVersion.objects.filter(persona=persona, published_at__isnull=False).order_by("published_at")
    return [
        {
            "version": version.number,
            "published_at": version.published_at,
            "traits": {trait["name"]: trait["value"] for trait in version.snapshot.get("traits", [])},
        }
        for version in versions.only("number", "published_at", "snapshot")
    ]
