"""The classifier's Russian lemmas at scoring time (`moderation_model.FeatureLemmas`): dictionary
words are looked up in the table stored with the model, the others still parsed by pymorphy3 —
and every word of the training, dev and frozen files gets the lemma feature training gave it."""

from __future__ import annotations

import pytest

from chat import moderation_corpus, moderation_model
from chat.moderation_text import normalise


def _lemma_terms() -> frozenset[str]:
    terms = moderation_model.read_npz(moderation_model.MODEL_FILE)["words_terms"][0].split("\n")
    return frozenset(term[1:] for term in terms if term.startswith("~"))


def test_the_lemma_table_was_built_for_the_committed_model_and_dictionary():
    lemmas = moderation_model.FeatureLemmas()
    assert lemmas.lemmas == _lemma_terms(), (
        "the model's lemma features changed: run `manage.py build_moderation_lemmas` and commit the table"
    )
    assert lemmas.current
    assert moderation_model.classifier().blocks[1].analyzer.__self__.lemmas == lemmas.lemmas


def test_every_word_of_the_corpus_files_gets_the_lemma_feature_training_gave_it():
    """Feature-relevant lemmas equal pymorphy3's on all 9,000+ Russian words of train, dev, test and
    adversarial — 315 of them unknown to the dictionary, with a guessed lemma that is a feature."""
    lemmas = moderation_model.FeatureLemmas()
    words: set[str] = set()
    for path in (
        moderation_corpus.TRAIN_FILE,
        moderation_corpus.DEV_FILE,
        moderation_corpus.TEST_FILE,
        moderation_corpus.ADVERSARIAL_FILE,
    ):
        for sample in moderation_corpus.read(path):
            words.update(moderation_model._WORD.findall(normalise(sample.text)))
    russian = [word for word in words if len(word) > 2 and moderation_model._CYRILLIC_WORD.match(word)]
    assert len(russian) > 9_000
    expected = {word: moderation_model._lemma(word) for word in russian}
    expected = {word: lemma if lemma in lemmas.lemmas else None for word, lemma in expected.items()}
    ours = {word: lemmas.lemma(word) for word in russian}
    assert {word: lemma if lemma in lemmas.lemmas else None for word, lemma in ours.items()} == expected


def test_a_dictionary_word_whose_lemma_is_no_feature_is_not_parsed(monkeypatch):
    def parse(word: str) -> str:
        raise AssertionError(f"{word} was parsed")

    lemmas = moderation_model.FeatureLemmas()
    monkeypatch.setattr(moderation_model, "_lemma", parse)
    assert lemmas.lemma("кастрюлями") is None
    assert lemmas.lemma("ножом") == "нож"  # from the table


def test_a_word_unknown_to_the_dictionary_gets_its_guessed_lemma():
    """Not every word that can yield a lemma feature is a dictionary form: the obfuscated training
    rows taught the model lemmas pymorphy3 guessed ("аеловеком" → "аеловеко")."""
    lemmas = moderation_model.FeatureLemmas()
    assert lemmas.lemma("аеловеком") == "аеловеко" and "аеловеко" in lemmas.lemmas


@pytest.mark.parametrize("terms", ["нож\n~нож\n~новое", "a\nb"])
def test_a_table_built_for_other_lemma_features_is_not_used(terms):
    analyser = moderation_model._word_analyser(terms, moderation_model.LEMMA_FILE)
    assert analyser is moderation_model.word_features
