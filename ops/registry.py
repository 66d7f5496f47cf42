"""What the /ops/ dashboard shows and what `database-test` measures: apps register, ops draws.

- `register_series(key, metric, kind=..., match=..., exclude=...)`: a Prometheus metric summed
  over its labels (optionally filtered) into one cumulative series, sampled with every tick so
  panels can ask for windowed rates and percentiles (like a recording rule).
- `register_panel(key, title, build, order=...)`: a dashboard card. `build(ctx)` gets a
  `ops.panels.PanelContext` and returns a `PanelData` (stats, each graded ok/warn/bad, and
  optional table rows). Stats with `chart=True` get a time series drawn on the page.
- `register_hot_query(name, run)`: a read the product runs on its hot path, timed by
  `POST /api/performance/database-test` (`run(user)` must only read).

Register from AppConfig.ready(); docs/ARCHITECTURE.md ("Operations") shows an example.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ops.panels import PanelContext, PanelData

SeriesKind = Literal["counter", "histogram"]


@dataclass(frozen=True)
class Series:
    key: str
    metric: str  # the family name as prometheus_client collects it (no _total/_bucket suffix)
    kind: SeriesKind
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # label -> allowed values
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # label -> excluded values


@dataclass(frozen=True)
class Panel:
    key: str
    title: Any  # a lazily translated string
    build: Callable[[PanelContext], PanelData]
    order: int = 100


@dataclass(frozen=True)
class HotQuery:
    name: str
    run: Callable[[Any], Any]  # run(user) -> anything; must only read


_series: dict[str, Series] = {}
_panels: dict[str, Panel] = {}
_hot_queries: dict[str, HotQuery] = {}


def register_series(
    key: str,
    metric: str,
    *,
    kind: SeriesKind,
    match: Mapping[str, tuple[str, ...]] | None = None,
    exclude: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    _series[key] = Series(key=key, metric=metric, kind=kind, match=match or {}, exclude=exclude or {})


def register_panel(key: str, title: Any, build: Callable[[PanelContext], PanelData], *, order: int = 100) -> None:
    _panels[key] = Panel(key=key, title=title, build=build, order=order)


def register_hot_query(name: str, run: Callable[[Any], Any]) -> None:
    _hot_queries[name] = HotQuery(name=name, run=run)


def series() -> list[Series]:
    return list(_series.values())


def panels() -> list[Panel]:
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))


def hot_queries() -> list[HotQuery]:
    return list(_hot_queries.values())
