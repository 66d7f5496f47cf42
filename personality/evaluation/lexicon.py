"""Is a reply made of real words? The share of a reply's words that exist in Russian or English.

Russian: pymorphy3 with the OpenCorpora dictionary (pymorphy3-dicts-ru, ~390k lemmas in every
inflected form), so "петербурге" or "написанный" are known and "правцах" or "возбукать" are not.
English: pyspellchecker's English word-frequency list (~160k words). Both ship their data inside
the PyPI package; nothing is downloaded. Words Ivan himself uses (names, places, tech terms from
his facts and examples, e.g. "Bayes", "Parcelly", "tramway") count as real for his replies.

Cost, measured on this machine: the Russian dictionary adds ≈ 27 MB RSS and ≈ 0.1 s to load, the
English list ≈ 40 MB and ≈ 0.2 s; a lookup costs ≈ 4 µs a word. Each is loaded on first use, once
per process (callers that must stay small — web processes with a hosted model — use the quality
gate's cheap mode, which never calls this module).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from digitalme import russian_morphology

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Code in a reply is not prose: `spans`, snake_case names, dotted names (file.py, os.path), URLs.
_CODE = re.compile(r"`[^`]*`|https?://\S+|\b\w*_\w*\b|\b\w+(?:\.\w+)+\b")
MAX_UNKNOWN_SHOWN = 8


class _Dictionaries:
    """The two analysers, loaded lazily and once per process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._en: Any = None

    def ru(self) -> Any:
        """The process's one Russian analyser, shared with moderation (digitalme/russian_morphology.py)."""
        return russian_morphology.analyzer()

    def en(self) -> Any:
        if self._en is None:
            with self._lock:
                if self._en is None:
                    from spellchecker import SpellChecker

                    self._en = SpellChecker(language="en", distance=1)
        return self._en

    @property
    def loaded(self) -> dict[str, bool]:
        return {"ru": russian_morphology.loaded(), "en": self._en is not None}


DICTIONARIES = _Dictionaries()


def fold(text: str) -> str:
    """Lower case with ё as е: how the verdict and the claim checks compare words."""
    return text.lower().replace("ё", "е")


def _normal(word: str) -> str:
    return word.lower().replace("ё", "е").replace("’", "'")


def _known_ru(word: str) -> bool:
    morph = DICTIONARIES.ru()
    if morph.word_is_known(word) or morph.word_is_known(word.replace("е", "ё")):
        return True
    return "-" in word and all(part and morph.word_is_known(part) for part in word.split("-"))


def _known_en(word: str) -> bool:
    english = DICTIONARIES.en()
    if word in english:
        return True
    if "'" in word:  # contractions and possessives: don't, it's, Ivan's
        stem, _, suffix = word.partition("'")
        return suffix in {"s", "t", "re", "ve", "ll", "d", "m"} and (
            not stem or stem in english or stem + "n" in english
        )
    return "-" in word and all(part in english for part in word.split("-") if part)


def is_real_word(word: str, *, extra: frozenset[str] = frozenset()) -> bool:
    word = _normal(word)
    if len(word) == 1 or word in extra:
        return True
    return _known_ru(word) if _CYRILLIC.search(word) else _known_en(word)


@dataclass(frozen=True)
class WordShare:
    share: float  # 0..1 of the words that count; 1.0 for a reply without words
    words: int  # words that count (names are left out)
    unknown: list[str] = field(default_factory=list)  # the first few unknown words, for reasons
    names: int = 0  # capitalised unknown words inside a sentence, taken as names and not counted


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def prose(text: str) -> str:
    """`text` without code spans, identifiers and URLs (blanked, so offsets stay the same)."""
    return _CODE.sub(lambda match: " " * len(match.group(0)), text)


_SENTENCE_ENDS = '.!?…:;«"(—-'


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in _SENTENCE_ENDS


def real_word_share(text: str, *, extra: frozenset[str] = frozenset()) -> WordShare:
    """Share of the words in `text` found in the Russian or English dictionary (or in `extra`).

    A capitalised unknown word inside a sentence ("кота зовут Барсик") is taken for a name and left
    out of the count: dictionaries don't list every name. Limit: an invented word that happens to
    be capitalised mid-sentence is not caught.
    """
    counted = 0
    names = 0
    unknown: list[str] = []
    text = prose(text)
    for match in _WORD.finditer(text):
        word = match.group(0)
        if is_real_word(word, extra=extra):
            counted += 1
        elif word[0].isupper() and not _starts_sentence(text, match.start()):
            names += 1
        else:
            counted += 1
            unknown.append(word)
    if not counted:
        return WordShare(share=1.0, words=0, names=names)
    return WordShare(
        share=round(1 - len(unknown) / counted, 4), words=counted, unknown=unknown[:MAX_UNKNOWN_SHOWN], names=names
    )


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every word of `texts`, normalised: the persona's own names and terms count as real words."""
    return frozenset(_normal(word) for text in texts for word in words_of(text))
