"""PersonaProfile: the immutable snapshot of one persona version that the chat pipeline reads.

Live, draft and historical versions all become a PersonaProfile, so the same pipeline can
answer as the published Ivan, try a draft in the admin, or replay an old version in evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar


@dataclass(frozen=True)
class TraitSnapshot:
    name: str
    value: float  # 0.0..1.0
    min: float
    max: float
    description: str = ""
    low_behaviour: str = ""  # how the trait shows at low values
    high_behaviour: str = ""  # how the trait shows at high values


@dataclass(frozen=True)
class FactSnapshot:
    id: int | None
    text: str
    tags: tuple[str, ...] = ()
    pinned: bool = False


@dataclass(frozen=True)
class StyleExampleSnapshot:
    id: int | None
    user_message: str
    answer: str
    language: str = "en"
    source: str = "curated"  # curated | learned


@dataclass(frozen=True)
class BoundarySnapshot:
    topic: str  # what Ivan declines, e.g. "politics"
    decline: str  # how he declines it, in his voice
    triggers: tuple[str, ...] = ()  # words that signal the topic (used by the offline evaluator)


@dataclass(frozen=True)
class PersonaProfile:
    slug: str
    name: str
    version: int | None  # PersonaVersion number; None for an unsaved draft
    short_bio: str
    description: str = ""
    languages: tuple[str, ...] = ("ru", "en")
    speaking_style: str = ""
    values: tuple[str, ...] = ()
    boundaries: tuple[str, ...] = ()  # topics Ivan declines, each with how he declines
    traits: tuple[TraitSnapshot, ...] = ()
    facts: tuple[FactSnapshot, ...] = ()
    style_examples: tuple[StyleExampleSnapshot, ...] = ()
    boundary_rules: tuple[BoundarySnapshot, ...] = ()  # the same boundaries, structured
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def pinned_facts(self) -> tuple[FactSnapshot, ...]:
        return tuple(fact for fact in self.facts if fact.pinned)

    def trait(self, name: str) -> TraitSnapshot | None:
        return next((trait for trait in self.traits if trait.name == name), None)


Derived = TypeVar("Derived")
VERSION_CACHE_SIZE = 16


def per_version(
    cache: dict[tuple[str, int], Derived], profile: PersonaProfile, build: Callable[[PersonaProfile], Derived]
) -> Derived:
    """What `build` derives from a stored persona version, built once per process (the live turn's hot
    path; `cache` holds a few versions, then starts over). An unsaved draft is built every time."""
    if profile.version is None:
        return build(profile)
    key = (profile.name, profile.version)
    if key not in cache:
        if len(cache) >= VERSION_CACHE_SIZE:
            cache.clear()
        cache[key] = build(profile)
    return cache[key]
