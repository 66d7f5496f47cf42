"""Load-test fixtures: Ivan published (the chat pipeline answers as him), and the environment of
a server process that shares the test database and Redis with the test."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ivan(transactional_db):
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)


def server_env() -> dict[str, str]:
    """A real server (or `make bench`) on the test database, so it sees what the test commits."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return {
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "LLM_MODEL": "fake/fixed40",
        "LLM_FALLBACK_MODELS": "",
        "BENCH_ECHO_ENABLED": "true",
        "LOG_LEVEL": "WARNING",
        "CHAT_RATE_LIMIT": "1000000",
    }
