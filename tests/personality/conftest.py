"""Fixtures for the personality tests: Ivan loaded from the shipped data file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from personality.loading import persona_load_file

IVAN_FILE = Path(__file__).resolve().parents[2] / "personality" / "data" / "ivan.yaml"


@pytest.fixture
def ivan_data() -> dict:
    return yaml.safe_load(IVAN_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def ivan(db):
    return persona_load_file(path=IVAN_FILE).persona
