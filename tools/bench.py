"""`make bench`: the chat path under load against the bare Channels floor, through the same balancer.

For each N of `--processes` (default 1) starts N daphne processes for the floor and N for the chat
(so the chat's peak RSS is a chat-serving process's, as in production) (migrated PostgreSQL from
DATABASE_URL, channels-redis on REDIS_URL, the `fake/fixed40` model: a fixed 40-token reply with
zero delay, so the server's own cost is measured, and the echo consumer enabled) behind the
round-robin balancer of loadtest/balancer.py, and with one client (loadtest/client.py) runs:
  1. echo floor: USERS × MESSAGES on /ws/bench/echo/ (same frames, no DB, no LLM);
  2. chat: USERS × MESSAGES on /ws/chat/ (the real pipeline);
  3. and 4. the same two with IDLE extra authenticated sockets held open meanwhile.
Every phase records turns/s, time to first token and to the full reply (p50/p95/p99), errors,
frames received vs expected, messages stored vs sent (chat), the servers' CPU time per turn
(utime + stime of every daphne process, summed; the balancer's apart) and peak RSS per process.
Prints chat vs floor for each N and writes bench-output/bench.json (every figure, the latency
histograms' counts) and bench-output/latency.png (the histograms, one row per N).

    make bench BENCH_ARGS="--users 100 --messages 10 --idle 900 --processes 1,2"
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import sys
import time
from collections import Counter
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
ECHO_PATH, CHAT_PATH = "/ws/bench/echo/", "/ws/chat/"
# (phase, path, with idle sockets, the floor it is compared with)
PHASES = (
    ("echo_floor", ECHO_PATH, False, None),
    ("chat", CHAT_PATH, False, "echo_floor"),
    ("echo_floor_with_idle_sockets", ECHO_PATH, True, None),
    ("chat_with_idle_sockets", CHAT_PATH, True, "echo_floor_with_idle_sockets"),
)
HISTOGRAM_BINS = 80
TARGET_P95_RATIO, TARGET_TURNS_RATIO, TARGET_CPU_MS, TARGET_RSS_MB = 2.0, 0.4, 10.0, 250.0


def _process_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give process counts like 1 or 1,2") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("process counts must be ≥ 1")
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100, help="concurrent active users (default 100)")
    parser.add_argument("--messages", type=int, default=10, help="messages per user (default 10)")
    parser.add_argument("--idle", type=int, default=900, help="idle sockets held open in phases 3-4 (0 skips them)")
    parser.add_argument(
        "--processes", type=_process_counts, default=[1], help="daphne processes behind the balancer: N or a list 1,2"
    )
    parser.add_argument(
        "--llm",
        choices=["inprocess", "http"],
        default="inprocess",
        help="inprocess: fake/fixed40 in the server (default); http: the same reply as openai/fixed40 from a"
        " loopback OpenAI-compatible server in its own process — the lean HTTP path production uses",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    return parser.parse_args(argv)


def _ratio(chat: float | None, floor: float | None) -> float | None:
    return round(chat / floor, 2) if chat and floor else None


def _latencies_ms(runs: list[Any]) -> dict[str, list[float]]:
    ok = [turn for run in runs for turn in run.turns if turn.ok]
    return {
        "ttft": [t.ttft_s * 1000 for t in ok if t.ttft_s is not None],
        "full_reply": [t.total_s * 1000 for t in ok if t.total_s is not None],
    }


def histogram(series: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Counts per log-spaced bin (the floor and the chat path differ by orders of magnitude), one
    set of bins for every series of a run so they can be drawn over each other."""
    values = [v for kinds in series.values() for part in kinds.values() for v in part if v > 0]
    low, high = max(min(values, default=1.0), 0.1), max(values, default=10.0)
    high = max(high, low * 1.01)
    step = math.log(high / low) / HISTOGRAM_BINS
    edges = [round(low * math.exp(step * i), 3) for i in range(HISTOGRAM_BINS + 1)]
    edges[-1] = max(edges[-1], high)

    def counts(part: list[float]) -> list[int]:
        bins = [0] * HISTOGRAM_BINS
        for value in part:
            bins[min(max(bisect.bisect_right(edges, value) - 1, 0), HISTOGRAM_BINS - 1)] += 1
        return bins

    return {
        "bin_edges_ms": edges,
        "series": {name: {kind: counts(part) for kind, part in kinds.items()} for name, kinds in series.items()},
    }


def _plot(path: Path, runs: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "echo_floor": "#7a7a7a",
        "chat": "#1f6feb",
        "echo_floor_with_idle_sockets": "#b0b0b0",
        "chat_with_idle_sockets": "#d2691e",
    }
    figure, axes = plt.subplots(len(runs), 2, figsize=(12, 4.5 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs, strict=True):
        edges = run["histogram"]["bin_edges_ms"]
        for name, kinds in run["histogram"]["series"].items():
            for axis, kind in zip(row, ("ttft", "full_reply"), strict=True):
                if any(kinds[kind]):
                    axis.stairs(
                        kinds[kind], edges, fill=True, alpha=0.5, label=name.replace("_", " "), color=colors[name]
                    )
        for axis, title in zip(row, ("Time to first token", "Time to full reply (40 tokens)"), strict=True):
            axis.set_title(f"{title}, {run['processes']} process(es)")
            axis.set_xscale("log")
            axis.set_xlabel("ms (log scale)")
            axis.set_ylabel("turns")
            axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _run_processes(
    n: int, *, args: argparse.Namespace, tokens: list[str], idle_tokens: list[str], active_ids: list[int]
) -> dict[str, Any]:
    """Every phase against N servers behind the balancer; the figures of this N."""
    from loadtest import client
    from loadtest.server import ServerGroup
    from loadtest.services import user_messages_stored

    # The floor and the chat each get their own N servers, started together: a production web
    # process never serves the echo consumer, and memory one phase freed but kept (1,000 echo
    # sockets) must not count as the chat's peak RSS (VmHWM is a process's high-water mark).
    groups = {
        path: ServerGroup(processes=n, env=SERVER_ENV, log_dir=args.output / f"servers-{n}-{label}")
        for label, path in (("echo", ECHO_PATH), ("chat", CHAT_PATH))
    }
    run: dict[str, Any] = {"processes": n, "loadavg_before": os.getloadavg()}
    latencies: dict[str, dict[str, list[float]]] = {}
    try:
        openers = {}
        for path, group in groups.items():
            group.start()
            print(f"{n} daphne process(es) {group.pids} for {path} behind the balancer on {group.http_url}", flush=True)
            openers[path] = client.SocketConnection.opener(group.ws_url, timeout_s=args.timeout)
            # Warm-up (not measured): imports, pools, the first LLM call — in every process.
            warm = (tokens * (2 * n))[: max(5, 2 * n)]
            asyncio.run(client.run_chat_load(openers[path], tokens=warm, messages_per_user=2, path=path))
        for name, path, with_idle, floor in PHASES:
            if with_idle and not idle_tokens:
                continue
            held = idle_tokens if with_idle else []
            print(
                f"  {name}: {len(tokens)} users × {args.messages} messages"
                + (f", {len(held)} idle sockets open" if held else "")
                + " …",
                flush=True,
            )
            stored_before = user_messages_stored(user_ids=active_ids) if path == CHAT_PATH else 0
            group, opener = groups[path], openers[path]
            cpu: dict[str, float | None] = {}

            def active_starts(cpu: dict[str, float | None] = cpu, group: Any = group) -> None:
                # idle handshakes are not turns
                cpu["server"], cpu["balancer"] = group.cpu_s(), group.balancer.cpu_s()

            active, idle, wall_s = asyncio.run(
                client.run_chat_load(
                    opener,
                    tokens=tokens,
                    messages_per_user=args.messages,
                    timeout_s=args.timeout,
                    path=path,
                    idle_tokens=held,
                    before_active=active_starts,
                )
            )
            cpu_before, balancer_before = cpu["server"], cpu["balancer"]
            cpu_after, balancer_after = group.cpu_s(), group.balancer.cpu_s()
            figures = client.summarize(active, wall_s=wall_s, expected_tokens=len(client.ECHO_TOKENS))
            turns = len(tokens) * args.messages
            figures["server_cpu_ms_per_turn"] = (
                round((cpu_after - cpu_before) * 1000 / turns, 2)
                if cpu_before is not None and cpu_after is not None
                else None
            )
            figures["balancer_cpu_ms_per_turn"] = (
                round((balancer_after - balancer_before) * 1000 / turns, 2)
                if balancer_before is not None and balancer_after is not None
                else None
            )
            if path == CHAT_PATH:
                figures["messages_sent"] = figures["turns_sent"]
                figures["messages_stored"] = user_messages_stored(user_ids=active_ids) - stored_before
            if held:
                figures["idle_sockets_requested"] = len(held)
                figures["idle_sockets_held"] = sum(1 for one in idle if one.ready)
                figures["idle_failed_handshakes"] = sum(1 for one in idle if not one.handshake_ok)
                # Why an idle socket never got `ready` (e.g. "TimeoutError": its auth outwaited --timeout).
                figures["idle_error_codes"] = dict(Counter(one.error.split(":", 1)[0] for one in idle if one.error))
                figures["open_sockets_peak"] = figures["idle_sockets_held"] + len(tokens)
            peaks = group.peak_rss_mb()
            figures["server_peak_rss_mb_per_process"] = peaks
            figures["server_peak_rss_mb"] = max((p for p in peaks if p is not None), default=None)
            if floor is not None:
                figures["ratios_to_floor"] = _ratios(figures, run[floor])
            run[name] = figures
            latencies[name] = _latencies_ms(active)
        run["server_rss_mb_at_end_per_process"] = groups[CHAT_PATH].rss_mb()
        run["echo_server_rss_mb_at_end_per_process"] = groups[ECHO_PATH].rss_mb()
    finally:
        for group in groups.values():
            group.stop()
    run["balancer"] = groups[CHAT_PATH].balancer.said
    run["echo_balancer"] = groups[ECHO_PATH].balancer.said
    run["loadavg_after"] = os.getloadavg()
    run["targets"] = _targets(run)
    run["histogram"] = histogram(latencies)
    return run


def _ratios(chat: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    ratios = {
        f"{kind}_{p}": _ratio(chat[f"{kind}_ms"][p], floor[f"{kind}_ms"][p])
        for kind in ("ttft", "full_reply")
        for p in ("p50", "p95", "p99")
    }
    ratios["turns_per_s"] = _ratio(chat["turns_per_s"], floor["turns_per_s"])
    ratios["server_cpu_ms_per_turn"] = _ratio(chat["server_cpu_ms_per_turn"], floor["server_cpu_ms_per_turn"])
    return ratios


def _targets(run: dict[str, Any]) -> dict[str, bool | None]:
    """The issue's "done when", judged on this run's chat phases."""
    chats = [run[name] for name in ("chat", "chat_with_idle_sockets") if name in run]
    return {
        "zero_errors": all(c["errors"] == 0 and c["failed_handshakes"] == 0 for c in chats),
        "stored_equals_sent": all(c["messages_stored"] == c["messages_sent"] for c in chats),
        "every_frame_delivered": all(c["frames_received"] == c["frames_expected"] for c in chats),
        "full_reply_p95_at_most_2x_floor": all(
            (c["ratios_to_floor"]["full_reply_p95"] or math.inf) <= TARGET_P95_RATIO for c in chats
        ),
        "turns_per_s_at_least_0.4x_floor": all(
            (c["ratios_to_floor"]["turns_per_s"] or 0) >= TARGET_TURNS_RATIO for c in chats
        ),
        "server_cpu_ms_per_turn_at_most_10": all(
            (c["server_cpu_ms_per_turn"] or math.inf) <= TARGET_CPU_MS for c in chats
        ),
        "peak_rss_under_250_mb_per_process": all((c["server_peak_rss_mb"] or math.inf) < TARGET_RSS_MB for c in chats),
        "idle_sockets_held": (
            None
            if "chat_with_idle_sockets" not in run
            else all(
                run[name]["idle_sockets_held"] == run[name]["idle_sockets_requested"]
                for name in ("echo_floor_with_idle_sockets", "chat_with_idle_sockets")
            )
        ),
    }


def _llm_over_http() -> Any:
    """Serve fake/fixed40's reply from the loopback OpenAI server (another process, so its CPU is not
    the servers'), and point the servers at it: the turn then streams through the lean HTTP path."""
    from chat.llm.providers.fake import FIXED_40
    from tests.fakes.openai_server import serve_in_a_process

    process, base_url = serve_in_a_process(FIXED_40)
    SERVER_ENV.update({"LLM_MODEL": "openai/fixed40", "LLM_API_BASE": base_url, "LLM_API_KEY": "bench-key"})
    return process


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.users < 1 or args.messages < 1 or args.idle < 0:
        print("--users and --messages must be ≥ 1, --idle ≥ 0", file=sys.stderr)
        return 2
    llm_server = _llm_over_http() if args.llm == "http" else None
    from loadtest.server import bench_django_setup

    refused = bench_django_setup(SERVER_ENV)
    if refused:
        if llm_server is not None:
            llm_server.terminate()
        print(f"make bench {refused}", file=sys.stderr)
        return 2
    from loadtest import client
    from loadtest.services import loadtest_users_create, loadtest_users_delete

    args.output.mkdir(parents=True, exist_ok=True)

    idle_users = -(-args.idle // TABS_PER_IDLE_USER)
    run_id, users = loadtest_users_create(count=args.users + idle_users)
    active, idle = users[: args.users], users[args.users :]
    tokens = [user.token for user in active]
    idle_tokens = [user.token for user in idle for _ in range(TABS_PER_IDLE_USER)][: args.idle]
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
        "config": {
            "users": args.users,
            "messages_per_user": args.messages,
            "idle_sockets": args.idle,
            "processes": args.processes,
            "model": SERVER_ENV["LLM_MODEL"],
            "tokens_per_reply": len(client.ECHO_TOKENS),
        },
        "runs": [],
    }
    try:
        for n in args.processes:
            report["runs"].append(
                _run_processes(
                    n, args=args, tokens=tokens, idle_tokens=idle_tokens, active_ids=[user.id for user in active]
                )
            )
    finally:
        loadtest_users_delete(run_id=run_id)
        if llm_server is not None:
            llm_server.terminate()
    report["scaling"] = [
        {
            "processes": run["processes"],
            "chat_turns_per_s": run["chat"]["turns_per_s"],
            "echo_floor_turns_per_s": run["echo_floor"]["turns_per_s"],
            "turns_per_s_ratio": run["chat"]["ratios_to_floor"]["turns_per_s"],
            "full_reply_p95_ratio": run["chat"]["ratios_to_floor"]["full_reply_p95"],
            "chat_server_cpu_ms_per_turn": run["chat"]["server_cpu_ms_per_turn"],
            "echo_floor_server_cpu_ms_per_turn": run["echo_floor"]["server_cpu_ms_per_turn"],
            "loadavg_before": run["loadavg_before"],
        }
        for run in report["runs"]
    ]
    report["machine"]["loadavg_after"] = os.getloadavg()
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (args.output / "bench.json").write_text(json.dumps(report, indent=2))
    _plot(args.output / "latency.png", report["runs"])
    _print(report, args.output)
    return 0


def _line(name: str, figures: dict[str, Any]) -> str:
    ttft, full = figures["ttft_ms"], figures["full_reply_ms"]
    stored = f"  stored {figures['messages_stored']}/{figures['messages_sent']}" if "messages_sent" in figures else ""
    idle = (
        f"  idle held {figures['idle_sockets_held']}/{figures['idle_sockets_requested']} {figures['idle_error_codes']}"
        if "idle_sockets_requested" in figures
        else ""
    )
    return (
        f"  {name:29} {figures['turns_per_s']:>7} turns/s  ttft p50/p95 {ttft['p50']}/{ttft['p95']} ms"
        f"  full p50/p95/p99 {full['p50']}/{full['p95']}/{full['p99']} ms"
        f"  CPU {figures['server_cpu_ms_per_turn']} ms/turn (balancer {figures['balancer_cpu_ms_per_turn']})"
        f"  errors {figures['errors']}  handshakes failed {figures['failed_handshakes']}"
        f"  frames {figures['frames_received']}/{figures['frames_expected']}{stored}{idle}"
        f"  peak RSS {figures['server_peak_rss_mb_per_process']} MB"
    )


def _print(report: dict[str, Any], output: Path) -> None:
    print(f"\n{report['machine']['cpus']} CPUs, load average before {report['machine']['loadavg_before']}")
    for run in report["runs"]:
        print(f"\n{run['processes']} process(es), load average {run['loadavg_before']} → {run['loadavg_after']}:")
        for name, _, _, _ in PHASES:
            if name in run:
                print(_line(name, run[name]))
        for name in ("chat", "chat_with_idle_sockets"):
            if name in run:
                ratios = run[name]["ratios_to_floor"]
                print(
                    f"  {name} / floor: full-reply p95 ×{ratios['full_reply_p95']}, turns/s ×{ratios['turns_per_s']},"
                    f" CPU per turn ×{ratios['server_cpu_ms_per_turn']}"
                )
        print(f"  targets: {run['targets']}")
        print(f"  balancer: {run['balancer']}")
    if len(report["runs"]) > 1:
        print("\nturns/s by processes (chat / floor): ", end="")
        print(
            ", ".join(
                f"{s['processes']}: {s['chat_turns_per_s']} / {s['echo_floor_turns_per_s']}" for s in report["scaling"]
            )
        )
    print(f"\nwritten: {output / 'bench.json'}, {output / 'latency.png'}")


if __name__ == "__main__":
    sys.exit(main())
