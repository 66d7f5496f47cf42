"""`manage.py load_persona FILE`: load a persona data file (idempotent, all or nothing) and publish it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from personality.errors import PersonaDataError
from personality.loading import persona_load_file


class Command(BaseCommand):
    help = "Load a persona from a YAML/JSON data file (e.g. personality/data/ivan.yaml) and publish it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the persona data file")

    def handle(self, *args, **options):
        try:
            persona, version = persona_load_file(path=options["file"])
        except PersonaDataError as exc:
            raise CommandError(f"{options['file']}: {exc.detail}. Nothing was imported.") from exc
        if version is None:
            self.stdout.write(f"{persona.slug}: unchanged (already loaded and published).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{persona.slug}: loaded as version {version.number} ({version.summary}), published."
                )
            )
