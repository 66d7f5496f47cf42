"""Celery tasks of the personality app (thin: they call the service)."""

from __future__ import annotations

from celery import shared_task

from personality.drift import drift_sample_run
from personality.evaluation.runner import eval_run_execute
from personality.learning import learning_run
from personality.models import EvalRun


@shared_task(name="personality.learn_from_feedback", time_limit=300, soft_time_limit=270)
def persona_learn_from_feedback(slug: str = "ivan") -> dict[str, int]:
    """Daily (beat) and on demand (admin): turn rated replies into proposals."""
    return learning_run(slug=slug)


# A full run of the bundled local model takes minutes; the worker's default limit (10 min) would cut it.
EVAL_TIME_LIMIT_S = 3600


@shared_task(name="personality.eval_run", time_limit=EVAL_TIME_LIMIT_S, soft_time_limit=EVAL_TIME_LIMIT_S - 60)
def persona_eval_run(run_id: int) -> dict[str, object]:
    """The personality test as a job: answer and score every prompt of a queued run (API, admin, learning)."""
    run = EvalRun.objects.select_related("persona").filter(pk=run_id, status=EvalRun.Status.QUEUED).first()
    if run is None:  # already taken by another delivery of the same message (acks_late), or deleted
        return {"run": run_id, "status": "skipped"}
    run = eval_run_execute(run=run)
    return {"run": run.pk, "status": run.status, "score": run.score}


@shared_task(name="personality.drift_sample", time_limit=600, soft_time_limit=540)
def persona_drift_sample(slug: str = "ivan") -> dict[str, int]:
    """Every 15 minutes (beat): score a sample of new live replies per platform (drift dashboard)."""
    return drift_sample_run(slug=slug)
