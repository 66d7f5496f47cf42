"""PersonaGym-comparable scores: the five PersonaGym tasks on its 1–5 scale, rated by the LLM judge.

The rubrics are data (`personagym_rubrics.yaml`): each task's question, the evaluation categories it
is asked on, and what 1..5 mean. The judge prompt (scoring.judge_messages) includes the rubric of
every task that applies to the prompt's category; `task_scores` takes the judge's numbers that are
valid (a number from 1 to 5 — anything else is dropped and named, never clamped into a score), and
`persona_gym_summary` aggregates a run like PersonaGym's PersonaScore: the mean per task over the
replies judged on it, and the overall score as the mean of the task means.

Comparability (docs/QUALITY.md): same tasks, scale and aggregation as PersonaGym's published
table, but our 66 prompts about one persona instead of its generated questions over 200 personas,
and whatever judge model is configured instead of PersonaGym's own evaluator models.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import yaml

RUBRICS = Path(__file__).with_name("personagym_rubrics.yaml")
TASKS = ("expected_action", "action_justification", "linguistic_habits", "persona_consistency", "toxicity_control")
# PersonaGym's published PersonaScores (1–5), to put a run next to (Samuel et al., 2024).
PUBLISHED = {"Claude 3.5 Sonnet": 4.51, "LLaMA-3-8B": 4.49, "GPT-3.5": 4.38}
PUBLISHED_LINGUISTIC_HABITS = (3.63, 3.98)  # the range over the models PersonaGym measured


@cache
def rubrics() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(RUBRICS.read_text(encoding="utf-8"))["tasks"]
    if tuple(data) != TASKS:
        raise ValueError(f"{RUBRICS.name} must define exactly the tasks {TASKS}, in that order")
    for name, task in data.items():
        if sorted(task["levels"]) != [1, 2, 3, 4, 5]:
            raise ValueError(f"{RUBRICS.name}: task {name} must describe levels 1 to 5")
    return data


def tasks_for(category: str) -> list[str]:
    """The tasks a reply to a prompt of this category is judged on."""
    return [name for name, task in rubrics().items() if category in task["categories"]]


def rubric_text(tasks: list[str]) -> str:
    """The written rubric of these tasks, for the judge prompt."""
    parts = []
    for name in tasks:
        task = rubrics()[name]
        levels = "\n".join(f"  {level} = {text}" for level, text in sorted(task["levels"].items()))
        parts.append(f'"{name}" ({task["title"]}): {task["question"]}\n{levels}')
    return "\n".join(parts)


def _rating(value: Any) -> float | None:
    """A valid 1–5 rating, else None (bools, text, out-of-range numbers and NaN are not ratings)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not 1.0 <= number <= 5.0:  # also false for NaN
        return None
    return number


def task_scores(judgement: dict[str, Any], tasks: list[str]) -> tuple[dict[str, float], list[str]]:
    """The judge's valid ratings of these tasks, and the tasks it did not rate validly."""
    scores: dict[str, float] = {}
    invalid: list[str] = []
    for name in tasks:
        rating = _rating(judgement.get(name))
        if rating is None:
            invalid.append(name)
        else:
            scores[name] = rating
    return scores, invalid


def persona_gym_summary(rows: list[dict], *, judge: str | None) -> dict[str, Any]:
    """PersonaScore-style totals of a run's rows (empty for an offline run).

    Partial results count: a reply the judge failed on keeps its offline score and is left out of
    the task means; `status` says whether every reply was judged (complete), some (partial) or none
    (failed), and `detail` says why in words.
    """
    if not judge:
        return {}
    per_task: dict[str, list[float]] = {name: [] for name in TASKS}
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for row in rows:
        outcome = row.get("judge", {}).get("outcome", "failed")
        outcomes[outcome] += 1
        if outcome in ("failed", "skipped") and row["judge"].get("error"):
            errors[row["judge"]["error"]] += 1
        for name, value in (row.get("persona_gym") or {}).items():
            per_task[name].append(value)
    tasks = {
        name: {"score": round(sum(values) / len(values), 2), "replies": len(values)}
        for name, values in per_task.items()
        if values
    }
    overall = round(sum(t["score"] for t in tasks.values()) / len(tasks), 2) if tasks else None
    judged = outcomes["ok"] + outcomes["partial"]
    if not rows or judged == 0:
        status = "failed"
    elif judged == len(rows) and not outcomes["partial"]:
        status = "complete"
    else:
        status = "partial"
    detail = f"{judged} of {len(rows)} replies judged"
    if outcomes["partial"]:
        detail += f", {outcomes['partial']} with some tasks unrated"
    if outcomes["failed"]:
        detail += f"; the judge failed on {outcomes['failed']}"
    if outcomes["no_reply"]:
        detail += f"; {outcomes['no_reply']} got no reply from the model"
    if outcomes["skipped"]:
        detail += f"; {outcomes['skipped']} not sent after repeated failures"
    if errors:
        detail += " (" + ", ".join(f"{name} ×{count}" for name, count in errors.most_common(3)) + ")"
    if judged < len(rows):
        detail += "; those replies keep their offline score"
    return {
        "judge": judge,
        "scale": [1, 5],
        "status": status,
        "detail": detail + ".",
        "replies": len(rows),
        "judged": judged,
        "failed": outcomes["failed"],
        "skipped": outcomes["skipped"],
        "no_reply": outcomes["no_reply"],
        "tasks": tasks,
        "missing_tasks": [name for name in TASKS if name not in tasks],
        "overall": overall,
        "published": PUBLISHED,
    }
