"""Measure the offline moderation layers (rules + classifier, as `moderate_input` runs them) on a
labelled file: recall per harm and language, false positives per topic and language, and the
confusion table docs/QUALITY.md shows. Used by tests/chat/test_moderation_corpus.py (the CI floor)
and `manage.py evaluate_moderation` (the table)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from django.test import override_settings

from chat import moderation_corpus
from chat.moderation_corpus import LANGUAGES, Sample


def _verdicts(samples: list[Sample], *, layers: str) -> list[Any]:
    from chat.moderation import moderate_input

    if layers == "with_guard":  # the guard model as configured (the provider endpoint left out)
        with override_settings(MODERATION_PROVIDER_MODEL=""):
            return [moderate_input(sample.text) for sample in samples]
    # A remote layer is never part of the offline numbers.
    with override_settings(MODERATION_PROVIDER_MODEL="", MODERATION_GUARD_MODEL=""):
        if layers == "rules":
            with override_settings(MODERATION_CLASSIFIER_ENABLED=False):
                return [moderate_input(sample.text) for sample in samples]
        return [moderate_input(sample.text) for sample in samples]


def evaluate(path: Path, *, layers: str = "offline") -> dict[str, Any]:
    """`layers`: "offline" (rules + classifier), "rules" (the rules alone, for comparison) or
    "with_guard" (the offline layers, then the guard model as configured)."""
    samples = moderation_corpus.read(path)
    verdicts = _verdicts(samples, layers=layers)
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])  # (lang, label, cat) → [blocked, n]
    wrong: dict[str, list[str]] = {"missed": [], "false_positives": []}
    categories: dict[str, int] = defaultdict(int)
    for sample, verdict in zip(samples, verdicts, strict=True):
        blocked = not verdict.allowed
        cell = cells[(sample.language, sample.label, sample.category)]
        cell[0] += blocked
        cell[1] += 1
        if sample.harmful and not blocked:
            wrong["missed"].append(f"[{sample.language}/{sample.category}] {sample.text}")
        if not sample.harmful and blocked:
            wrong["false_positives"].append(f"[{sample.language}/{sample.category}→{verdict.category}] {sample.text}")
        if sample.harmful and blocked:
            categories["right" if verdict.category == sample.category else "other"] += 1
    languages = {}
    for language in LANGUAGES:
        harmful = [cells[key] for key in cells if key[0] == language and key[1] == moderation_corpus.HARMFUL]
        harmless = [cells[key] for key in cells if key[0] == language and key[1] == moderation_corpus.HARMLESS]
        languages[language] = {
            "harmful": sum(cell[1] for cell in harmful),
            "recall": _ratio(sum(cell[0] for cell in harmful), sum(cell[1] for cell in harmful)),
            "harmless": sum(cell[1] for cell in harmless),
            "false_positive_rate": _ratio(sum(cell[0] for cell in harmless), sum(cell[1] for cell in harmless)),
        }
    table = [
        {"language": language, "label": label, "category": category, "blocked": cell[0], "total": cell[1]}
        for (language, label, category), cell in sorted(cells.items())
    ]
    return {
        "file": path.name,
        "layers": layers,
        "languages": languages,
        "table": table,
        "category_correct_share": _ratio(categories["right"], categories["right"] + categories["other"]),
        **wrong,
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def confusion_markdown(report: dict[str, Any]) -> str:
    """Per harm: blocked/total (recall); per topic of the hard negatives: blocked/total (FP)."""
    rows: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for cell in report["table"]:
        rows[(cell["label"], cell["category"])][cell["language"]] = f"{cell['blocked']}/{cell['total']}"
    lines = [
        f"{report['file']} ({report['layers']}): blocked / total",
        "",
        "| label | category | en | ru |",
        "|---|---|---|---|",
    ]
    for (label, category), by_language in sorted(rows.items()):
        lines.append(f"| {label} | {category} | {by_language.get('en', '—')} | {by_language.get('ru', '—')} |")
    summary = report["languages"]
    lines.append(
        "| **all** | recall / FP | "
        + " | ".join(
            f"{summary[language]['recall']:.1%} / {summary[language]['false_positive_rate']:.1%}"
            for language in LANGUAGES
        )
        + " |"
    )
    return "\n".join(lines)
