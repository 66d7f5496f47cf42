"""Sync integrations now, in this process, with a progress bar: `sync_integrations [--user EMAIL] [--provider P]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from integrations.errors import SyncError
from integrations.models import Integration, IntegrationStatus, Provider
from integrations.sync import integration_sync


class Command(BaseCommand):
    help = "Sync enabled integrations now (all users, or one user / one provider)."

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="EMAIL", help="only this user's integrations")
        parser.add_argument("--provider", choices=Provider.values, help="only this provider")

    def handle(self, *args, **options):
        integrations = Integration.objects.filter(enabled=True, status=IntegrationStatus.ACTIVE).select_related("user")
        if options["user"]:
            integrations = integrations.filter(user__email__iexact=options["user"])
            if not integrations.exists():
                raise CommandError(f"No enabled, connected integration for {options['user']}.")
        if options["provider"]:
            integrations = integrations.filter(provider=options["provider"])
        totals = {"ok": 0, "failed": 0, "skipped": 0}
        for integration in tqdm(
            list(integrations.order_by("pk")), desc="syncing", unit="integration", file=self.stderr
        ):
            label = f"{integration.user.email} {integration.provider}"
            try:
                run = integration_sync(integration_id=integration.pk, trigger="command")
            except SyncError as exc:
                totals["failed"] += 1
                self.stderr.write(f"{label}: {exc.code}: {exc.detail}")
                continue
            if run is None:
                totals["skipped"] += 1
                continue
            totals["ok" if run.status == "ok" else "failed"] += 1
            fetched = sum(c.get("fetched", 0) for c in run.counts.values())
            self.stdout.write(f"{label}: {run.status}, {fetched} fetched in {run.duration_ms} ms")
        self.stdout.write(
            self.style.SUCCESS(f"done: {totals['ok']} ok, {totals['failed']} failed, {totals['skipped']} skipped")
        )
