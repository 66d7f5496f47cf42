"""Celery tasks of the personality app (thin: they call the service)."""

from __future__ import annotations

from celery import shared_task

from personality.learning import learning_run


@shared_task(name="personality.learn_from_feedback", time_limit=300, soft_time_limit=270)
def persona_learn_from_feedback(slug: str = "ivan") -> dict[str, int]:
    """Daily (beat) and on demand (admin): turn rated replies into proposals."""
    return learning_run(slug=slug)
