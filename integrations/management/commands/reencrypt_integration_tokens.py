"""After prepending a new key to FIELD_ENCRYPTION_KEY: rewrite every stored token under it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from integrations.crypto import TokenDecryptionError
from integrations.services import integration_tokens_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt stored OAuth tokens with the newest FIELD_ENCRYPTION_KEY (key rotation)."

    def handle(self, *args, **options):
        try:
            count = integration_tokens_reencrypt()
        except TokenDecryptionError as exc:
            raise CommandError(f"{exc}; keep the old key in FIELD_ENCRYPTION_KEY (after the new one) until this runs.")
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {count} token row(s) with the newest key"))
