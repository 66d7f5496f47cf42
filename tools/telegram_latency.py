"""Telegram on the real stack: how fast the webhook acknowledges, and what a reply costs beyond the LLM.

Starts daphne (the webhook) and a Celery worker (which answers stored updates, as in production)
on PostgreSQL and Redis from the environment, the fake Telegram Bot API from the tests on loopback
and the fake LLM (`fake/ivan`); links a throwaway user to a Telegram user id; then, one message at
a time, POSTs an update to /telegram/webhook/ and waits for the bot's sendMessage at the fake.
With --background-s S, one background job of S seconds (`loadtest.hold`, a stand-in for a memory
summary waiting for the LLM) is queued on the default queue before each measured message;
--workers shared runs the old shape (one worker for both queues) to compare with the Procfile's
split (a background worker on `celery`, the Telegram worker on `telegram`).
Per message:
  - ack: POST → the webhook's 200 (the update is stored and queued);
  - reply: POST → sendMessage arriving at the Bot API;
  - LLM: the model's own time for the reply (the stored reply's `latency_ms`);
  - overhead: reply − LLM (queueing, the worker, the database, moderation, Telegram calls);
and where a reply's time goes, from the rows' own timestamps (one wall clock, one machine): the
webhook storing it, the Celery queue up to the turn's start (publish, delivery to a pool child,
its lease and the sender's hop), then the chat turn and its reply to sendMessage at the Bot API.
Prints p50/p95/max of each (one percentile rule: digitalme/stats.py) against the issue's targets
(ack p95 < 50 ms, overhead p95 < 100 ms) and writes bench-output/telegram_latency.json.

    make bench-telegram BENCH_ARGS="--runs 30"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "latency-webhook-secret"
TG_USER_ID = 5550001
ACK_P95_TARGET_MS, OVERHEAD_P95_TARGET_MS = 50.0, 100.0
SERVER_ENV = {
    "LLM_MODEL": "fake/ivan",
    "LLM_FALLBACK_MODELS": "",
    "LOG_LEVEL": "WARNING",
    "TELEGRAM_WEBHOOK_SECRET": SECRET,
    "TELEGRAM_RATE_LIMIT_PER_MIN": "100000",
    "CHAT_RATE_LIMIT": "100000",
}


def _update(update_id: int, run: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1000 + run,  # warm-up messages count down from 999
            "date": int(time.time()),
            "chat": {"id": TG_USER_ID, "type": "private"},
            "from": {"id": TG_USER_ID, "is_bot": False, "first_name": "Bench", "language_code": "en"},
            "text": f"Latency probe number {run}",
        },
    }


STAGES = ("stored", "queued_to_turn", "turn_to_send")


def _timeline(samples: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per stage, p50/p95/max ms over the samples, from the update's and its messages' stored times."""
    from django.apps import apps

    from digitalme.stats import percentiles_ms

    update_ids = [sample["update_id"] for sample in samples]
    updates = dict(
        apps.get_model("telegram_bot", "ProcessedUpdate")
        .objects.filter(update_id__in=update_ids)
        .values_list("update_id", "received")
    )
    messages = apps.get_model("chat", "Message").objects.filter(client_id__in=[f"tg:{u}" for u in update_ids])
    turn_start = dict(messages.filter(role="user").values_list("client_id", "created"))
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for sample in samples:
        received, start = updates.get(sample["update_id"]), turn_start.get(f"tg:{sample['update_id']}")
        if received is None or start is None:
            continue
        posted = sample["posted_at"]
        marks = [posted, received.timestamp(), start.timestamp(), posted + sample["reply_ms"] / 1000]
        for stage, (begin, finish) in zip(STAGES, itertools.pairwise(marks), strict=True):
            stages[stage].append((finish - begin) * 1000)
    return {stage: percentiles_ms(values) for stage, values in stages.items()}


def _purge_background_jobs() -> None:
    """Drop the background jobs still queued (a run leaves its backlog; the next must not inherit it)."""
    from digitalme.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")


def _parent_cpu_s(worker: Any) -> float | None:
    """The Celery parent's own CPU (the broker loop, handing tasks to the pool), without its children's."""
    from loadtest.server import _cpu_s

    return _cpu_s(worker.process.pid) if worker.process is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="measured messages (after a warm-up of each worker child)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one reply")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    parser.add_argument(
        "--background-s",
        type=float,
        default=0.0,
        help="queue a background job of this many seconds before each message",
    )
    parser.add_argument(
        "--workers",
        choices=("split", "shared"),
        default="split",
        help="split: the Procfile's background and Telegram workers; shared: one worker for both queues (before)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        print("--runs must be ≥ 1", file=sys.stderr)
        return 2

    from tests.fakes.telegram import FakeTelegram

    fake = FakeTelegram().start()
    env = {**SERVER_ENV, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url}
    from loadtest.server import CeleryWorker, DaphneServer, bench_django_setup

    refused = bench_django_setup(env)
    if refused:
        print(f"make bench-telegram {refused}", file=sys.stderr)
        return 2
    from digitalme.stats import percentiles_ms
    from loadtest.services import loadtest_telegram_link, loadtest_users_create, loadtest_users_delete, reply_llm_ms

    args.output.mkdir(parents=True, exist_ok=True)
    run_id, (user,) = loadtest_users_create(count=1)
    loadtest_telegram_link(user_id=user.id, telegram_user_id=TG_USER_ID)
    web = DaphneServer(env=env, log_path=args.output / "telegram-daphne.log")
    from django.conf import settings

    from digitalme.celery import app

    telegram_queues = (settings.TELEGRAM_QUEUE,) if args.workers == "split" else ("celery", settings.TELEGRAM_QUEUE)
    worker = CeleryWorker(env=env, queues=telegram_queues, log_path=args.output / "telegram-worker.log")
    background = (
        CeleryWorker(env=env, queues=("celery",), log_path=args.output / "background-worker.log")
        if args.workers == "split"
        else None
    )
    samples: list[dict[str, Any]] = []
    cpu_ms_per_message: dict[str, float | None] = {}
    loadavg_before = os.getloadavg()
    try:
        web.start()
        worker.start()
        if background is not None:
            background.start()
        with httpx.Client(base_url=web.http_url, trust_env=False, timeout=args.timeout) as http:
            first_id = int(time.time() * 1000) % 2_000_000_000

            def post(number: int) -> tuple[float, float, float]:
                posted_at, started = time.time(), time.monotonic()
                response = http.post(
                    "/telegram/webhook/",
                    content=json.dumps(_update(first_id + number, number)),
                    headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                if response.status_code != 200:
                    raise RuntimeError(f"the webhook answered {response.status_code}: {response.text}")
                return posted_at, started, time.monotonic()

            # Warm-up, not measured: each worker child pays its imports, the bot's getMe and the
            # tokenizer on its first update (seconds), so every child gets updates at once, twice.
            for round_ in range(2):
                before = len(fake.calls_of("sendMessage"))
                for child in range(worker.concurrency):
                    post(-(round_ * worker.concurrency + child + 1))
                fake.wait_for("sendMessage", count=before + worker.concurrency, timeout=args.timeout * 3)
            cpu_before = web.cpu_s(), worker.cpu_s(), _parent_cpu_s(worker)
            for run in range(1, args.runs + 1):  # one at a time: the cost of a turn, not of a queue
                if args.background_s > 0:
                    app.send_task("loadtest.hold", args=[args.background_s])
                before = len(fake.calls_of("sendMessage"))
                posted_at, started, acknowledged = post(run)
                fake.wait_for("sendMessage", count=before + 1, timeout=args.timeout)
                # Call.at (the fake's arrival time) is time.monotonic(): the same clock as `started`.
                arrived = fake.calls_of("sendMessage")[before].at
                samples.append(
                    {
                        "update_id": first_id + run,
                        "posted_at": posted_at,
                        "ack_ms": (acknowledged - started) * 1000,
                        "reply_ms": (arrived - started) * 1000,
                    }
                )
                print(f"run {run:3d}: ack {samples[-1]['ack_ms']:6.1f} ms, reply {samples[-1]['reply_ms']:7.1f} ms")
            cpu_after = web.cpu_s(), worker.cpu_s(), _parent_cpu_s(worker)
            # CPU per message is steadier than any latency on a shared machine (docs/QUALITY.md).
            cpu_ms_per_message = {
                role: round((after - before) * 1000 / args.runs, 1)
                if before is not None and after is not None
                else None
                for role, before, after in zip(("web", "worker", "worker_parent"), cpu_before, cpu_after, strict=True)
            }
    finally:
        if args.background_s > 0:
            _purge_background_jobs()
        if background is not None:
            background.stop()
        worker.stop()
        web.stop()
        fake.stop()
        try:
            llm = reply_llm_ms(client_ids=[f"tg:{sample['update_id']}" for sample in samples])
            timeline = _timeline(samples)
        finally:
            loadtest_users_delete(run_id=run_id)

    for sample in samples:
        sample["llm_ms"] = llm.get(f"tg:{sample['update_id']}")
        sample["overhead_ms"] = sample["reply_ms"] - sample["llm_ms"] if sample["llm_ms"] is not None else None
    figures = {
        kind: percentiles_ms(sample[f"{kind}_ms"] for sample in samples) for kind in ("ack", "reply", "llm", "overhead")
    }
    report = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": loadavg_before, "loadavg_after": os.getloadavg()},
        "config": {
            "runs": args.runs,
            "model": SERVER_ENV["LLM_MODEL"],
            "worker_concurrency": worker.concurrency,
            "workers": args.workers,
            "background_s": args.background_s,
        },
        "latency_ms": figures,
        "server_cpu_ms_per_message": cpu_ms_per_message,
        "timeline_ms": timeline,
        "targets": {
            "ack_p95_under_50_ms": (figures["ack"]["p95"] or float("inf")) < ACK_P95_TARGET_MS,
            "overhead_p95_under_100_ms": (figures["overhead"]["p95"] or float("inf")) < OVERHEAD_P95_TARGET_MS,
        },
        "replies_with_llm_time": sum(1 for sample in samples if sample["llm_ms"] is not None),
        "samples": samples,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (args.output / "telegram_latency.json").write_text(json.dumps(report, indent=2))
    print(f"\n{len(samples)} messages, {os.cpu_count()} CPUs, load average {loadavg_before} → {os.getloadavg()}")
    for kind, label in (
        ("ack", "webhook ack"),
        ("reply", "POST → sendMessage"),
        ("llm", "LLM"),
        ("overhead", "overhead"),
    ):
        f = figures[kind]
        print(f"  {label:20} p50 {f['p50']} ms  p95 {f['p95']} ms  max {f['max']} ms")
    print("  where a reply's time goes (p50 / p95 ms):")
    for stage, label in zip(
        STAGES,
        (
            "POST → stored (web)",
            "stored → turn starts (queue, lease, sender)",
            "turn starts → sendMessage arrives",
        ),
        strict=True,
    ):
        print(f"    {label:44} {timeline[stage]['p50']} / {timeline[stage]['p95']}")
    print(
        f"  server CPU per message: {cpu_ms_per_message} ms (web: the webhook; worker: the reply, its pool children and the Celery parent that feeds them)"
    )
    print(f"  targets: {report['targets']}")
    print(f"  written: {args.output / 'telegram_latency.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
