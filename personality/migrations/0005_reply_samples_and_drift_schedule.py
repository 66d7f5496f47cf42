"""Persona drift: scored samples of live replies (ids and scores only) and the beat job that takes them."""

import django.db.models.deletion
from django.db import migrations, models

TASK_NAME = "personality: score a sample of live replies (drift)"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "personality.drift_sample",
            "interval": every,
            "kwargs": '{"slug": "ivan"}',
            "enabled": True,
            "description": "Scores a sample of new replies per platform for the persona drift dashboard.",
        },
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("personality", "0004_evalrun_job_progress_and_verdict"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReplySample",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("message_id", models.BigIntegerField(help_text="chat.Message id of the reply", unique=True)),
                ("platform", models.CharField(max_length=16)),
                ("replied_at", models.DateTimeField()),
                ("day", models.DateField()),
                ("version_number", models.PositiveIntegerField(help_text="the persona version live when the reply was written")),
                ("model", models.CharField(blank=True, max_length=120)),
                ("label", models.CharField(help_text="verdict label: good, off_character, gibberish, leak, …", max_length=16)),
                ("in_character", models.BooleanField()),
                ("markers", models.JSONField(blank=True, default=dict, help_text="style markers: words, asks_back, humour, …")),
                ("checks", models.JSONField(blank=True, default=dict)),
                ("scored_at", models.DateTimeField(auto_now_add=True)),
                (
                    "persona",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="reply_samples", to="personality.persona"
                    ),
                ),
            ],
            options={
                "ordering": ["-replied_at"],
                "indexes": [models.Index(fields=["persona", "day", "platform"], name="replysample_persona_day")],
            },
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
