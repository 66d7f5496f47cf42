"""Run the consistency evaluation: each prompt through the real chat pipeline, scored, stored as an EvalRun."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from personality.errors import EvalQueueUnavailableError, EvalRunNotFoundError, PersonaError
from personality.evaluation.personagym import persona_gym_summary, tasks_for
from personality.evaluation.regression import eval_verdict
from personality.evaluation.scoring import (
    ReplyScore,
    StyleReference,
    judge_messages,
    judged_score,
    offline_score,
    parse_judgement,
)
from personality.evaluation.verdict import PersonaFacts
from personality.models import EvalRun, Persona, PersonaVersion
from personality.profile import PersonaProfile
from personality.selectors import (
    persona_get,
    persona_profile_draft,
    persona_profile_for_version,
    persona_profile_live,
    version_get,
)

logger = logging.getLogger(__name__)

EVAL_SET = Path(__file__).with_name("prompts.yaml")
CATEGORIES = ("small_talk", "work_opinions", "decline", "adversarial", "facts")
WORST = 8
Progress = Callable[[int, int, dict], None]


class EvalError(PersonaError):
    code = "eval_error"


def eval_set_load(*, path: Path = EVAL_SET, limit: int | None = None, categories: tuple[str, ...] = ()) -> list[dict]:
    """The shipped prompts; `limit` takes an even spread over categories and languages (round robin)."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    for item in items:  # YAML reads `15` as a number; every expectation is matched as text
        for key in ("expect_any", "contradicts", "claims", "traits"):
            item[key] = [str(value) for value in item.get(key, [])]
    if categories:
        unknown = set(categories) - set(CATEGORIES)
        if unknown:
            raise EvalError(
                f"Unknown categories: {', '.join(sorted(unknown))}.", fields={"categories": sorted(unknown)}
            )
        items = [item for item in items if item["category"] in categories]
    if limit is None or limit >= len(items):
        return items
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        groups[(item["category"], item["language"])].append(item)
    picked: list[dict] = []
    while len(picked) < limit:
        for group in groups.values():
            if group and len(picked) < limit:
                picked.append(group.pop(0))
    return picked


def judge_model() -> str | None:
    """The LLM judge: PERSONA_EVAL_JUDGE_MODEL, else LLM_MODEL when it is a hosted model, else none (offline)."""
    if settings.PERSONA_EVAL_JUDGE_MODEL:
        return settings.PERSONA_EVAL_JUDGE_MODEL
    if settings.LLM_MODEL.startswith(("fake/", "local/")):
        return None
    return settings.LLM_MODEL


def _judge(model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    import litellm

    kwargs: dict[str, Any] = {
        "temperature": 0,
        "max_tokens": 400,
        "timeout": settings.PERSONA_EVAL_JUDGE_TIMEOUT_S,
        "num_retries": 0,  # a slow judge must not multiply the run's time; a failure is counted instead
        "max_retries": 0,
    }
    if settings.PERSONA_EVAL_JUDGE_API_BASE:
        kwargs["api_base"] = settings.PERSONA_EVAL_JUDGE_API_BASE
    if settings.PERSONA_EVAL_JUDGE_API_KEY:
        kwargs["api_key"] = settings.PERSONA_EVAL_JUDGE_API_KEY
    if model == settings.LLM_MODEL and not settings.PERSONA_EVAL_JUDGE_API_BASE:
        if settings.LLM_API_BASE:
            kwargs["api_base"] = settings.LLM_API_BASE
        if settings.LLM_API_KEY:
            kwargs["api_key"] = settings.LLM_API_KEY
    response: Any = litellm.completion(model=model, messages=messages, **kwargs)
    return parse_judgement(response.choices[0].message.content or "")


class JudgeState:
    """The judge over one run: after PERSONA_EVAL_JUDGE_MAX_FAILURES failures in a row it is not asked again
    (a dead or timing-out judge would otherwise cost a timeout per prompt); the run goes on offline."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.failures_in_a_row = 0
        self.last_error = ""

    @property
    def given_up(self) -> bool:
        return self.failures_in_a_row >= max(1, settings.PERSONA_EVAL_JUDGE_MAX_FAILURES)

    def failed(self, exc: BaseException) -> str:
        self.failures_in_a_row += 1
        self.last_error = type(exc).__name__
        return self.last_error

    def succeeded(self) -> None:
        self.failures_in_a_row = 0


def _profile(slug: str, version: int | str | None) -> tuple[PersonaProfile, PersonaVersion | None]:
    persona = persona_get(slug=slug)
    if version is None or version == "live":
        profile = persona_profile_live(slug)
    elif version == "draft":
        profile = persona_profile_draft(slug)
    else:
        profile = persona_profile_for_version(slug, version=int(version))
    stored = version_get(persona=persona, number=profile.version) if profile.version is not None else None
    return profile, stored


def _aggregate(rows: list[dict]) -> dict[str, Any]:
    def summary(group: list[dict]) -> dict[str, Any]:
        return {
            "prompts": len(group),
            "score": round(sum(r["score"] for r in group) / len(group), 4),
            "share_in_character": round(sum(r["in_character"] for r in group) / len(group), 4),
        }

    by_category: dict[str, list[dict]] = defaultdict(list)
    by_trait: dict[str, list[float]] = defaultdict(list)
    by_language: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
        by_language[row["language"]].append(row)
        for name, value in row["traits"].items():
            by_trait[name].append(value)
    worst = sorted(rows, key=lambda r: (r["score"], r["id"]))[:WORST]
    return {
        **summary(rows),
        "per_category": {name: summary(group) for name, group in sorted(by_category.items())},
        "per_language": {name: summary(group) for name, group in sorted(by_language.items())},
        "per_trait": {name: round(sum(v) / len(v), 4) for name, v in sorted(by_trait.items())},
        "per_label": dict(sorted(Counter(r.get("label", "good") for r in rows).items())),
        "per_gate": _gate_summary(rows),
        "worst": [
            {k: r[k] for k in ("id", "category", "language", "prompt", "reply", "score", "reasons")} for r in worst
        ],
    }


def _gate_summary(rows: list[dict]) -> dict[str, Any]:
    """What the quality gate did over the run: outcomes, and the share of first candidates it found
    good — the model's own in-character share before regeneration or grounded answers."""
    gated = [row["gate"] for row in rows if row.get("gate")]
    if not gated:
        return {}
    # not_asked: answered from his data before the model (a declined topic, a language it is not
    # asked in); no_reply: the model gave nothing. Neither has a first candidate to judge.
    asked = [g for g in gated if g.get("label") not in ("not_asked", "no_reply")]
    return {
        "replies": len(gated),
        "outcomes": dict(sorted(Counter(g.get("outcome", "") for g in gated).items())),
        "model_asked": len(asked),
        "first_candidate_good": round(sum(g.get("label") == "good" for g in asked) / len(asked), 4) if asked else None,
    }


def eval_run_prepare(
    *,
    slug: str = "ivan",
    version: int | str | None = None,
    model: str | None = None,
    limit: int | None = None,
    categories: tuple[str, ...] = (),
    author: Any = None,
) -> EvalRun:
    """Check the request (404 for an unknown persona or version, 400 for an unknown category) and store a queued run."""
    items = eval_set_load(limit=limit, categories=categories)
    profile, stored = _profile(slug, version)
    model = model or settings.LLM_MODEL
    judge = judge_model() if model == settings.LLM_MODEL else (settings.PERSONA_EVAL_JUDGE_MODEL or None)
    return EvalRun.objects.create(
        persona=Persona.objects.get(slug=slug),
        version=stored,
        version_number=profile.version,
        model=model,
        scorer=f"llm_judge:{judge}" if judge else "offline",
        status=EvalRun.Status.QUEUED,
        prompts=len(items),
        options={"limit": limit, "categories": list(categories), "version": None if version is None else str(version)},
        triggered_by=author if getattr(author, "is_authenticated", False) else None,
    )


def eval_run_execute(*, run: EvalRun, progress: Progress | None = None) -> EvalRun:
    """Answer and score every prompt of a prepared run, saving progress after each; the verdict at the end.

    A failure (the model gone, the worker's time limit) marks the run failed and keeps the rows done so far.
    """
    from chat.errors import LLMUnavailable
    from chat.services import persona_reply

    options = run.options or {}
    items = eval_set_load(limit=options.get("limit"), categories=tuple(options.get("categories") or ()))
    version = options.get("version")
    profile, _ = _profile(run.persona.slug, run.version_number if run.version_number is not None else version)
    judge = JudgeState(run.scorer.removeprefix("llm_judge:") if run.scorer.startswith("llm_judge:") else None)
    style = StyleReference(profile)
    persona = PersonaFacts(profile)
    started = time.monotonic()
    rows: list[dict] = []
    EvalRun.objects.filter(pk=run.pk).update(status=EvalRun.Status.RUNNING, done=0)

    def reply(*, profile: Any, text: str) -> Any:
        return persona_reply(profile=profile, text=text, model=run.model)

    try:
        for index, item in enumerate(items):
            rows.append(_run_item(item, profile, style, persona, judge, reply, LLMUnavailable))
            EvalRun.objects.filter(pk=run.pk).update(results=rows, done=len(rows))  # progress for the API/admin
            if progress:
                progress(index + 1, len(items), rows[-1])
    except BaseException as exc:  # SoftTimeLimitExceeded and KeyboardInterrupt too: keep what was done
        run.status = EvalRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.finished = timezone.now()
        run.duration_s = round(time.monotonic() - started, 2)
        run.results, run.done = rows, len(rows)
        if rows:
            _store_totals(run, rows, judge=judge.model)
        run.save()
        raise
    run.status = EvalRun.Status.DONE
    run.finished = timezone.now()
    run.duration_s = round(time.monotonic() - started, 2)
    run.results, run.done = rows, len(rows)
    _store_totals(run, rows, judge=judge.model)
    run.save()
    run.verdict = eval_verdict(run=run)
    run.save(update_fields=["verdict"])
    logger.info("persona eval done", extra={"run": run.pk, "score": run.score, "model": run.model})
    return run


def _store_totals(run: EvalRun, rows: list[dict], *, judge: str | None) -> None:
    totals: dict[str, Any] = _aggregate(rows) if rows else {"score": 0.0, "share_in_character": 0.0}
    run.score = totals["score"]
    run.share_in_character = totals["share_in_character"]
    run.per_category = {
        **totals.get("per_category", {}),
        "_languages": totals.get("per_language", {}),
        "_labels": totals.get("per_label", {}),
        "_gate": totals.get("per_gate", {}),
    }
    run.per_trait = totals.get("per_trait", {})
    run.worst = totals.get("worst", [])
    run.persona_gym = persona_gym_summary(rows, judge=judge)


def eval_run_create(
    *,
    slug: str = "ivan",
    version: int | str | None = None,
    model: str | None = None,
    limit: int | None = None,
    categories: tuple[str, ...] = (),
    author: Any = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Run the evaluation now, in this process (manage.py persona_eval), and store it."""
    run = eval_run_prepare(slug=slug, version=version, model=model, limit=limit, categories=categories, author=author)
    return eval_run_execute(run=run, progress=progress)


def eval_run_start(
    *,
    slug: str = "ivan",
    version: int | str | None = None,
    model: str | None = None,
    limit: int | None = None,
    categories: tuple[str, ...] = (),
    author: Any = None,
) -> EvalRun:
    """Queue the evaluation as a Celery job (API, admin); poll the run for progress and the verdict."""
    from kombu.exceptions import OperationalError

    from personality.tasks import persona_eval_run

    run = eval_run_prepare(slug=slug, version=version, model=model, limit=limit, categories=categories, author=author)
    try:
        persona_eval_run.apply_async(args=[run.pk], retry=False)
    except OperationalError as exc:
        run.status = EvalRun.Status.FAILED
        run.error = "the job queue was unavailable"
        run.finished = timezone.now()
        run.save(update_fields=["status", "error", "finished"])
        raise EvalQueueUnavailableError("The job queue is unavailable right now; try again in a minute.") from exc
    return run


def _run_item(item, profile, style, persona, judge, answer, llm_unavailable) -> dict:
    began = time.monotonic()
    try:
        result = answer(profile=profile, text=item["prompt"])
    except llm_unavailable as exc:
        score = ReplyScore(score=0.0, in_character=False, reasons=[f"no reply: {exc}"], label="gibberish")
        reply, system = "", ""
        gate: dict[str, Any] = {}
    else:
        reply = result.text
        gate = getattr(result, "quality", {}) or {}
        system = result.prompt.messages[0]["content"] if result.prompt.messages else ""
        score = offline_score(
            item=item, reply=reply, profile=profile, system_prompt=system, style=style, persona=persona
        )
    judged: dict[str, Any] = {}
    if judge.model:
        score, judged = _judged(item, reply, profile, score, judge)
    return {
        "id": item["id"],
        "category": item["category"],
        "language": item["language"],
        "prompt": item["prompt"],
        "reply": reply,
        "score": score.score,
        "in_character": score.in_character,
        "label": score.label,
        "checks": score.checks,
        "traits": score.traits,
        "reasons": score.reasons,
        "seconds": round(time.monotonic() - began, 2),
        "gate": {k: gate[k] for k in ("gate", "label", "outcome", "attempts", "source", "grounding") if k in gate},
        **({"persona_gym": score.persona_gym, "judge": judged} if judge.model else {}),
    }


def _judged(
    item: dict, reply: str, profile: PersonaProfile, offline: ReplyScore, judge: JudgeState
) -> tuple[ReplyScore, dict[str, Any]]:
    """The judge's score of one reply, or the offline one with why the judge was not used."""
    if judge.model is None:
        return offline, {}
    if not reply:
        return offline, {"outcome": "no_reply"}
    if judge.given_up:
        offline.reasons.append(f"judge not asked after {judge.failures_in_a_row} failures in a row; offline score used")
        return offline, {"outcome": "skipped", "error": judge.last_error}
    tasks = tasks_for(item["category"])
    try:
        scored = judged_score(
            offline=offline,
            judgement=_judge(judge.model, judge_messages(item=item, reply=reply, profile=profile)),
            tasks=tasks,
        )
    except Exception as exc:  # noqa: BLE001 - junk, an error or a timeout from the judge: keep the offline score
        error = judge.failed(exc)
        offline.reasons.append(f"judge failed ({error}); offline score used")
        return offline, {"outcome": "failed", "error": error}
    judge.succeeded()
    return scored, {"outcome": "partial" if scored.unrated else "ok", "unrated": scored.unrated}


def eval_run_get(*, run_id: int) -> EvalRun:
    run = EvalRun.objects.select_related("persona").filter(pk=run_id).first()
    if run is None:
        raise EvalRunNotFoundError(f"There is no evaluation run {run_id}.")
    return run


def eval_run_list(*, slug: str) -> QuerySet[EvalRun]:
    return (
        EvalRun.objects.filter(persona__slug=slug, status=EvalRun.Status.DONE)
        .defer("results", "worst")
        .order_by("-started")
    )


def eval_score_by_version(*, persona: Persona) -> list[dict]:
    """Latest finished run's score per version number (for the chart over versions)."""
    latest: dict[int, EvalRun] = {}
    for run in EvalRun.objects.filter(
        persona=persona, status=EvalRun.Status.DONE, version_number__isnull=False
    ).order_by("started"):
        latest[run.version_number] = run  # type: ignore[index]
    return [
        {
            "version": number,
            "score": run.score,
            "share_in_character": run.share_in_character,
            "model": run.model,
            "run": run.pk,
        }
        for number, run in sorted(latest.items())
    ]
