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
    source_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the version the last load of the data file wrote (later versions are edits)"
    )
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


class EvalRun(models.Model):
    """One run of the consistency evaluation against a persona version and a model."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="eval_runs")
    version = models.ForeignKey(
        PersonaVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="eval_runs"
    )
    version_number = models.PositiveIntegerField(null=True, blank=True, help_text="None: the unsaved working copy")
    model = models.CharField(max_length=200)
    scorer = models.CharField(max_length=32, help_text="offline or llm_judge:<model>")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    prompts = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="prompts answered and scored so far (progress)")
    options = models.JSONField(default=dict, blank=True, help_text="what was asked: limit, categories")
    verdict = models.JSONField(
        default=dict, blank=True, help_text="pass/fail against the target and the change against the published version"
    )
    score = models.FloatField(null=True, blank=True, help_text="0..1, mean of the per-reply scores")
    share_in_character = models.FloatField(null=True, blank=True)
    per_category = models.JSONField(default=dict, blank=True)
    per_trait = models.JSONField(default=dict, blank=True)
    worst = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=list, blank=True)
    persona_gym = models.JSONField(
        default=dict,
        blank=True,
        help_text="LLM-judge runs: PersonaGym's five tasks on its 1–5 scale, per task and overall (evaluation/personagym.py)",
    )
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started", "-id"]
        indexes = [models.Index(fields=["persona", "version_number", "-started"], name="evalrun_persona_version")]

    def __str__(self) -> str:
        return f"{self.persona.slug} v{self.version_number} {self.model}: {self.score}"


class Proposal(models.Model):
    """A change learned from user feedback, waiting for an admin (or auto-applied within bounds)."""

    class Kind(models.TextChoices):
        STYLE_EXAMPLE = "style_example", "style example"
        FACT = "fact", "fact"
        TRAIT = "trait", "trait change"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        APPLIED = "applied", "applied"
        REJECTED = "rejected", "rejected"

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(help_text="what would change: an example, a fact, or a trait's new value")
    provenance = models.JSONField(default=dict, help_text="which messages and ratings led to it")
    reason = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64, help_text="one proposal per source evidence")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_version = models.ForeignKey(
        PersonaVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["status", "-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["persona", "fingerprint"], name="proposal_unique_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class ReplySample(models.Model):
    """One live reply scored for persona drift (personality/drift.py): scores and the reply's id, never its text."""

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="reply_samples")
    message_id = models.BigIntegerField(unique=True, help_text="chat.Message id of the reply")
    platform = models.CharField(max_length=16)
    replied_at = models.DateTimeField()
    day = models.DateField()
    version_number = models.PositiveIntegerField(help_text="the persona version live when the reply was written")
    model = models.CharField(max_length=120, blank=True)
    label = models.CharField(max_length=16, help_text="verdict label: good, off_character, gibberish, leak, …")
    in_character = models.BooleanField()
    markers = models.JSONField(default=dict, blank=True, help_text="style markers: words, asks_back, humour, …")
    checks = models.JSONField(default=dict, blank=True)
    scored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-replied_at"]
        indexes = [models.Index(fields=["persona", "day", "platform"], name="replysample_persona_day")]

    def __str__(self) -> str:
        return f"{self.platform} {self.day} #{self.message_id}: {self.label}"
