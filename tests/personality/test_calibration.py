"""The offline verdict against replies labelled by hand (personality/evaluation/labelled_replies.txt)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from personality.evaluation.calibration import AGREEMENT_TARGET, calibration_report, labelled_set_load, matrix_markdown
from personality.evaluation.verdict import LABELS


def test_labelled_set_has_150_replies_of_every_label_in_both_languages():
    items = labelled_set_load()
    assert len(items) >= 150
    assert {(item.label, item.language) for item in items} == {
        (label, lang) for label in LABELS for lang in ("ru", "en")
    }


def test_a_malformed_labelled_line_names_its_line(tmp_path):
    path = tmp_path / "set.txt"
    path.write_text("# comment\n1|good|en|hi|hello\n1|maybe|en|hi|hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"set\.txt:3"):
        labelled_set_load(path)


def test_verdict_agrees_with_the_labels():
    report = calibration_report()
    output_dir = Path(os.environ.get("TEST_OUTPUT_DIR", "test-output"))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "scorer-calibration.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"\nagreement {report['agreement']:.1%} on {report['replies']} replies\n{matrix_markdown(report)}")
    assert report["agreement"] >= AGREEMENT_TARGET, report["disagreements"]
    for language, part in report["per_language"].items():
        assert part["agreement"] >= AGREEMENT_TARGET, language
    # no gibberish, leak or other identity may pass as good Ivan
    assert all(report["matrix"][label]["good"] <= 1 for label in ("gibberish", "leak", "other_identity"))
