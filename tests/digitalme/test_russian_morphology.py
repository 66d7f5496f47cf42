"""One pymorphy3 Russian analyser per process: moderation's lemmas and the reply checks'
dictionary are the same object (each held its own before: ≈ 18 MB of RSS twice), with the same
answers."""

from __future__ import annotations

from chat import moderation_model
from digitalme import russian_morphology
from personality.evaluation import lexicon


def test_moderation_and_reply_checks_share_one_analyser():
    moderation_model._lemma.cache_clear()
    assert moderation_model._lemma("зарежу") == "зарезать"
    assert russian_morphology.loaded()
    shared = russian_morphology.analyzer()
    assert lexicon.DICTIONARIES.ru() is shared
    assert lexicon.DICTIONARIES.loaded["ru"] is True
    # The reply checks read it through the same object and get what they did.
    assert lexicon.is_real_word("петербурге") and not lexicon.is_real_word("правцах")
    assert russian_morphology.analyzer() is shared


def test_one_analyser_instance_in_the_process():
    import gc

    import pymorphy3

    moderation_model._lemma("ножом")
    lexicon.DICTIONARIES.ru().word_is_known("дом")
    # type(), not isinstance(): a dead weakref.proxy among the objects raises ReferenceError on isinstance
    instances = [obj for obj in gc.get_objects() if type(obj) is pymorphy3.MorphAnalyzer]
    assert len(instances) == 1
