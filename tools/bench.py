"""`make bench`: the chat path under load against the bare Channels floor, on one real server.

Starts daphne itself (migrated PostgreSQL from DATABASE_URL, channels-redis on REDIS_URL) with
the `fake/fixed40` model (a fixed 40-token reply, zero delay: the server's own cost is measured)
and the echo consumer enabled. Then, with the same client (loadtest/client.py):
  1. echo floor: N users × M messages on /ws/bench/echo/ (same frames, no DB, no LLM);
  2. chat: N users × M messages on /ws/chat/ (the real pipeline);
  3. held: IDLE extra authenticated sockets kept open while N users chat again.
Prints a summary and writes bench-output/bench.json and bench-output/latency.png.

    make bench BENCH_ARGS="--users 100 --messages 10 --idle 900"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_ENV = {
    "LLM_MODEL": "fake/fixed40",
    "LLM_FALLBACK_MODELS": "",
    "BENCH_ECHO_ENABLED": "true",
    "LOG_LEVEL": "WARNING",
    # The bench users send back-to-back: the per-user rate limit would only measure itself.
    "CHAT_RATE_LIMIT": "1000000",
}
TABS_PER_IDLE_USER = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="concurrent active users (default 100)")
    parser.add_argument("--messages", type=int, default=10, help="messages per user (default 10)")
    parser.add_argument("--idle", type=int, default=900, help="idle sockets held open in phase 3 (0 skips it)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    return parser.parse_args()


def _latencies(runs: list[Any]) -> tuple[list[float], list[float]]:
    ok = [turn for run in runs for turn in run.turns if turn.ok]
    return [t.ttft_s * 1000 for t in ok if t.ttft_s is not None], [t.total_s * 1000 for t in ok if t.total_s]


def _ratio(chat: float | None, floor: float | None) -> float | None:
    return round(chat / floor, 2) if chat and floor else None


def _plot(path: Path, echo_runs: list[Any], chat_runs: list[Any], held_runs: list[Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = [("echo floor", echo_runs, "#7a7a7a"), ("chat", chat_runs, "#1f6feb")]
    if held_runs:
        series.append(("chat + idle sockets", held_runs, "#d2691e"))
    everything = [value for _, runs, _ in series for part in _latencies(runs) for value in part if value > 0]
    # Log-spaced bins: the floor and the chat path differ by orders of magnitude.
    bins = np.logspace(np.log10(max(min(everything, default=1), 0.1)), np.log10(max(everything, default=10)), 80)
    figure, (first, full) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, runs, color in series:
        ttft, total = _latencies(runs)
        if ttft:
            first.hist(ttft, bins=bins, alpha=0.55, label=label, color=color)
        if total:
            full.hist(total, bins=bins, alpha=0.55, label=label, color=color)
    first.set_title("Time to first token")
    full.set_title("Time to full reply (40 tokens)")
    for axis in (first, full):
        axis.set_xscale("log")
        axis.set_xlabel("ms (log scale)")
        axis.set_ylabel("turns")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    args = parse_args()
    if args.users < 1 or args.messages < 1 or args.idle < 0:
        print("--users and --messages must be ≥ 1, --idle ≥ 0", file=sys.stderr)
        return 2
    os.environ.update(SERVER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from loadtest import client
    from loadtest.server import DaphneServer
    from loadtest.services import loadtest_users_create, loadtest_users_delete, user_messages_stored

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
        print("make bench needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL).", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)  # idempotent

    idle_users = -(-args.idle // TABS_PER_IDLE_USER)
    run_id, users = loadtest_users_create(count=args.users + idle_users)
    active, idle = users[: args.users], users[args.users :]
    tokens = [user.token for user in active]
    idle_tokens = [user.token for user in idle for _ in range(TABS_PER_IDLE_USER)][: args.idle]
    server = DaphneServer(env=SERVER_ENV, log_path=args.output / "server.log")
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
        "config": {
            "users": args.users,
            "messages_per_user": args.messages,
            "idle_sockets": args.idle,
            "model": SERVER_ENV["LLM_MODEL"],
            "tokens_per_reply": len(client.ECHO_TOKENS),
        },
    }
    try:
        server.start()
        opener = client.SocketConnection.opener(server.ws_url, timeout_s=args.timeout)
        print(f"daphne pid {server.process.pid if server.process else '?'} on {server.http_url}")

        cpu_ms_per_turn: dict[str, float | None] = {}

        def phase(
            path: str, *, user_tokens: list[str], idle_tokens: tuple[str, ...] | list[str] = (), name: str = ""
        ) -> Any:
            cpu_before = server.cpu_s()
            result = asyncio.run(
                client.run_chat_load(
                    opener,
                    tokens=user_tokens,
                    messages_per_user=args.messages,
                    timeout_s=args.timeout,
                    path=path,
                    idle_tokens=idle_tokens,
                )
            )
            cpu_after = server.cpu_s()
            turns = len(user_tokens) * args.messages
            if name and cpu_before is not None and cpu_after is not None:
                # The server's own CPU time (the client runs in another process) per turn of the phase.
                cpu_ms_per_turn[name] = round((cpu_after - cpu_before) * 1000 / turns, 2)
            return result

        # Warm-up (not measured): imports, pools, the first LLM call.
        warm = tokens[: min(5, len(tokens))]
        asyncio.run(client.run_chat_load(opener, tokens=warm, messages_per_user=2, path="/ws/bench/echo/"))
        asyncio.run(client.run_chat_load(opener, tokens=warm, messages_per_user=2, path="/ws/chat/"))
        stored_before = user_messages_stored(user_ids=[user.id for user in active])

        print(f"echo floor: {args.users} users × {args.messages} messages …", flush=True)
        echo_runs, _, echo_wall = phase("/ws/bench/echo/", user_tokens=tokens, name="echo_floor")
        echo = client.summarize(echo_runs, wall_s=echo_wall, expected_tokens=len(client.ECHO_TOKENS))
        echo["server_peak_rss_mb"] = server.peak_rss_mb()

        print(f"chat: {args.users} users × {args.messages} messages …", flush=True)
        chat_runs, _, chat_wall = phase("/ws/chat/", user_tokens=tokens, name="chat")
        chat = client.summarize(chat_runs, wall_s=chat_wall, expected_tokens=len(client.ECHO_TOKENS))
        stored_after_chat = user_messages_stored(user_ids=[user.id for user in active])
        chat["messages_sent"] = chat["turns_sent"]
        chat["messages_stored"] = stored_after_chat - stored_before
        chat["server_peak_rss_mb"] = server.peak_rss_mb()

        held: dict[str, Any] | None = None
        held_runs: list[Any] = []
        if idle_tokens:
            print(f"held: {len(idle_tokens)} idle sockets open while {args.users} users chat …", flush=True)
            held_runs, idle_runs, held_wall = phase(
                "/ws/chat/", user_tokens=tokens, idle_tokens=idle_tokens, name="chat_with_idle_sockets"
            )
            held = client.summarize(held_runs, wall_s=held_wall, expected_tokens=len(client.ECHO_TOKENS))
            held["messages_sent"] = held["turns_sent"]
            held["messages_stored"] = user_messages_stored(user_ids=[user.id for user in active]) - stored_after_chat
            held["idle_sockets_requested"] = len(idle_tokens)
            held["idle_sockets_held"] = sum(1 for run in idle_runs if run.ready)
            held["idle_failed_handshakes"] = sum(1 for run in idle_runs if not run.handshake_ok)
            held["open_sockets_peak"] = held["idle_sockets_held"] + args.users
            held["server_peak_rss_mb"] = server.peak_rss_mb()
        report["server_cpu_ms_per_turn"] = cpu_ms_per_turn
        report["server_rss_mb_at_end"] = server.rss_mb()
        report["server_peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
        loadtest_users_delete(run_id=run_id)

    report["echo_floor"] = echo
    report["chat"] = chat
    if held is not None:
        report["chat_with_idle_sockets"] = held
    report["ratios_chat_to_floor"] = {
        f"{kind}_{p}": _ratio(chat[f"{kind}_ms"][p], echo[f"{kind}_ms"][p])
        for kind in ("ttft", "full_reply")
        for p in ("p50", "p95", "p99")
    }
    report["ratios_chat_to_floor"]["turns_per_s"] = _ratio(chat["turns_per_s"], echo["turns_per_s"])
    report["targets"] = {
        "zero_errors": chat["errors"] == 0 and (held is None or held["errors"] == 0),
        "stored_equals_sent": chat["messages_stored"] == chat["messages_sent"]
        and (held is None or held["messages_stored"] == held["messages_sent"]),
        "frames_all_received": chat["frames_received"] == chat["frames_expected"],
        "p95_full_reply_within_2x_floor": (report["ratios_chat_to_floor"]["full_reply_p95"] or 99) <= 2.0,
        "rss_under_250_mb": (report["server_peak_rss_mb"] or 0) < 250,
        "idle_sockets_held": None if held is None else held["idle_sockets_held"] == len(idle_tokens),
    }
    report["targets"]["cpu_ms_per_turn_at_most_10"] = (report["server_cpu_ms_per_turn"].get("chat") or 99) <= 10
    report["machine"]["loadavg_after"] = os.getloadavg()
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    (args.output / "bench.json").write_text(json.dumps(report, indent=2))
    _plot(args.output / "latency.png", echo_runs, chat_runs, held_runs)
    _print(report, args.output)
    return 0


def _line(name: str, figures: dict[str, Any]) -> str:
    ttft, full = figures["ttft_ms"], figures["full_reply_ms"]
    return (
        f"  {name:22} {figures['turns_per_s']:>7} turns/s  ttft p50/p95/p99 {ttft['p50']}/{ttft['p95']}/{ttft['p99']} ms"
        f"  full {full['p50']}/{full['p95']}/{full['p99']} ms  errors {figures['errors']}"
        f"  handshakes failed {figures['failed_handshakes']}  frames {figures['frames_received']}/{figures['frames_expected']}"
    )


def _print(report: dict[str, Any], output: Path) -> None:
    print()
    print(_line("echo floor", report["echo_floor"]))
    print(_line("chat", report["chat"]))
    if "chat_with_idle_sockets" in report:
        held = report["chat_with_idle_sockets"]
        print(_line("chat + idle sockets", held))
        print(
            f"  {'':22} open sockets {held['open_sockets_peak']} ({held['idle_sockets_held']}/"
            f"{held['idle_sockets_requested']} idle held); stored {held['messages_stored']}/{held['messages_sent']}"
        )
    chat = report["chat"]
    print(f"  messages stored/sent: {chat['messages_stored']}/{chat['messages_sent']}")
    print(f"  ratios chat/floor: {report['ratios_chat_to_floor']}")
    print(f"  server CPU ms per turn: {report['server_cpu_ms_per_turn']}")
    print(f"  server peak RSS: {report['server_peak_rss_mb']} MB")
    print(f"  targets: {report['targets']}")
    print(f"  written: {output / 'bench.json'}, {output / 'latency.png'}")


if __name__ == "__main__":
    sys.exit(main())
