"""`make run` uses kombu's filesystem transport: a real worker must pick up a task sent to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_filesystem_broker_delivers_a_task_to_a_worker(tmp_path):
    env = {
        **os.environ,
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    marker = tmp_path / "marker.txt"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "digitalme", "worker", "--pool=solo", "--loglevel=WARNING"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        send = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import django; django.setup(); from digitalme.celery import ping; ping.delay({str(marker)!r})",
            ],
            env={**env, "DJANGO_SETTINGS_MODULE": "digitalme.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert send.returncode == 0, send.stderr
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.read_text() == "pong"
    finally:
        worker.terminate()
        worker.wait(timeout=20)
