"""The worker side of stored updates: time limits that a lease outlives, and the resume beat job."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from telegram_bot.tasks import update_process


def test_the_update_task_has_time_limits_shorter_than_its_lease(settings):
    task = update_process

    assert (task.soft_time_limit, task.time_limit) == (240, 270)
    assert task.time_limit < settings.TELEGRAM_UPDATE_LEASE_S
    assert task.acks_late and task.reject_on_worker_lost


@pytest.mark.django_db
def test_beat_resumes_stored_updates_every_minute():
    job = PeriodicTask.objects.select_related("interval").get(task="telegram_bot.updates_resume")

    assert job.enabled
    assert (job.interval.every, job.interval.period) == (60, "seconds")
