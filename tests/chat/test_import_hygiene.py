"""What a web process holds in memory: after it starts (Django set up, the ASGI application loaded)
and answers one chat turn through the lean path from an OpenAI-compatible server, litellm (≈ 190 MB)
is not imported, nor scikit-learn, scipy or numpy (the moderation classifier and BM25 are pure
Python), nor the Web Push client (the Celery task sends pushes), nor the two optional imports the
web entry point (digitalme/serve.py) declines: pyOpenSSL (Twisted's TLS; we serve plain HTTP behind
a proxy) and httpx's command-line client (rich). Run in a fresh subprocess, so this test process's
own imports don't count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
# litellm and what only litellm pulls in
NOT_ON_THE_LEAN_PATH = ("litellm", "openai", "tokenizers", "huggingface_hub")
# The moderation classifier scores every turn in pure Python; only training needs these (≈ 100 MB).
# BM25 (digitalme/bm25.py) is plain floats: numpy cost ≈ 14 MB per process for a few additions.
# pywebpush (and aiohttp, http_ece, py_vapid under it, ≈ 5 MB) sends from the Celery task only.
NOT_IN_A_WEB_PROCESS = ("sklearn", "scipy", "numpy", "pywebpush", "aiohttp", "http_ece", "py_vapid")
# Declined by digitalme/serve.py while daphne and the application load (≈ 6.5 MB), and not pulled
# in by a turn afterwards.
NOT_IMPORTED_BY_THE_WEB_ENTRY = ("OpenSSL", "rich", "httpx._main")

WEB_PROCESS = """
import asyncio, json, os, sys

from digitalme.serve import command_line

# What `python -m digitalme.serve … digitalme.asgi:application` (the Procfile's web entry) loads at start.
command_line(["digitalme.asgi:application"]).load_asgi_app("digitalme.asgi:application")
import gc
frozen_at_start = gc.get_freeze_count()
import twisted.internet.tcp

from django.contrib.auth import get_user_model

from chat.models import Platform
from chat.turn import achat_reply


async def one_turn():
    user = await get_user_model().objects.aget(pk=int(os.environ["PROBE_USER_ID"]))
    return await achat_reply(user=user, text="What are you working on?", platform=Platform.WEB)


turn = asyncio.run(one_turn())
rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
print(json.dumps({
    "reply": turn.reply.content, "model": turn.reply.model, "modules": sorted(sys.modules), "rss_kb": rss_kb,
    "twisted_tls": twisted.internet.tcp._TLSConnectionMixin.TLS, "frozen_at_start": frozen_at_start,
    "autobahn_highlight": __import__("autobahn.util").util.hlval("frame"),
}))
"""


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_web_process_answers_a_turn_through_the_lean_path_without_litellm(user, ivan):
    with FakeOpenAI() as server:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "LLM_MODEL": "openai/ivan-remote",
            "LLM_API_BASE": server.base_url,
            "LLM_API_KEY": "test-remote-key",
            "LLM_FALLBACK_MODELS": "",
            "PROBE_USER_ID": str(user.pk),
            "DJANGO_SETTINGS_MODULE": "digitalme.settings",
        }
        done = subprocess.run(
            [sys.executable, "-c", WEB_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["reply"] == "Privet from the remote model"
    assert report["model"] == "openai/ivan-remote"
    assert len(server.requests) == 1
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert [name for name in NOT_ON_THE_LEAN_PATH if name in loaded] == []
    assert "chat.moderation_model" in report["modules"]  # the classifier did score the turn
    assert [name for name in NOT_IN_A_WEB_PROCESS if name in loaded] == []
    assert [name for name in NOT_IMPORTED_BY_THE_WEB_ENTRY if name in report["modules"]] == []
    assert report["twisted_tls"] is False  # Twisted's TCP transport, TLS unavailable (never used behind the proxy)
    # the heap the application loaded with is frozen: the collector's full passes skip it
    assert report["frozen_at_start"] > 100_000
    # autobahn's per-frame debug arguments are plain text, not styled by click (an escape sequence each)
    assert report["autobahn_highlight"] == "frame"
