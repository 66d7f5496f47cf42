# The personality test runs as a Celery job: queued status, progress, the options it was asked
# with, and its verdict (pass/fail and the change against the published version).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('personality', '0003_learning_schedule'),
    ]

    operations = [
        migrations.AlterField(
            model_name='evalrun',
            name='status',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('done', 'done'), ('failed', 'failed')], default='running', max_length=16),
        ),
        migrations.AddField(
            model_name='evalrun',
            name='done',
            field=models.PositiveIntegerField(default=0, help_text='prompts answered and scored so far (progress)'),
        ),
        migrations.AddField(
            model_name='evalrun',
            name='options',
            field=models.JSONField(blank=True, default=dict, help_text='what was asked: limit, categories'),
        ),
        migrations.AddField(
            model_name='evalrun',
            name='verdict',
            field=models.JSONField(blank=True, default=dict, help_text='pass/fail against the target and the change against the published version'),
        ),
    ]
