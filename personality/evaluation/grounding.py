"""Ivan's grounded answer: his own words, picked for the user's message, in the user's language.

The quality gate (gate.py) shows it instead of the bundled model's reply when every candidate
failed, or when a candidate that passed leaves out what his data says about the question (see
`unsupported`). Nothing here is generated. The answer's shape follows the situation:
- a topic he declines (a boundary's trigger words; prompt-leak and identity-switch requests are
  one of his boundaries) → his decline of that topic in his voice: the closest style example in the
  user's language whose question is on the same topic;
- "who are you" → his introduction;
- anything else → the closest of his facts and style examples in that language (BM25 over word
  lemmas — pymorphy3 for Russian, so "живёшь" finds "живу"), when one is relevant at all;
- else his introduction in that language, or his name and short bio.
Russian versions of his facts live in the persona data next to the English ones; a fact's language
is the language its text is written in.

`source` names the fact or example shown ("fact:12", "decline:17", ...) and goes on the message.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from digitalme.bm25 import BM25Okapi
from digitalme.language import detect_language
from personality.evaluation.lexicon import DICTIONARIES
from personality.evaluation.verdict import WHO_ARE_YOU
from personality.profile import BoundarySnapshot, PersonaProfile, per_version
from personality.prompts import STOPWORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_EN_SUFFIXES = ("ings", "ies", "ing", "ers", "ed", "es", "er", "s")
# Question and function words that say nothing about the topic (on top of the prompts' STOPWORDS):
# "сколько" must not find "сколько стоит медленный запрос", nor "after" find "named after the theorem".
QUESTION_WORDS = frozenset(
    [
        "after",
        "before",
        "over",
        "into",
        "onto",
        "out",
        "up",
        "down",
        "off",
        "again",
        "once",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "both",
        "each",
        "all",
        "much",
        "many",
        "get",
        "got",
        "make",
        "made",
        "want",
        "go",
        "going",
        "ever",
        "really",
        "still",
        "even",
        "сколько",
        "какой",
        "каков",
        "чей",
        "почему",
        "откуда",
        "зачем",
        "ли",
        "еще",
        "очень",
        "свой",
        "весь",
        "это",
        "который",
        "мочь",
    ]
)
# A multi-word trigger matches when its words come in order with at most this many words between.
TRIGGER_GAP = 2
# A message matches one of his facts or examples strongly when the entry covers this share of the
# message's terms, weighted by how rare each term is among his texts in that language.
STRONG_MATCH = 0.6
# A reply agrees with his data when it shares a word (beyond the question's) with one of this many
# of his entries closest to the message.
AGREEMENT_ENTRIES = 5
# Refusal wording: a reply to a declined topic that contains none of these did not decline it.
DECLINE_MARKERS = re.compile(
    r"\bi (?:don't|do not|won't|will not|can't|cannot|never) (?:discuss|talk about|share|give|help|do|tell|go into)"
    r"|\bi (?:won't|will not)\b|\bi keep\b|\bi'?m not (?:a doctor|a lawyer|a financial|going to|sharing)"
    r"|\bnot (?:a doctor|a lawyer|a financial adviser)|\b(?:nda|private|rather not|sorry|nice try)\b|^\W*no\b"
    r"|\bstill (?:ivan|me)\b|keep (?:it|them|that|my \w+) to myself"
    r"|не (?:обсуждаю|говорю|буду|скажу|могу|врач|юрист|финансов|стану|помогу|покажу|раздаю)|личное|\bnda\b"
    r"|^\W*нет\b|извини|при себе|(?:всё|все) ещё иван|по-прежнему иван",
    re.IGNORECASE,
)


def _lower(text: str) -> str:
    return text.lower().replace("ё", "е")


@functools.lru_cache(maxsize=50_000)
def lemma(word: str) -> str:
    """One normal form per word: pymorphy3's lemma for Russian, a light suffix stem for English."""
    word = _lower(word)
    if _CYRILLIC.search(word):
        return _lower(DICTIONARIES.ru().parse(word)[0].normal_form)
    for suffix in _EN_SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    # a final e goes too, so "name" and "named", "live" and "lived" meet
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def terms(text: str) -> list[str]:
    """The content words of `text` as lemmas (stop words left out, before and after lemmatising)."""
    out = []
    for word in _WORD.findall(text):
        lowered = _lower(word)
        if lowered in STOPWORDS or lowered in QUESTION_WORDS or len(lowered) < 2:
            continue
        normal = lemma(lowered)
        if normal not in STOPWORDS and normal not in QUESTION_WORDS:
            out.append(normal)
    return out


@dataclass(frozen=True)
class GroundedReply:
    text: str
    source: (
        str  # "decline:<n>", "introduction:<n>", "style_example:<n>" (style examples), "fact:<n>", "introduction:bio"
    )
    language: str
    shape: str  # decline | introduction | fact | example


@dataclass(frozen=True)
class _Entry:
    kind: str  # fact | example
    index: int  # in profile.facts / profile.style_examples
    text: str  # what is shown
    terms: tuple[str, ...]  # what relevance is computed on
    boundary: str | None  # for an example: the topic of the boundary its question is on


class _Trigger:
    """One trigger of a boundary: its words, each matched as a word (English: plus -s/-ed/-ing...;
    Russian: the same lemma, or as a prefix when the trigger is a word stem like "крипт")."""

    def __init__(self, text: str) -> None:
        self.words = [_lower(w) for w in _WORD.findall(text)]

    @staticmethod
    def _word_matches(trigger: str, word: str) -> bool:
        if word == trigger:
            return True
        if _CYRILLIC.search(trigger):
            if DICTIONARIES.ru().word_is_known(trigger):
                return lemma(word) == lemma(trigger)
            return word.startswith(trigger)
        return word.startswith(trigger) and word[len(trigger) :] in (*_EN_SUFFIXES, "'s", "d")

    def matches(self, words: list[str]) -> bool:
        if not self.words:
            return False
        for start, word in enumerate(words):
            if not self._word_matches(self.words[0], word):
                continue
            position, ok = start, True
            for needed in self.words[1:]:
                window = words[position + 1 : position + 2 + TRIGGER_GAP]
                hit = next((i for i, w in enumerate(window) if self._word_matches(needed, w)), None)
                if hit is None:
                    ok = False
                    break
                position += 1 + hit
            if ok:
                return True
        return False


_INTRODUCTION = re.compile(rf"{WHO_ARE_YOU.pattern}|\bты кто\b", re.IGNORECASE)


def _message_words(text: str) -> list[str]:
    return [_lower(w) for w in re.findall(r"[^\W_]+(?:'[a-z]+)?", text, re.UNICODE)]


class Grounding:
    """Ivan's facts and style examples indexed per language, and his boundaries' triggers."""

    def __init__(self, profile: PersonaProfile) -> None:
        self.profile = profile
        self.triggers = [(rule, [_Trigger(t) for t in rule.triggers]) for rule in profile.boundary_rules]
        self.entries: dict[str, list[_Entry]] = {}
        for i, fact in enumerate(profile.facts):
            language = detect_language(fact.text, default="en")
            entry = _Entry("fact", i, fact.text, tuple(terms(f"{fact.text} {' '.join(fact.tags)}")), None)
            self.entries.setdefault(language, []).append(entry)
        for i, example in enumerate(profile.style_examples):
            rule = self.boundary(example.user_message)
            entry = _Entry(
                "example",
                i,
                example.answer,
                tuple(terms(example.user_message)),
                rule.topic if rule else None,
            )
            self.entries.setdefault(example.language, []).append(entry)
        self.index = {
            language: BM25Okapi([list(e.terms) or ["∅"] for e in entries]) for language, entries in self.entries.items()
        }
        self.document_frequency = {language: _document_frequency(entries) for language, entries in self.entries.items()}

    def boundary(self, message: str) -> BoundarySnapshot | None:
        """The first boundary whose trigger words the message contains."""
        words = _message_words(message)
        for rule, triggers in self.triggers:
            if any(trigger.matches(words) for trigger in triggers):
                return rule
        return None

    def ranked(self, message: str, language: str, *, topic: str | None = None) -> list[tuple[_Entry, float]]:
        """His entries in `language` that share a term with the message, best first. With `topic`:
        only the examples whose question is on that declined topic; without: no decline examples."""
        entries = self.entries.get(language, [])
        query = terms(message)
        if not entries or not query:
            return []
        scores = self.index[language].scores(query)
        wanted = set(query)
        ranked = [
            (entry, float(score))
            for entry, score in zip(entries, scores, strict=True)
            if entry.boundary == topic and (topic is not None or wanted & set(entry.terms))
        ]
        return sorted(ranked, key=lambda pair: -pair[1])

    def coverage(self, message: str, language: str, entry: _Entry) -> float:
        """The share of the message's terms the entry covers, each weighted by its rarity (idf)."""
        query = set(terms(message))
        if not query:
            return 0.0
        frequency = self.document_frequency.get(language, {})
        total = len(self.entries.get(language, [])) or 1

        def idf(term: str) -> float:
            return math.log((total + 1) / (frequency.get(term, 0) + 0.5))

        have = set(entry.terms)
        weights = {term: idf(term) for term in query}
        return sum(w for t, w in weights.items() if t in have) / (sum(weights.values()) or 1.0)

    def reply(self, message: str, *, default_language: str = "en") -> GroundedReply:
        """His grounded answer to `message` (see the module docstring for the shapes)."""
        language = detect_language(message, default=default_language)
        rule = self.boundary(message)
        if rule is not None:
            declines = self.ranked(message, language, topic=rule.topic) or [
                (e, 0.0) for e in self.entries.get(language, []) if e.boundary == rule.topic
            ]
            if declines:
                entry = declines[0][0]
                return GroundedReply(entry.text, f"decline:{entry.index}", language, "decline")
        if not WHO_ARE_YOU.search(message):
            ranked = self.ranked(message, language)
            if ranked:
                entry = ranked[0][0]
                source = f"fact:{entry.index}" if entry.kind == "fact" else f"style_example:{entry.index}"
                return GroundedReply(entry.text, source, language, entry.kind)
        return self.introduction(language)

    def _introduces(self, entry: _Entry) -> bool:
        return entry.kind == "example" and bool(
            _INTRODUCTION.search(self.profile.style_examples[entry.index].user_message)
        )

    def introduction(self, language: str) -> GroundedReply:
        """His answer to "who are you" in `language` (else that language's first example, else his bio)."""
        same = [(i, ex) for i, ex in enumerate(self.profile.style_examples) if ex.language == language]
        examples = [(i, ex) for i, ex in same if _INTRODUCTION.search(ex.user_message)] or same
        if examples:
            index, example = examples[0]
            return GroundedReply(example.answer, f"introduction:{index}", language, "introduction")
        first = self.profile.name.split()[0]
        return GroundedReply(f"{first}: {self.profile.short_bio}", "introduction:bio", language, "introduction")

    def unsupported(self, message: str, reply: str, *, default_language: str = "en") -> str | None:
        """Why a reply that reads well still misses what his data says, or None: the message is on a
        topic he declines and the reply does not decline it; or one of his facts or examples matches
        the message strongly and the reply shares none of its distinctive words (it made something up)."""
        language = detect_language(message, default=default_language)
        rule = self.boundary(message)
        if rule is not None:
            return None if DECLINE_MARKERS.search(reply) else f"does not decline a topic he declines ({rule.topic})"
        if WHO_ARE_YOU.search(message):
            return None  # the verdict checks that he names himself
        ranked = [entry for entry, _ in self.ranked(message, language)[:AGREEMENT_ENTRIES]]
        strong = next((e for e in ranked if self.coverage(message, language, e) >= STRONG_MATCH), None)
        if strong is None or self._introduces(strong):
            return None  # nothing he knows answers it, or it is a greeting: any friendly reply will do
        said = set(terms(reply))
        asked = set(terms(message))
        if any(said & (set(terms(entry.text)) - asked) for entry in ranked):
            return None  # it says something of what he says on the subject
        return f"leaves out his {strong.kind} on it ({strong.kind}:{strong.index})"


def _document_frequency(entries: list[_Entry]) -> dict[str, int]:
    frequency: dict[str, int] = {}
    for entry in entries:
        for term in set(entry.terms):
            frequency[term] = frequency.get(term, 0) + 1
    return frequency


_CACHE: dict[tuple[str, int], Grounding] = {}


def grounding_for(profile: PersonaProfile) -> Grounding:
    """The Grounding of a stored persona version, built once per process (an unsaved draft: every time)."""
    return per_version(_CACHE, profile, Grounding)


def grounded_reply(*, profile: PersonaProfile, user_message: str) -> GroundedReply:
    """Ivan's grounded answer to `user_message` (see the module docstring)."""
    default = profile.languages[0] if profile.languages else "en"
    return grounding_for(profile).reply(user_message, default_language=default)
