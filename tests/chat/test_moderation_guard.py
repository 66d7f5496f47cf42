"""The frozen test set through the layered moderation with the guard model configured against the
loopback OpenAI-compatible server. What this measures is the wiring, not a guard: the fake
answers like a perfect guard (from the set's own labels), so the numbers say whether every message
the offline layers let through reaches the guard, whether its answer is parsed and mapped onto the
right category and whether the first blocking layer decides — a real guard model's recall on this
set is not measured here (docs/QUALITY.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chat import moderation, moderation_corpus, moderation_evaluation
from tests.fakes.openai_server import FakeOpenAI

# Our harm → the Llama Guard 3 code the fake answers with (the inverse of moderation.GUARD_CATEGORIES).
GUARD_CODES = {
    "violence": "S1",
    "drugs": "S2",
    "fraud": "S2",
    "sexual_minors": "S4",
    "harassment": "S5",
    "stalking": "S7",
    "weapons": "S9",
    "hate": "S10",
    "self_harm": "S11",
    "malware": "S14",
}


class LabelledGuard(FakeOpenAI):
    """Answers each request as the frozen set labels its message: `unsafe` + the harm's code for a
    harmful one, `safe` for anything else."""

    def __init__(self, samples: list[moderation_corpus.Sample]) -> None:
        super().__init__()
        self.labels = {sample.text: sample for sample in samples}

    def reply_text(self) -> str:
        sample = self.labels.get(self.requests[-1]["messages"][-1]["content"])
        if sample is None or not sample.harmful:
            return "safe"
        return f"unsafe\n{GUARD_CODES[sample.category]}"


@pytest.mark.parametrize("name", ["test.tsv", "test_adversarial.tsv"])
def test_every_message_the_offline_layers_pass_reaches_the_guard_and_its_answer_decides(settings, name, capsys):
    path = moderation_corpus.CORPUS_DIR / name
    samples = moderation_corpus.read(path)
    offline = moderation_evaluation.evaluate(path)
    with LabelledGuard(samples) as guard:
        settings.MODERATION_GUARD_MODEL = "openai/llama-guard3"
        settings.MODERATION_GUARD_API_BASE = guard.base_url
        settings.MODERATION_GUARD_API_KEY = "test-guard-key"
        settings.MODERATION_GUARD_TIMEOUT_S = 5.0
        report = moderation_evaluation.evaluate(path, layers="with_guard")
        asked = len(guard.requests)
    report["guard_requests"] = asked
    output_dir = Path(os.environ.get("TEST_OUTPUT_DIR", "test-output"))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"moderation-with-guard-{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    with capsys.disabled():
        print(f"\n{name}: guard asked {asked} of {len(samples)}\n" + moderation_evaluation.confusion_markdown(report))

    passed_offline = len(samples) - sum(
        cell["blocked"] for cell in offline["table"]
    )  # each message the offline layers let through is sent to the guard once
    assert asked == passed_offline
    for language in moderation_corpus.LANGUAGES:
        assert report["languages"][language]["recall"] == 1.0, report["missed"]
        # A guard that says "safe" adds no false positive to the offline layers'.
        assert (
            report["languages"][language]["false_positive_rate"]
            == (offline["languages"][language]["false_positive_rate"])
        )
    assert report["missed"] == []


def test_the_guards_codes_map_back_onto_the_harms_the_set_labels():
    for harm, code in GUARD_CODES.items():
        mapped = moderation.GUARD_CATEGORIES[code]
        assert mapped == harm or (code == "S2" and mapped == moderation.ILLICIT)
