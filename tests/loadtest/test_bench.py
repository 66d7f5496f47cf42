"""`make bench` end to end in a tiny shape: what it prints and writes is counted, never timed.

tools/bench.py runs as the operator runs it (a subprocess), on the test database, with one and then
two daphne processes behind its balancer, idle sockets included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from loadtest.services import EMAIL_DOMAIN
from tests.loadtest.conftest import server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USERS, MESSAGES, IDLE = 3, 2, 4
FRAMES_PER_TURN = 43  # message.created, reply.start, 40 tokens, reply.end
PHASES = ["echo_floor", "chat", "echo_floor_with_idle_sockets", "chat_with_idle_sockets"]


@pytest.fixture(scope="module")
def bench(django_db_setup, django_db_blocker, tmp_path_factory) -> tuple[dict, str, Path, int]:
    if not settings.REDIS_URL:
        pytest.skip("make bench needs Redis")
    output = tmp_path_factory.mktemp("bench")
    with django_db_blocker.unblock():
        env = {**os.environ, **server_env()}
    done = subprocess.run(
        [
            sys.executable,
            "tools/bench.py",
            *("--users", str(USERS), "--messages", str(MESSAGES), "--idle", str(IDLE)),
            *("--processes", "1,2", "--timeout", "60", "--output", str(output)),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with django_db_blocker.unblock():
        left = get_user_model().objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").count()
    return json.loads((output / "bench.json").read_text()), done.stdout, output, left


def test_every_phase_runs_for_each_process_count_with_nothing_lost(bench):
    report, *_ = bench
    assert [run["processes"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert [name for name in PHASES if name in run] == PHASES
        for name in PHASES:
            figures = run[name]
            assert figures["turns_sent"] == figures["turns_ok"] == USERS * MESSAGES, (name, figures["error_codes"])
            assert figures["errors"] == figures["failed_handshakes"] == 0
            assert figures["frames_received"] == figures["frames_expected"] == USERS * MESSAGES * FRAMES_PER_TURN
            assert figures["replies_intact"] == USERS * MESSAGES
            # /proc counts CPU in clock ticks (10 ms): the floor's 6 turns (≈ 1 ms each, split over
            # the processes) can round to 0 on a quiet machine; the chat's ≈ 6 ms turns cannot.
            assert (
                figures["server_cpu_ms_per_turn"] > 0
                if name.startswith("chat")
                else figures["server_cpu_ms_per_turn"] >= 0
            )
            assert len(figures["server_peak_rss_mb_per_process"]) == run["processes"]
            assert all(mb > 0 for mb in figures["server_peak_rss_mb_per_process"])
        for name in ("chat", "chat_with_idle_sockets"):
            assert run[name]["messages_stored"] == run[name]["messages_sent"] == USERS * MESSAGES
            assert set(run[name]["ratios_to_floor"]) >= {"full_reply_p95", "turns_per_s", "server_cpu_ms_per_turn"}
        for name in ("echo_floor_with_idle_sockets", "chat_with_idle_sockets"):
            assert run[name]["idle_sockets_held"] == run[name]["idle_sockets_requested"] == IDLE
        assert run["targets"]["zero_errors"] and run["targets"]["stored_equals_sent"]
        assert run["targets"]["every_frame_delivered"] and run["targets"]["idle_sockets_held"]


def test_both_processes_get_connections_from_the_balancer(bench):
    report, *_ = bench
    two = report["runs"][1]["balancer"]
    counts = json.loads(two.split("connections per backend ", 1)[1].split("]", 1)[0] + "]")
    assert len(counts) == 2 and min(counts) > 0
    assert "refused 0" in two


def test_the_histogram_counts_every_answered_turn_and_is_drawn(bench):
    report, _, output, _ = bench
    for run in report["runs"]:
        edges = run["histogram"]["bin_edges_ms"]
        assert edges == sorted(edges)
        for name in PHASES:
            counts = run["histogram"]["series"][name]
            assert len(counts["full_reply"]) == len(edges) - 1
            assert sum(counts["full_reply"]) == sum(counts["ttft"]) == run[name]["turns_ok"]
    assert (output / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_summary_names_the_ratios_and_the_scaling_curve(bench):
    report, printed, *_ = bench
    assert [point["processes"] for point in report["scaling"]] == [1, 2]
    assert report["machine"]["cpus"] == os.cpu_count()
    assert printed.count("chat / floor: full-reply p95") == 2
    assert printed.count("chat_with_idle_sockets / floor") == 2
    assert "turns/s by processes" in printed


def test_the_bench_deletes_its_users(bench):
    *_, users_left = bench
    assert users_left == 0


def test_the_floor_and_the_chat_run_on_servers_of_their_own(bench):
    """A production web process never serves the echo consumer: the chat's peak RSS must not carry
    what 1,000 echo sockets left behind in the same process."""
    report, *_ = bench
    for run in report["runs"]:
        assert "refused 0" in run["echo_balancer"] and "refused 0" in run["balancer"]
        assert len(run["echo_server_rss_mb_at_end_per_process"]) == run["processes"]
        assert len(run["server_rss_mb_at_end_per_process"]) == run["processes"]
