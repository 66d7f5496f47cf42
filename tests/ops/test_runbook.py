"""Every alert rule links a runbook section that exists and says what to check and what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]
RUNBOOK = (ROOT / "docs" / "operations" / "runbook.md").read_text(encoding="utf-8")


def _section(name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", RUNBOOK, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def test_there_are_alerts_to_check():
    assert len(ALERTS) >= 10


@pytest.mark.parametrize("rule", ALERTS, ids=[rule["alert"] for rule in ALERTS])
def test_alert_has_a_runbook_entry_with_what_to_check_and_do(rule):
    name = rule["alert"]
    assert rule["annotations"]["runbook_url"] == f"docs/operations/runbook.md#{name.lower()}"
    section = _section(name)
    assert section, f"docs/operations/runbook.md has no '## {name}' section"
    assert "**Check**" in section
    assert "**Do**" in section
