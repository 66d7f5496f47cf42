"""Updates are stored before the webhook answers and handled by a worker (issue 11); the beat job
`telegram_bot.updates_resume` re-queues any whose task was lost."""

from django.db import migrations, models

TASK_NAME = "telegram: resume stored updates"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "telegram_bot.updates_resume",
            "interval": every,
            "enabled": True,
            "description": "Re-queues stored Telegram updates whose task was lost (broker down, worker killed).",
        },
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("telegram_bot", "0002_telegramgroup"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="processedupdate",
            name="payload",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="processedupdate",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "waiting for a worker"),
                    ("processing", "a worker has it (until leased_until)"),
                    ("done", "handled"),
                    ("failed", "gave up (error kept)"),
                ],
                default="done",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="processedupdate", name="attempts", field=models.PositiveSmallIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="processedupdate",
            name="queued_at",
            field=models.DateTimeField(blank=True, help_text="when its queued task is due (None: not queued)", null=True),
        ),
        migrations.AddField(
            model_name="processedupdate", name="leased_until", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="processedupdate",
            name="request_id",
            field=models.CharField(blank=True, help_text="the webhook request's id, for the logs", max_length=64),
        ),
        migrations.AddField(
            model_name="processedupdate", name="error", field=models.CharField(blank=True, max_length=500)
        ),
        migrations.AddField(
            model_name="processedupdate", name="processed_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddIndex(
            model_name="processedupdate",
            index=models.Index(fields=["status", "received"], name="tg_update_status_received"),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
