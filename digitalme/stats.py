"""Latency percentiles, one definition for every measurement (benchmarks, load tests, database-test)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentiles_ms(values_ms: Iterable[float | None], *, decimals: int = 2) -> dict[str, float | None]:
    """p50/p95/p99/mean/max of millisecond values (nearest rank); None values are skipped."""
    values = sorted(v for v in values_ms if v is not None)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}

    def rank(p: float) -> float:
        return round(values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))], decimals)

    return {
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "mean": round(sum(values) / len(values), decimals),
        "max": round(values[-1], decimals),
    }
