"""Load-test fixtures: Ivan published (the chat pipeline answers as him)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ivan(transactional_db):
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
