"""`manage.py import_persona_card FILE`: import a Character Card V2 (JSON or SillyTavern PNG)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from personality.errors import PersonaDataError, PublishRefusedError
from personality.services import persona_import_card


class Command(BaseCommand):
    help = "Import a Character Card V2 (.json, or .png with a `chara` tEXt chunk) as a persona version."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the card (.json or .png)")
        parser.add_argument("--slug", help="persona slug to import into (default: from the card)")
        parser.add_argument(
            "--publish", action="store_true", help="publish the imported version (new personas always are)"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror}. Nothing was imported.") from exc
        try:
            persona, version, check = persona_import_card(
                content=content, slug=options["slug"], publish=True if options["publish"] else None
            )
        except PublishRefusedError as exc:
            raise CommandError(f"{path}: imported as a draft version. {exc.detail}") from exc
        except PersonaDataError as exc:
            raise CommandError(f"{path}: {exc.detail}. Nothing was imported.") from exc
        if version is None:
            self.stdout.write(f"{persona.slug}: unchanged (the card matches the current version).")
        else:
            state = "published" if version.status == "published" else "saved as a draft (publish it in the admin)"
            self.stdout.write(self.style.SUCCESS(f"{persona.slug}: imported as version {version.number}, {state}."))
        if check is not None and check.blocks:
            self.stdout.write(self.style.WARNING(check.message))
