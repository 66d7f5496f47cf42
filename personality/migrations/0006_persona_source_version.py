"""Remember which version the data file last wrote, so a deploy can tell staff edits from its own."""

from django.db import migrations, models


def remember_loaded_versions(apps, schema_editor):
    # Existing databases: the newest version a load wrote ("loaded from <file>", no author).
    Persona = apps.get_model("personality", "Persona")
    PersonaVersion = apps.get_model("personality", "PersonaVersion")
    for persona in Persona.objects.exclude(source_hash=""):
        loaded = (
            PersonaVersion.objects.filter(persona=persona, author__isnull=True, summary__startswith="loaded from ")
            .order_by("-number")
            .first()
        )
        if loaded is not None:
            persona.source_version = loaded.number
            persona.save(update_fields=["source_version"])


class Migration(migrations.Migration):
    dependencies = [("personality", "0005_reply_samples_and_drift_schedule")]

    operations = [
        migrations.AddField(
            model_name="persona",
            name="source_version",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="the version the last load of the data file wrote (later versions are edits)",
                null=True,
            ),
        ),
        migrations.RunPython(remember_loaded_versions, migrations.RunPython.noop),
    ]
