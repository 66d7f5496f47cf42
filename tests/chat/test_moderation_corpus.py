"""The moderation corpus and the offline classifier: the frozen test set can't change silently,
the committed model matches its training data, its numpy inference equals scikit-learn's, and the
offline layers hold the measured floor on the frozen test set and its adversarial variant."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from chat import moderation_corpus, moderation_evaluation, moderation_model
from chat.moderation_text import normalise

# The frozen test set (written from test_templates.yaml before any tuning). A change here is a new
# test set: say so in docs/QUALITY.md and never compare its numbers with the old ones.
TEST_SHA256 = "94e62973054444eda0bb438c560dc545dd0e0e73dff1149f3c1f5733afe856b5"
ADVERSARIAL_SHA256 = "4bcaa2895dd778301c2f18d3e52ed23867d44660e352b1e726655dcb0c84a9c7"

# The floors CI holds on what the offline layers (rules + classifier) measured (docs/QUALITY.md).
# The target is recall ≥ 0.90 and FP ≤ 0.03 per language on test.tsv: where it is met (en
# recall 90.7%, FP en 2.7% / ru 0%) the floor is the target; Russian recall (87.8% since the seventh
# pass's Russian thresholds, 85.8% with the sixth pass's intent rules, 81.8% before) is not, so its
# floor is the measurement rounded down and only stops it getting worse. The adversarial variant and
# dev.tsv (hand-written free sentences, never trained on) hold their measurements — but the
# adversarial Russian false positives, 1.9% (2 of 104) with the Russian thresholds, hold the issue's
# limit rounded to the measurement (2%, under the target's 3%), not the 1.0% measured before them.
FLOORS = {
    "test.tsv": {"en": {"recall": 0.90, "fp": 0.03}, "ru": {"recall": 0.87, "fp": 0.03}},
    "test_adversarial.tsv": {"en": {"recall": 0.81, "fp": 0.018}, "ru": {"recall": 0.75, "fp": 0.02}},
    "dev.tsv": {"en": {"recall": 0.66, "fp": 0.0}, "ru": {"recall": 0.81, "fp": 0.016}},
}


def test_the_frozen_test_set_has_not_changed():
    assert moderation_corpus.sha256(moderation_corpus.TEST_FILE) == TEST_SHA256
    assert moderation_corpus.sha256(moderation_corpus.ADVERSARIAL_FILE) == ADVERSARIAL_SHA256


def test_the_frozen_test_set_is_still_what_its_templates_give():
    test = moderation_corpus.build_test()
    assert moderation_corpus.read(moderation_corpus.TEST_FILE) == test
    assert moderation_corpus.read(moderation_corpus.ADVERSARIAL_FILE) == moderation_corpus.build_adversarial(test)


def test_train_file_is_what_the_templates_give():
    assert moderation_corpus.read(moderation_corpus.TRAIN_FILE) == moderation_corpus.build_train()


@pytest.fixture
def edited_persona(tmp_path, monkeypatch):
    """Ivan's persona files copied and edited (a new fact, a reworded reply), in their place."""
    persona = tmp_path / "ivan.yaml"
    persona.write_text(
        moderation_corpus.PERSONA_FILE.read_text(encoding="utf-8").replace(
            "\nfacts:\n", "\nfacts:\n  - Ivan keeps a cactus named Boris on his desk.\n", 1
        ),
        encoding="utf-8",
    )
    replies = tmp_path / "labelled_replies.txt"
    replies.write_text(
        moderation_corpus.PERSONA_REPLIES_FILE.read_text(encoding="utf-8") + "1|good|en|Any pets?|Only Boris.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(moderation_corpus, "PERSONA_FILE", persona)
    monkeypatch.setattr(moderation_corpus, "PERSONA_REPLIES_FILE", replies)
    return tmp_path


def test_editing_the_persona_files_does_not_change_the_training_corpus(edited_persona):
    live = [sample.text for sample in moderation_corpus.live_persona_rows()]
    assert "Ivan keeps a cactus named Boris on his desk." in live
    assert "Only Boris." in live
    assert moderation_corpus.build_train() == moderation_corpus.read(moderation_corpus.TRAIN_FILE)


def test_the_corpus_builder_reads_only_the_moderation_data(monkeypatch):
    opened = []
    real_open = Path.open  # read_text and read_bytes open through it too

    def tracking_open(self, *args, **kwargs):
        opened.append(self.resolve())
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", tracking_open)
    moderation_corpus.build_train()
    data_dir = moderation_corpus.CORPUS_DIR.parent.resolve()
    assert moderation_corpus.PERSONA_SNAPSHOT_FILE.resolve() in opened
    assert [path for path in opened if not path.is_relative_to(data_dir)] == []


def test_refreshing_the_persona_snapshot_takes_the_edited_persona(edited_persona, monkeypatch):
    snapshot = edited_persona / "persona_rows.tsv"
    monkeypatch.setattr(moderation_corpus, "PERSONA_SNAPSHOT_FILE", snapshot)
    monkeypatch.setattr(moderation_corpus, "TRAIN_FILE", edited_persona / "train.tsv")
    call_command("build_moderation_corpus", "--refresh-persona-snapshot", stdout=io.StringIO())
    texts = {sample.text for sample in moderation_corpus.read(snapshot)}
    train = {sample.text for sample in moderation_corpus.read(edited_persona / "train.tsv")}
    assert {"Ivan keeps a cactus named Boris on his desk.", "Only Boris."} <= texts & train


def test_building_without_the_flag_leaves_the_persona_snapshot_alone(edited_persona, monkeypatch):
    monkeypatch.setattr(moderation_corpus, "TRAIN_FILE", edited_persona / "train.tsv")
    before = moderation_corpus.sha256(moderation_corpus.PERSONA_SNAPSHOT_FILE)
    call_command("build_moderation_corpus", stdout=io.StringIO())
    assert moderation_corpus.sha256(moderation_corpus.PERSONA_SNAPSHOT_FILE) == before
    assert (edited_persona / "train.tsv").read_bytes() == moderation_corpus.TRAIN_FILE.read_bytes()


def test_no_test_message_is_in_the_training_data():
    train = {normalise(sample.text) for sample in moderation_corpus.training_samples()}
    test = moderation_corpus.read(moderation_corpus.TEST_FILE)
    assert [sample.text for sample in test if normalise(sample.text) in train] == []


def test_no_dev_message_is_in_the_training_data():
    train = {normalise(sample.text) for sample in moderation_corpus.training_samples()}
    dev = moderation_corpus.read(moderation_corpus.DEV_FILE)
    assert [sample.text for sample in dev if normalise(sample.text) in train] == []


def test_every_harm_and_language_is_in_both_sets():
    for path in (moderation_corpus.TRAIN_FILE, moderation_corpus.TEST_FILE):
        kinds = {(s.language, s.category) for s in moderation_corpus.read(path) if s.harmful}
        assert kinds == {(language, harm) for language in ("en", "ru") for harm in moderation_model.HARM_CATEGORIES}


def test_the_committed_model_was_trained_on_the_current_training_data():
    meta = moderation_model.meta()
    assert meta["training_sha256"] == moderation_corpus.training_checksum(), (
        "training data changed: run `manage.py train_moderation_model` and commit classifier.npz/.json"
    )
    assert 0.0 < meta["threshold"] < 1.0


def test_numpy_inference_equals_scikit_learn(tmp_path):
    samples = moderation_corpus.read(moderation_corpus.TRAIN_FILE)[::25]
    fitted = moderation_model.fit(samples)
    moderation_model.save(fitted, {"threshold": 0.5}, path=tmp_path / "m.npz", meta_path=tmp_path / "m.json")
    classifier = moderation_model.Classifier(tmp_path / "m.npz", tmp_path / "m.json")
    texts = [normalise(sample.text) for sample in moderation_corpus.read(moderation_corpus.TEST_FILE)[::7]]
    ours = [classifier.score(text).harmful for text in texts]
    np.testing.assert_allclose(ours, fitted.harm_probability(texts), atol=1e-3)


def test_the_character_analyser_gives_scikit_learns_terms():
    from sklearn.feature_extraction.text import TfidfVectorizer

    sklearn_analyser = TfidfVectorizer(
        analyzer="char_wb", ngram_range=moderation_model.CHAR_NGRAMS, lowercase=False
    ).build_analyzer()
    rows = moderation_corpus.read(moderation_corpus.TRAIN_FILE)[::15] + moderation_corpus.read(
        moderation_corpus.ADVERSARIAL_FILE
    )
    texts = [normalise(sample.text) for sample in rows] + [sample.text for sample in rows[::10]] + ["", " a  b\t\nc "]
    assert [moderation_model.char_wb_ngrams(text) for text in texts] == [sklearn_analyser(text) for text in texts]


def _numpy_reference(texts):
    """The classifier as numpy computes it from the committed .npz (what inference was before)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    with np.load(moderation_model.MODEL_FILE, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    analysers = [
        TfidfVectorizer(analyzer="char_wb", ngram_range=moderation_model.CHAR_NGRAMS, lowercase=False).build_analyzer(),
        moderation_model.word_features,
    ]
    blocks = [(str(arrays[f"{name}_terms"]).split("\n"), arrays[f"{name}_idf"]) for name in ("chars", "words")]
    results = []
    for text in texts:
        columns, values, offset = [], [], 0
        for analyser, (terms, idf) in zip(analysers, blocks, strict=True):
            vocabulary = {term: index for index, term in enumerate(terms)}
            counts = {}
            for term in analyser(text):
                if term in vocabulary:
                    counts[vocabulary[term]] = counts.get(vocabulary[term], 0) + 1
            block = (1.0 + np.log(np.array(list(counts.values()), dtype=np.float64))) * idf[list(counts)]
            if counts:
                columns += [offset + index for index in counts]
                values += list(block / np.linalg.norm(block))
            offset += len(terms)
        logit = arrays["harm_coef"][columns].astype(np.float64) @ np.array(values) + float(arrays["harm_intercept"])
        category_logits = arrays["category_coef"][:, columns].astype(np.float64) @ np.array(values)
        category_logits += arrays["category_intercept"]
        results.append(
            (1.0 / (1.0 + np.exp(-logit)), str(arrays["categories"]).split("\n")[int(np.argmax(category_logits))])
        )
    return results


def test_pure_python_inference_equals_numpys():
    texts = [normalise(sample.text) for sample in moderation_corpus.read(moderation_corpus.TEST_FILE)]
    ours = [moderation_model.classifier().probability(text) for text in texts]
    reference = _numpy_reference(texts)
    np.testing.assert_allclose([score for score, _ in ours], [score for score, _ in reference], rtol=0, atol=1e-6)
    assert [category for _, category in ours] == [category for _, category in reference]


@pytest.mark.parametrize("name", ["test.tsv", "test_adversarial.tsv", "dev.tsv"])
def test_offline_layers_hold_the_floor_on_the_frozen_set(name, capsys):
    report = moderation_evaluation.evaluate(moderation_corpus.CORPUS_DIR / name)
    output_dir = Path(os.environ.get("TEST_OUTPUT_DIR", "test-output"))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"moderation-offline-{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    with capsys.disabled():
        print("\n" + moderation_evaluation.confusion_markdown(report))
    for language, floor in FLOORS[name].items():
        measured = report["languages"][language]
        assert measured["recall"] >= floor["recall"], (language, measured, report["missed"])
        assert measured["false_positive_rate"] <= floor["fp"], (language, measured, report["false_positives"])
