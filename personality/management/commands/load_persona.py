"""`manage.py load_persona FILE`: seed a persona from a data file (all or nothing) and publish it.

Run by every deploy (Procfile release, `make run`), so it never undoes staff's work: it loads only
when the persona is absent, or when the file changed and nobody edited the persona since the last
load. `--force` loads anyway and prints what it replaces.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from personality.errors import PersonaDataError
from personality.loading import persona_load_file


class Command(BaseCommand):
    help = "Seed a persona from a YAML/JSON data file (e.g. personality/data/ivan.yaml) and publish it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the persona data file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="overwrite the persona even if staff edited it since the last load (prints what it replaces)",
        )

    def handle(self, *args, **options):
        try:
            result = persona_load_file(path=options["file"], force=options["force"])
        except PersonaDataError as exc:
            raise CommandError(f"{options['file']}: {exc.detail}. Nothing was imported.") from exc
        slug = result.persona.slug
        if result.action == "unchanged":
            self.stdout.write(f"{slug}: unchanged (this file is already loaded).")
        elif result.action == "kept":
            self.stdout.write(
                self.style.WARNING(
                    f"{slug}: kept as it is; the data file changed, but the persona was edited since it was "
                    f"last loaded ({result.edits}). Run with --force to overwrite those edits."
                )
            )
        else:
            version = result.version
            done = f"{slug}: loaded as version {version.number} ({version.summary}), published." if version else ""
            if result.action == "replaced":
                self.stdout.write(self.style.WARNING(f"{slug}: --force {result.edits}."))
            self.stdout.write(self.style.SUCCESS(done or f"{slug}: already equal to this file."))
