"""Ivan's persona as data: the working copy (persona, traits, facts, examples) and its versions.

The rows of Persona/Trait/Fact/StyleExample are the *working copy* an admin edits (the draft).
Every change made through `personality.services` stores a PersonaVersion with a full JSON
snapshot of the working copy; the chat pipeline answers from the one *published* version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Persona(models.Model):
    slug = models.SlugField(max_length=64, unique=True, default="ivan")
    name = models.CharField(max_length=120)
    short_bio = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    languages = models.JSONField(default=list, blank=True, help_text='ISO codes, e.g. ["ru", "en"]')
    speaking_style = models.TextField(blank=True)
    values = models.JSONField(default=list, blank=True, help_text="list of strings")
    boundaries = models.JSONField(
        default=list, blank=True, help_text='list of {"topic", "decline", "triggers": [words]} objects'
    )
    # Character Card V2 fields with no home elsewhere (scenario, first_mes, creator_notes, ...),
    # kept so that export → import → export is identical.
    card = models.JSONField(default=dict, blank=True)
    source_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the last loaded persona file")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Trait(models.Model):
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="traits")
    name = models.SlugField(max_length=64)
    value = models.FloatField()
    min_value = models.FloatField(default=0.0)
    max_value = models.FloatField(default=1.0)
    description = models.TextField(blank=True)
    low_behaviour = models.TextField(blank=True, help_text="how the trait shows at low values")
    high_behaviour = models.TextField(blank=True, help_text="how the trait shows at high values")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["persona", "name"], name="trait_unique_name_per_persona"),
            models.CheckConstraint(
                condition=Q(min_value__gte=0.0) & Q(max_value__lte=1.0) & Q(min_value__lte=F("max_value")),
                name="trait_bounds_within_0_1",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=F("min_value")) & Q(value__lte=F("max_value")),
                name="trait_value_within_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value:.2f}"


class Source(models.TextChoices):
    CURATED = "curated", "curated"
    LEARNED = "learned", "learned"


class Fact(models.Model):
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="facts")
    text = models.TextField()
    tags = models.JSONField(default=list, blank=True)
    pinned = models.BooleanField(default=False, help_text="always in the prompt; learning never changes it")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CURATED)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class StyleExample(models.Model):
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="style_examples")
    user_message = models.TextField()
    answer = models.TextField()
    language = models.CharField(max_length=8, default="en")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CURATED)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.user_message[:80]


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    PUBLISHED = "published", "published"
    SUPERSEDED = "superseded", "superseded (was published)"


class PersonaVersion(models.Model):
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField(help_text="the full working copy at this version")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    summary = models.CharField(max_length=500, blank=True)
    diff = models.JSONField(default=list, blank=True, help_text="changes from the previous version")
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["persona", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["persona", "number"], name="persona_version_unique_number"),
            models.UniqueConstraint(
                fields=["persona"], condition=Q(status="published"), name="persona_one_published_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.persona.slug} v{self.number} ({self.status})"
