"""`make bench --llm http`: the chat phases stream from a loopback OpenAI-compatible server in its own
process, through the lean HTTP path production uses (chat/llm/lean.py). Counted, never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.loadtest.conftest import server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USERS, MESSAGES = 2, 2
FRAMES_PER_TURN = 43  # message.created, reply.start, 40 tokens, reply.end


def test_the_bench_answers_every_turn_from_the_openai_compatible_server(tmp_path):
    env = {**os.environ, **server_env()}
    done = subprocess.run(
        [
            sys.executable,
            "tools/bench.py",
            *("--users", str(USERS), "--messages", str(MESSAGES), "--idle", "0", "--processes", "1"),
            *("--llm", "http", "--timeout", "60", "--output", str(tmp_path)),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "bench.json").read_text())

    assert report["config"]["model"] == "openai/fixed40"
    chat = report["runs"][0]["chat"]
    assert chat["turns_ok"] == chat["replies_intact"] == USERS * MESSAGES
    assert chat["errors"] == 0, chat["error_codes"]
    assert chat["frames_received"] == USERS * MESSAGES * FRAMES_PER_TURN
    assert chat["messages_stored"] == USERS * MESSAGES
