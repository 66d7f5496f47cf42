"""How far the offline verdict agrees with replies labelled by hand (labelled_replies.txt).

`calibration_report()` scores every labelled reply against Ivan's shipped persona and returns the
agreement and the confusion matrix (rows: the human label, columns: the verdict), overall and per
batch. tests/personality/test_calibration.py fails below AGREEMENT_TARGET; `manage.py
persona_scorer_calibration` prints the matrix that docs/QUALITY.md shows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from personality.evaluation.verdict import LABELS, PersonaFacts, reply_verdict
from personality.profile import PersonaProfile
from personality.prompts import compose_prompt
from personality.schema import validate_snapshot
from personality.selectors import profile_from_snapshot

LABELLED_SET = Path(__file__).with_name("labelled_replies.txt")
IVAN_FILE = Path(__file__).resolve().parent.parent / "data" / "ivan.yaml"
AGREEMENT_TARGET = 0.9
PROMPT_BUDGET = 4096


@dataclass(frozen=True)
class LabelledReply:
    line: int
    batch: int
    label: str
    language: str
    user_message: str
    reply: str


def labelled_set_load(path: Path = LABELLED_SET) -> list[LabelledReply]:
    """The labelled replies; ValueError naming the line for a malformed one."""
    items: list[LabelledReply] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("|", 4)
        if len(parts) != 5 or parts[1] not in LABELS or parts[2] not in ("ru", "en") or not parts[0].isdigit():
            raise ValueError(f"{path.name}:{number}: expected batch|label|language|message|reply, got {raw[:60]!r}")
        batch, label, language, message, reply = parts
        items.append(LabelledReply(number, int(batch), label, language, message, reply.replace("\\n", "\n")))
    return items


def ivan_profile() -> PersonaProfile:
    """Ivan as shipped in personality/data/ivan.yaml (no database needed)."""
    snapshot = validate_snapshot(yaml.safe_load(IVAN_FILE.read_text(encoding="utf-8")))
    return profile_from_snapshot(snapshot, version=None)


def _matrix(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    counts = Counter(pairs)
    agreed = sum(n for (truth, guess), n in counts.items() if truth == guess)
    return {
        "replies": len(pairs),
        "agreement": round(agreed / len(pairs), 4) if pairs else 0.0,
        "matrix": {truth: {guess: counts[(truth, guess)] for guess in LABELS} for truth in LABELS},
    }


def calibration_report(*, items: list[LabelledReply] | None = None, cheap: bool = False) -> dict[str, Any]:
    items = labelled_set_load() if items is None else items
    profile = ivan_profile()
    persona = PersonaFacts(profile)
    rows = []
    for item in items:  # the gate always knows the system prompt the reply was made from
        system = compose_prompt(
            profile=profile, user_message=item.user_message, model="fake/ivan", budget_tokens=PROMPT_BUDGET
        ).system
        verdict = reply_verdict(
            reply=item.reply, user_message=item.user_message, persona=persona, system_prompt=system, cheap=cheap
        )
        rows.append((item, verdict))
    pairs = [(item.label, verdict.label) for item, verdict in rows]
    report = _matrix(pairs)
    report["per_batch"] = {}
    for batch in sorted({i.batch for i in items}):
        part = _matrix([(i.label, v.label) for i, v in rows if i.batch == batch])
        part["per_language"] = {
            language: _matrix([(i.label, v.label) for i, v in rows if i.batch == batch and i.language == language])
            for language in ("ru", "en")
        }
        report["per_batch"][str(batch)] = part
    report["per_language"] = {
        language: _matrix([(i.label, v.label) for i, v in rows if i.language == language]) for language in ("ru", "en")
    }
    report["disagreements"] = [
        {"line": i.line, "label": i.label, "verdict": v.label, "reply": i.reply[:120], "reasons": v.reasons}
        for i, v in rows
        if i.label != v.label
    ]
    return report


def matrix_markdown(report: dict[str, Any]) -> str:
    header = "| label \\ verdict | " + " | ".join(LABELS) + " |"
    lines = [header, "|" + "---|" * (len(LABELS) + 1)]
    for truth in LABELS:
        row = report["matrix"][truth]
        lines.append(f"| {truth} | " + " | ".join(str(row[guess]) for guess in LABELS) + " |")
    return "\n".join(lines)
