"""Memory of one web process serving only the chat path, step by step (docs/QUALITY.md, "Memory of
a web process"): RSS and its high-water mark after start, after warm-up turns, after USERS × MESSAGES
chat turns, and with IDLE more authenticated chat sockets open while the same users chat again —
the issue's "1,000 open sockets with 100 active" without the echo floor's phases in the same
process (`make bench` runs those first, in the same process, and its peak carries what they leave).

    python tools/memory_probe.py --users 100 --messages 10 --idle 900

Same server as `make bench` (loadtest/server.py: `python -m digitalme.serve`, `fake/fixed40`,
MALLOC_ARENA_MAX=2), same client (loadtest/client.py); needs DATABASE_URL (PostgreSQL) and REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.bench import CHAT_PATH, SERVER_ENV, TABS_PER_IDLE_USER  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--idle", type=int, default=900)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    from loadtest.server import DaphneServer, bench_django_setup

    refused = bench_django_setup(SERVER_ENV)
    if refused:
        print(f"memory_probe {refused}", file=sys.stderr)
        return 2
    from loadtest import client
    from loadtest.services import loadtest_users_create, loadtest_users_delete

    run_id, users = loadtest_users_create(count=args.users + -(-args.idle // TABS_PER_IDLE_USER))
    tokens = [user.token for user in users[: args.users]]
    idle_tokens = [user.token for user in users[args.users :] for _ in range(TABS_PER_IDLE_USER)][: args.idle]
    server = DaphneServer(env=SERVER_ENV, log_path=ROOT / "bench-output" / "memory-probe-server.log")
    print(f"load average {os.getloadavg()}")
    try:
        server.start()

        def report(step: str) -> None:
            print(f"  {step:<48} RSS {server.rss_mb():7.1f} MB   peak {server.peak_rss_mb():7.1f} MB", flush=True)

        report("after start")
        opener = client.SocketConnection.opener(server.ws_url, timeout_s=args.timeout)

        def chat(with_idle: list[str], messages: int, some: list[str]) -> None:
            active, idle, _ = asyncio.run(
                client.run_chat_load(
                    opener,
                    tokens=some,
                    messages_per_user=messages,
                    timeout_s=args.timeout,
                    path=CHAT_PATH,
                    idle_tokens=with_idle,
                )
            )
            errors = sum(1 for run in active for turn in run.turns if not turn.ok) + sum(
                1 for run in active if run.error
            )
            held = sum(1 for run in idle if run.ready)
            print(f"  ({len(some)} users × {messages}: {errors} turn errors; idle held {held}/{len(with_idle)})")

        chat([], 2, tokens[:5])
        report("after warm-up (5 users × 2 turns)")
        chat([], args.messages, tokens)
        report(f"after {args.users} users × {args.messages} turns")
        chat(idle_tokens, args.messages, tokens)
        report(f"{len(idle_tokens)} idle + {args.users} chatting × {args.messages}")
    finally:
        server.stop()
        loadtest_users_delete(run_id=run_id)
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
