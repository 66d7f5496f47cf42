"""Persona drift on /ops/ and in /metrics: the in-character share of sampled live replies per
platform over the last day, against the live version's baseline (its latest evaluation run), and
what the live quality gate does (replies regenerated or grounded, hosted replies failing it).

Both read the `ReplySample` rows the drift job writes (personality/drift.py) at sample/scrape
time, so every process answers the same numbers. The grade and the alert rule
(deploy/prometheus/alerts.yml `DMPersonaDrift`) use one margin, PERSONA_DRIFT_ALERT_MARGIN, and
need PERSONA_DRIFT_ALERT_MIN_SAMPLES replies on a platform before a drop counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from prometheus_client.core import GaugeMetricFamily, Metric

from chat.models import Platform
from ops.panels import PanelContext, PanelData, Stat, Status
from personality.drift import drift_metrics
from personality.models import Persona

DASHBOARD_PERSONA = "ivan"


def drift_status(*, share: float | None, samples: int, baseline: float | None) -> Status:
    """bad: more than the margin below the baseline; warn: more than half of it, or too few samples
    to tell; ok otherwise; none without samples or without a baseline to compare with."""
    if share is None or not samples or baseline is None:
        return "none"
    drop = baseline - share
    margin = settings.PERSONA_DRIFT_ALERT_MARGIN
    if drop > margin:
        return "bad" if samples >= settings.PERSONA_DRIFT_ALERT_MIN_SAMPLES else "warn"
    return "warn" if drop > margin / 2 else "ok"


def _drift_panel(ctx: PanelContext) -> PanelData:
    data = drift_metrics(slug=DASHBOARD_PERSONA)
    baseline = data["baseline"]
    margin_pct = round(settings.PERSONA_DRIFT_ALERT_MARGIN * 100)
    hint = (
        format_lazy(_("red more than {margin} points below the baseline"), margin=margin_pct)
        if baseline is not None
        else _("no baseline: evaluate the live version")
    )
    stats: list[Stat] = []
    rows: list[dict[str, Any]] = []
    for platform in Platform:
        numbers = data["platforms"].get(platform.value)
        share = numbers["in_character"] if numbers else None
        samples = numbers["samples"] if numbers else 0
        status = drift_status(share=share, samples=samples, baseline=baseline)
        percent = None if share is None else round(share * 100, 1)
        stats.append(
            Stat(
                f"in_character_{platform.value}",
                format_lazy(_("In character: {platform}"), platform=platform.label),
                percent,
                "%",
                status,
                hint,
                chart=True,
            )
        )
        rows.append(
            {
                "platform": platform.label,
                "samples": samples,
                "in_character": percent,
                "drop": None if percent is None or baseline is None else round(baseline * 100 - percent, 1),
                "status": status,
            }
        )
    replaced = ctx.per_minute("persona.gate_replaced")
    failed = ctx.per_minute("persona.gate_failed")
    stats += [
        Stat("gate_replaced", _("Replies regenerated or grounded"), replaced, "/min", "none", chart=True),
        Stat("gate_failed", _("Hosted replies failing the gate"), failed, "/min", "none", chart=True),
    ]
    stats.append(
        Stat(
            "baseline",
            format_lazy(_("Baseline of version {version}"), version=data.get("live_version") or "—"),
            None if baseline is None else round(baseline * 100, 1),
            "%",
            "ok" if baseline is not None else "warn",
            _("in-character share of its latest evaluation run"),
        )
    )
    return PanelData(
        stats=stats,
        columns=[
            ("platform", _("Platform")),
            ("samples", _("Sampled replies, 24 h")),
            ("in_character", _("In character, %")),
            ("drop", _("Below baseline, points")),
        ],
        rows=rows,
    )


def drift_prometheus_metrics() -> Iterable[Metric]:
    """/metrics: per persona and platform, the sampled replies and their in-character share over the
    last 24 h, and the live version's baseline (absent when it has no evaluation run)."""
    share = GaugeMetricFamily(
        "dm_persona_drift_in_character_ratio",
        "In-character share of sampled live replies, last 24 h.",
        labels=["persona", "platform"],
    )
    samples = GaugeMetricFamily(
        "dm_persona_drift_samples", "Sampled live replies scored, last 24 h.", labels=["persona", "platform"]
    )
    baseline = GaugeMetricFamily(
        "dm_persona_drift_baseline_ratio",
        "In-character share of the live version's latest evaluation run.",
        labels=["persona"],
    )
    for slug in Persona.objects.values_list("slug", flat=True):
        data = drift_metrics(slug=slug)
        for platform, numbers in data["platforms"].items():
            share.add_metric([slug, platform], numbers["in_character"])
            samples.add_metric([slug, platform], numbers["samples"])
        if data["baseline"] is not None:
            baseline.add_metric([slug], data["baseline"])
    return [share, samples, baseline]


def register_ops() -> None:
    from digitalme.metrics import register_scrape_collector
    from ops.registry import register_panel, register_series

    register_series(
        "persona.gate_replaced",
        "dm_persona_quality_gate",
        kind="counter",
        match={"outcome": ("regenerated", "grounded")},
    )
    register_series("persona.gate_failed", "dm_persona_quality_gate", kind="counter", match={"outcome": ("failed",)})
    register_panel("persona", _("Persona drift"), _drift_panel, order=90)
    register_scrape_collector("persona_drift", drift_prometheus_metrics)
