"""Celery workers (ping/inspect with a timeout), queues, the beat schedule and each task's last run."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django_celery_beat.models import PeriodicTask

from digitalme.celery import app, queue_lengths


class Command(BaseCommand):
    help = "Show Celery workers, queues, the beat schedule and each periodic task's last run."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for workers")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        timeout = options["timeout"]
        try:
            inspect = app.control.inspect(timeout=timeout)
            pings = app.control.ping(timeout=timeout) or []
            active_queues = inspect.active_queues() or {}
            active = inspect.active() or {}
            broker_error = ""
        except Exception as exc:  # noqa: BLE001 - broker unreachable
            pings, active_queues, active = [], {}, {}
            broker_error = type(exc).__name__
        workers = {}
        for reply in pings:
            for name, answer in reply.items():
                workers[name] = {
                    "ping": answer.get("ok", answer),
                    "queues": [q["name"] for q in active_queues.get(name, [])],
                    "active_tasks": len(active.get(name, [])),
                }
        queue_names = sorted({q for w in workers.values() for q in w["queues"]} | {app.conf.task_default_queue})
        schedule = []
        for task in PeriodicTask.objects.select_related("interval", "crontab").order_by("name"):
            schedule.append(
                {
                    "name": task.name,
                    "task": task.task,
                    "enabled": task.enabled,
                    "schedule": str(task.interval or task.crontab or task.solar or task.clocked),
                    "last_run_at": task.last_run_at.isoformat() if task.last_run_at else None,
                    "total_run_count": task.total_run_count,
                }
            )
        report = {
            "broker": app.conf.broker_url.split("@")[-1],
            "broker_error": broker_error,
            "workers": workers,
            "queues": queue_lengths(queue_names),
            "beat_schedule": schedule,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(f"broker: {report['broker']}" + (f" (unreachable: {broker_error})" if broker_error else ""))
        self.stdout.write(f"workers ({len(workers)} answered within {timeout:g}s):")
        for name, info in workers.items():
            self.stdout.write(f"  {name}: queues={','.join(info['queues'])} active={info['active_tasks']}")
        if not workers:
            self.stdout.write("  none — start one with `celery -A digitalme worker`")
        self.stdout.write("queues:")
        for name, length in report["queues"].items():
            self.stdout.write(f"  {name}: {'?' if length is None else length} waiting")
        self.stdout.write("beat schedule:")
        for item in schedule:
            state = "on" if item["enabled"] else "off"
            self.stdout.write(
                f"  [{state}] {item['name']} ({item['task']}) {item['schedule']}; last run: {item['last_run_at'] or 'never'}"
            )
