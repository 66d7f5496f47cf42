"""A verdict on every evaluation run and on every publish: is this version at least as good as the live one?

- `eval_verdict(run)`: pass/fail against PERSONA_EVAL_TARGET (share of replies in character), and
  the change against the published version's latest comparable run (same model and scorer) —
  overall, per category and per trait.
- `publish_check(version)`: what publishing `version` would do to the consistency score. Every
  publish path (admin, API publish, PATCH, revert, card import) asks it; PERSONA_EVAL_PUBLISH_RULE
  says what happens: `warn` (publish and say so), `refuse` (a regressed or unevaluated version
  is not published: 409) or `off`. Learning never publishes; an auto-applied change queues an
  evaluation of its draft instead, so its verdict is ready when someone publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from personality.errors import PublishRefusedError
from personality.models import EvalRun, PersonaVersion, VersionStatus


@dataclass(frozen=True)
class PublishCheck:
    status: str  # ok | first | regressed | not_evaluated | no_baseline
    message: str = ""
    version_score: float | None = None
    live_score: float | None = None

    @property
    def blocks(self) -> bool:
        """Whether the refuse rule stops this publish."""
        return self.status in ("regressed", "not_evaluated")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "version_score": self.version_score,
            "live_score": self.live_score,
            "rule": settings.PERSONA_EVAL_PUBLISH_RULE,
        }


def _latest_run(*, version: PersonaVersion, model: str | None = None, scorer: str | None = None) -> EvalRun | None:
    runs = EvalRun.objects.filter(
        persona_id=version.persona_id, version_number=version.number, status=EvalRun.Status.DONE
    )
    if model is not None:
        runs = runs.filter(model=model, scorer=scorer)
    return runs.defer("results", "worst").order_by("-finished", "-id").first()


def publish_check(*, version: PersonaVersion) -> PublishCheck:
    live = PersonaVersion.objects.filter(persona_id=version.persona_id, status=VersionStatus.PUBLISHED).first()
    if live is None:
        return PublishCheck("first", "No version is live yet; nothing to compare with.")
    if live.pk == version.pk:
        return PublishCheck("ok", f"Version {version.number} is already live.")
    new = _latest_run(version=version)
    if new is None:
        return PublishCheck(
            "not_evaluated",
            f"Version {version.number} has not been evaluated; run the personality test on it before publishing.",
        )
    old = _latest_run(version=live, model=new.model, scorer=new.scorer)
    if old is None or old.score is None or new.score is None:
        return PublishCheck(
            "no_baseline",
            f"The live version {live.number} has no evaluation with {new.model} ({new.scorer}) to compare with.",
            version_score=new.score,
        )
    margin = settings.PERSONA_EVAL_PUBLISH_MARGIN
    if old.score - new.score > margin:
        return PublishCheck(
            "regressed",
            f"Version {version.number} scores {new.score:.2f} on the consistency evaluation, "
            f"{old.score - new.score:.2f} below the live version {live.number} ({old.score:.2f}); "
            f"the allowed drop is {margin:.2f}.",
            version_score=new.score,
            live_score=old.score,
        )
    return PublishCheck(
        "ok",
        f"Version {version.number} scores {new.score:.2f}, live version {live.number} {old.score:.2f}.",
        version_score=new.score,
        live_score=old.score,
    )


def publish_enforce(*, version: PersonaVersion) -> PublishCheck:
    """The check under PERSONA_EVAL_PUBLISH_RULE: raises PublishRefusedError when `refuse` stops it."""
    rule = settings.PERSONA_EVAL_PUBLISH_RULE
    if rule == "off":
        return PublishCheck("ok", "The publish rule is off.")
    check = publish_check(version=version)
    if rule == "refuse" and check.blocks:
        raise PublishRefusedError(f"Not published: {check.message}", fields={"evaluation": [check.status]})
    return check


def _shares(run: EvalRun) -> dict[str, float]:
    return {
        name: part["share_in_character"]
        for name, part in (run.per_category or {}).items()
        if not name.startswith("_") and isinstance(part, dict)
    }


def eval_verdict(*, run: EvalRun) -> dict[str, Any]:
    """Pass/fail against the target, and the change against the live version's comparable run."""
    target = settings.PERSONA_EVAL_TARGET
    share = run.share_in_character or 0.0
    live = PersonaVersion.objects.filter(persona_id=run.persona_id, status=VersionStatus.PUBLISHED).first()
    baseline = None
    if live is not None and live.number != run.version_number:
        baseline = (
            EvalRun.objects.filter(
                persona_id=run.persona_id,
                version_number=live.number,
                status=EvalRun.Status.DONE,
                model=run.model,
                scorer=run.scorer,
            )
            .exclude(pk=run.pk)
            .order_by("-finished", "-id")
            .first()
        )
    verdict: dict[str, Any] = {
        "target": target,
        "passed": share >= target,
        "share_in_character": share,
        "score": run.score,
        "baseline": None,
        "delta": None,
        "regression": False,
    }
    if baseline is not None and baseline.score is not None and run.score is not None:
        old_shares, new_shares = _shares(baseline), _shares(run)
        verdict["baseline"] = {
            "run": baseline.pk,
            "version": baseline.version_number,
            "score": baseline.score,
            "share_in_character": baseline.share_in_character,
        }
        verdict["delta"] = {
            "score": round(run.score - baseline.score, 4),
            "share_in_character": round(share - (baseline.share_in_character or 0.0), 4),
            "per_category": {
                name: round(new_shares[name] - old_shares[name], 4) for name in sorted(new_shares) if name in old_shares
            },
            "per_trait": {
                name: round(value - baseline.per_trait[name], 4)
                for name, value in sorted((run.per_trait or {}).items())
                if name in (baseline.per_trait or {})
            },
        }
        verdict["regression"] = baseline.score - run.score > settings.PERSONA_EVAL_PUBLISH_MARGIN
    return verdict
