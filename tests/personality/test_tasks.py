from __future__ import annotations

from personality.tasks import persona_learn_from_feedback


def test_learning_task_has_time_limits():
    assert persona_learn_from_feedback.time_limit == 300
    assert persona_learn_from_feedback.soft_time_limit == 270
    assert persona_learn_from_feedback.name == "personality.learn_from_feedback"


def test_daily_learning_schedule_exists(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="personality.learn_from_feedback")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")
