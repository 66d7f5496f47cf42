"""`manage.py loadtest --url URL --users N --duration S --scenarios chat,integrations,personality`

Drives a running server with N virtual users for S seconds (the same client as `make bench`).
The users are created in this settings' database with access tokens signed by this JWT key, so
the target must share them (a staging box or `make run`); they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loadtest import client
from loadtest.services import loadtest_users_create, loadtest_users_delete, user_messages_stored


class Command(BaseCommand):
    help = "Load a running DigitalMe server with virtual users (chat, integrations, personality)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
        parser.add_argument("--users", type=int, default=10)
        parser.add_argument("--duration", type=float, default=30.0, help="seconds")
        parser.add_argument("--scenarios", default="chat", help="comma-separated: " + ",".join(client.SCENARIOS))
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
        parser.add_argument("--json", action="store_true", help="print only the JSON report")

    def handle(self, *args, **options) -> None:
        scenarios = [name.strip() for name in options["scenarios"].split(",") if name.strip()]
        unknown = sorted(set(scenarios) - set(client.SCENARIOS))
        if unknown or not scenarios:
            raise CommandError(f"Unknown scenarios {unknown}; choose from {', '.join(client.SCENARIOS)}.")
        if not 1 <= options["users"] <= 2000:
            raise CommandError("--users must be between 1 and 2000.")
        if not 0 < options["duration"] <= 3600:
            raise CommandError("--duration must be between 0 and 3600 seconds.")
        url = options["url"].rstrip("/")
        if not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise CommandError("--url must start with http://, https://, ws:// or wss://.")

        run_id, users = loadtest_users_create(count=options["users"])
        try:
            report = asyncio.run(
                client.run_scenarios(
                    base_url=url,
                    tokens=[user.token for user in users],
                    scenarios=scenarios,
                    duration_s=options["duration"],
                    timeout_s=options["timeout"],
                )
            )
            if "chat" in scenarios:
                report["chat_messages_stored"] = user_messages_stored(user_ids=[user.id for user in users])
        finally:
            loadtest_users_delete(run_id=run_id)

        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"{report['users']} users for {report['duration_s']} s against {url}")
        for name, figures in report["scenarios"].items():
            latency = figures["latency_ms"]
            self.stdout.write(
                f"  {name:13} {figures['ok']:6} ok {figures['errors']:4} errors  {figures['per_s']}/s  "
                f"p50 {latency['p50']} ms  p95 {latency['p95']} ms  p99 {latency['p99']} ms"
                + (f"  errors: {figures['error_codes']}" if figures["error_codes"] else "")
            )
        if "chat" in scenarios:
            self.stdout.write(
                f"  chat messages sent {report['chat_messages_sent']}, stored {report['chat_messages_stored']}"
            )
