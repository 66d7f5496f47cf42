"""deploy/prometheus/alerts.yml: promtool validates the rules and runs their unit tests (every
rule firing and not firing); thresholds equal the dashboard's; every metric the rules and the
Grafana dashboard query is one /metrics really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from integrations.ops import REFRESH_SUCCESS_MIN
from integrations.selectors import DEFAULT_SYNC_INTERVAL
from ops import panels

ROOT = Path(settings.BASE_DIR)
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
GRAFANA = ROOT / "deploy" / "grafana" / "digitalme-ops.json"


def _promtool() -> str:
    found = shutil.which("promtool") or str(ROOT / ".tools" / "bin" / "promtool")
    if not Path(found).exists():
        pytest.fail(
            "promtool is missing: run tools/ensure_promtool.sh (make test runs it) or apt-get install prometheus"
        )
    return found


def _rules() -> dict[str, dict]:
    return {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}


def test_promtool_accepts_the_rules():
    result = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass():
    result = subprocess.run(
        [_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_tested_firing_and_not_firing():
    cases: dict[str, set[bool]] = {}
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            cases.setdefault(check["alertname"], set()).add(bool(check["exp_alerts"]))
    assert {name: {True, False} for name in _rules()} == cases


def test_every_rule_links_its_runbook_section_and_says_what_broke():
    for name, rule in _rules().items():
        assert rule["annotations"]["runbook_url"] == f"docs/operations/runbook.md#{name.lower()}"
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["labels"]["severity"] in ("warning", "critical")


def _threshold(expr: str, operator: str) -> float:
    return float(re.findall(rf"{re.escape(operator)}\s*([0-9.e]+)", expr)[-1])


def test_thresholds_are_the_dashboards():
    rules = _rules()
    assert _threshold(rules["DMHighErrorRate"]["expr"], ">") == panels.HTTP_ERROR_RATE_PCT[1] / 100
    assert _threshold(rules["DMSlowResponses"]["expr"], ">") == panels.HTTP_P95_MS[1] / 1000
    assert _threshold(rules["DMSlowDatabase"]["expr"], ">") == panels.DB_P95_MS[1] / 1000
    assert _threshold(rules["DMHighMemory"]["expr"], ">") == panels.MEMORY_MB[1] * 1e6
    assert _threshold(rules["DMTokenRefreshFailing"]["expr"], "<") == REFRESH_SUCCESS_MIN
    assert _threshold(rules["DMCeleryQueueBacklog"]["expr"], ">") == panels.QUEUE_DEPTH[1]
    two_intervals = int(2 * DEFAULT_SYNC_INTERVAL.total_seconds())
    assert (
        f"dm_integration_last_success_timestamp_seconds) > {two_intervals})" in rules["DMIntegrationSyncStale"]["expr"]
    )
    for name in ("DMWorkerHeartbeatMissing", "DMBeatHeartbeatMissing"):
        assert _threshold(rules[name]["expr"], ">") == settings.OPS_HEARTBEAT_STALE_S
    assert _threshold(rules["DMPersonaDrift"]["expr"], ">") == settings.PERSONA_DRIFT_ALERT_MARGIN
    assert _threshold(rules["DMPersonaDrift"]["expr"], ">=") == settings.PERSONA_DRIFT_ALERT_MIN_SAMPLES


def _grafana_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(GRAFANA.read_text())["panels"] for t in p.get("targets", [])]


def test_grafana_queries_are_valid_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "grafana",
                "rules": [{"record": f"grafana:panel_{i}", "expr": e} for i, e in enumerate(_grafana_exprs())],
            }
        ]
    }
    path = tmp_path / "grafana_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_mirrors_the_dashboard_panels():
    rows = [p["title"] for p in json.loads(GRAFANA.read_text())["panels"] if p["type"] == "row"]
    assert rows == [
        "Health",
        "API",
        "Database",
        "Processes",
        "Background jobs",
        "Chat",
        "Telegram",
        "Integrations",
        "Persona",
    ]


@pytest.mark.django_db(transaction=True)
def test_every_metric_queried_is_exported(client, settings, pipeline_alive):
    from django.utils import timezone

    from digitalme import metrics
    from integrations.models import Integration
    from integrations.services import integration_tokens_store
    from personality.loading import persona_load_file
    from personality.models import EvalRun, ReplySample
    from telegram_bot.models import BotState
    from tests.factories import UserFactory
    from tests.personality.conftest import IVAN_FILE

    settings.TELEGRAM_BOT_TOKEN = "123456:test-token-for-metrics"
    now = timezone.now()  # checked just now: the health check won't ask Telegram (no network here)
    BotState.objects.update_or_create(
        pk=1, defaults={"mode": "webhook", "last_error_date": now, "pending_update_count": 3, "checked_at": now}
    )
    integration = integration_tokens_store(user=UserFactory(), provider="github", access_token="token-for-metrics")
    Integration.objects.filter(pk=integration.pk).update(
        last_success_at=timezone.now(), refresh_attempts=2, refresh_successes=2
    )
    metrics.record_celery_task(task="digitalme.ping", state="SUCCESS", duration_s=0.01)
    metrics.record_telegram_update(failed=True)
    metrics.record_telegram_webhook("accepted")
    metrics.record_chat_turn(platform="web")
    metrics.observe_llm(model="fake/ivan", ttft_s=0.1, error="Timeout")
    metrics.WS_OPEN.labels(route="/ws/ops/").inc()
    metrics.WS_OPEN.labels(route="/ws/ops/").dec()
    client.get("/health/")
    ivan = persona_load_file(path=IVAN_FILE).persona
    EvalRun.objects.create(
        persona=ivan, version_number=1, model="m", scorer="offline", status="done", share_in_character=0.9
    )
    ReplySample.objects.create(
        persona=ivan,
        message_id=1,
        platform="web",
        replied_at=now,
        day=now.date(),
        version_number=1,
        label="good",
        in_character=True,
    )

    body = client.get("/metrics").content.decode()

    exported = set(re.findall(r"^([a-z_]+)(?:\{| )", body, re.MULTILINE))
    queried = {
        name
        for expr in [r["expr"] for r in _rules().values()] + _grafana_exprs()
        for name in re.findall(r"\b(dm_[a-z_]+)", expr)
    }
    assert queried - exported == set()
