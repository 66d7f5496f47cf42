"""`manage.py backup`: dump the database (pg_dump custom format, or SQLite's online backup) into
BACKUP_DIR, encrypted when BACKUP_ENCRYPTION_KEY is set, keeping the newest BACKUP_KEEP."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.backups import BackupError, Database, backup_create, backup_key


class Command(BaseCommand):
    help = "Back up the database into BACKUP_DIR (encrypted when BACKUP_ENCRYPTION_KEY is set); keeps the newest N."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help=f"where to write (default: BACKUP_DIR, {settings.BACKUP_DIR})")
        parser.add_argument("--keep", type=int, help=f"backups to keep (default: BACKUP_KEEP, {settings.BACKUP_KEEP})")
        parser.add_argument(
            "--no-encrypt", action="store_true", help="write a plain backup even when BACKUP_ENCRYPTION_KEY is set"
        )

    def handle(self, *args, **options):
        directory = Path(options["dir"] or settings.BACKUP_DIR)
        try:
            fernet = None if options["no_encrypt"] else backup_key()
            result = backup_create(
                database=Database.from_settings(),
                directory=directory,
                keep=options["keep"] if options["keep"] is not None else settings.BACKUP_KEEP,
                fernet=fernet,
            )
        except BackupError as exc:
            raise CommandError(f"backup failed, nothing was written: {exc.detail}") from exc
        state = "encrypted" if result.encrypted else "not encrypted"
        self.stdout.write(self.style.SUCCESS(f"{result.path} ({result.size} bytes, {state})"))
        for old in result.removed:
            self.stdout.write(f"removed old backup {old.name}")
