"""`manage.py restore FILE`: replace the database's contents with a backup made by `manage.py backup`.

The file is decrypted and checked completely before the database is touched; a damaged file,
a wrong key or a missing tool stops with the fix and changes nothing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.backups import BackupError, Database, backup_key, backup_restore


class Command(BaseCommand):
    help = "Restore the database from a backup file (stop web, worker and beat first)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a backup written by `manage.py backup`")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file. Backups are listed in BACKUP_DIR. Nothing was changed.")
        try:
            database = Database.from_settings()
            fernet = backup_key()
        except BackupError as exc:
            raise CommandError(f"{exc.detail}. Nothing was changed.") from exc
        if not options["yes"]:
            answer = input(f"Replace everything in database {database.name!r} with {path.name}? Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("cancelled. Nothing was changed.")
        try:
            backup_restore(path=path, database=database, fernet=fernet)
        except BackupError as exc:
            raise CommandError(f"restore failed: {exc.detail}. Nothing was changed.") from exc
        self.stdout.write(
            self.style.SUCCESS(f"restored {database.name} from {path.name}; run `manage.py migrate` next")
        )
