"""Print a new VAPID key pair for Web Push as env lines (WEBPUSH_VAPID_PRIVATE_KEY)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid
from py_vapid.utils import b64urlencode


class Command(BaseCommand):
    help = "Generate a VAPID key pair for Web Push; put the private key in the environment."

    def handle(self, *args, **options) -> None:
        vapid = Vapid()
        vapid.generate_keys()
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={b64urlencode(private)}\n")
        self.stdout.write(f"# public key (derived by the server, shown for reference): {b64urlencode(public)}\n")
