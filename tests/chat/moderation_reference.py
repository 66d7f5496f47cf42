"""The offline moderation layers written the straightforward way — every normalisation pass over
the whole text, every rule's regex, every window's full feature vector and harm logits — as they
were before the fast paths. tests/chat/test_moderation_fast.py checks the production code gives
exactly these results. Keep in step with the features of chat/moderation_model.py."""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_left
from collections import Counter

from chat import moderation, moderation_model
from chat.moderation_text import (
    _CONTRACTIONS,
    _DASHES,
    _INVISIBLE,
    _QUOTES,
    _REPEATS,
    _SPACES,
    _SPELT_OUT,
    _SPELT_SEPARATORS,
    _fix_token,
)

_TOKEN = re.compile(r"\S+")


def normalise(text: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.lower().replace("ё", "е")
    text = _SPELT_OUT.sub(lambda match: _SPELT_SEPARATORS.sub("", match.group(0)), text)
    text = text.translate(_QUOTES).translate(_DASHES)
    text = _REPEATS.sub(r"\1", text)
    text = " ".join(_fix_token(token) for token in _TOKEN.findall(text)) if text.strip() else ""
    for _literal, pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text)


def rule(normalised: str) -> moderation.Rule | None:
    """The heaviest matching rule, the first of equal weight, every regex run."""
    best: moderation.Rule | None = None
    for candidate in moderation._rules():
        if best is not None and candidate.weight <= best.weight:
            continue
        if candidate.pattern.search(normalised) and not (candidate.unless and candidate.unless.search(normalised)):
            best = candidate
    return best


def _analyser(block: moderation_model._Block):
    """The training analysers (the word block's scoring one skips lemmas that can't be features)."""
    return block.analyzer if block.analyzer is moderation_model.char_wb_ngrams else moderation_model.word_features


def _token_estimate(block: moderation_model._Block, token: str) -> tuple[float, float]:
    columns = [block.vocabulary[term] - block.offset for term in _analyser(block)(token) if term in block.vocabulary]
    return (
        sum(block.harm_coef[column] * block.idf[column] for column in columns),
        sum(block.idf[column] * block.idf[column] for column in columns),
    )


def _features(block: moderation_model._Block, text: str) -> list[tuple[int, float]]:
    counts = Counter(term for term in _analyser(block)(text) if term in block.vocabulary)
    weighted = [
        (block.vocabulary[term], (1.0 + math.log(count)) * block.idf[block.vocabulary[term] - block.offset])
        for term, count in counts.items()
    ]
    norm = math.sqrt(sum(value * value for _, value in weighted))
    return [(column, value / norm) for column, value in weighted]


def probability(model: moderation_model.Classifier, normalised: str) -> tuple[float, str]:
    vector = [feature for block in model.blocks for feature in _features(block, normalised)]
    logit = model.harm_intercept + math.fsum(model.harm_coef[column] * value for column, value in vector)
    harms = len(model.categories)
    logits = list(model.category_intercept)
    for column, value in vector:
        for harm in range(harms):
            logits[harm] += model.category_weights[harm][column] * value
    return 1.0 / (1.0 + math.exp(-logit)), model.categories[max(range(harms), key=logits.__getitem__)]


def candidates(model: moderation_model.Classifier, normalised: str) -> list[str]:
    """`Classifier.candidates` token by token: every window and sentence ranked by the estimate
    (each token's parts from the blocks, uncached), the EXACT_WINDOWS highest in text order."""
    if len(normalised) <= moderation_model.WINDOW_CHARS:
        return [normalised]
    tokens = normalised.split(" ")
    starts = list(itertools.accumulate((len(token) + 1 for token in tokens), initial=0))
    estimates = [
        (*_token_estimate(model.blocks[0], token), *_token_estimate(model.blocks[1], token)) for token in tokens
    ]
    sums = [list(itertools.accumulate(part, initial=0.0)) for part in zip(*estimates, strict=True)]
    count = len(tokens)
    spans = []
    for start in moderation_model.window_starts(len(normalised)):
        end = start + moderation_model.WINDOW_CHARS
        spans.append((bisect_left(starts, start, 0, count), bisect_left(starts, end, 0, count), start, end))
    first = 0
    for index, token in enumerate(tokens):
        if token.endswith((".", "!", "?", "…", ";")) or index == count - 1:
            if (
                index + 1 - first >= moderation_model.MIN_WORDS
                and starts[index + 1] - 1 - starts[first] <= moderation_model.WINDOW_CHARS
            ):
                spans.append((first, index + 1, starts[first], starts[index + 1] - 1))
            first = index + 1

    def estimate(span: tuple[int, int, int, int]) -> float:
        a_chars, b_chars, a_words, b_words = (part[span[1]] - part[span[0]] for part in sums)
        return (a_chars / math.sqrt(b_chars) if b_chars > 0 else 0.0) + (
            a_words / math.sqrt(b_words) if b_words > 0 else 0.0
        )

    chosen: dict[str, int] = {}
    for span in sorted(spans, key=estimate, reverse=True):
        chosen.setdefault(normalised[span[2] : span[3]], span[2])
        if len(chosen) == moderation_model.EXACT_WINDOWS:
            break
    return sorted(chosen, key=chosen.__getitem__)


def collapse_repetition(text: str) -> str:
    words = moderation_model._LETTER_WORD.findall(text.lower())
    if len(words) < moderation_model.REPEATED_MIN_WORDS or len(set(words)) > moderation_model.REPEATED_DISTINCT:
        return text
    return " ".join(dict.fromkeys(words))


def predict(model: moderation_model.Classifier, text: str) -> moderation_model.Prediction:
    best = moderation_model.Prediction(0.0, "")
    normalised = normalise(collapse_repetition(text))
    if len(moderation_model._WORD.findall(normalised)) < moderation_model.MIN_WORDS:
        return best
    # Which windows and sentences are scored is the estimate's choice (`candidates`, checked
    # against the model's own in test_moderation_fast.py); their scores here are exact.
    for window in candidates(model, normalised):
        harmful, category = probability(model, window)
        if round(harmful, 4) > best.harmful:
            best = moderation_model.Prediction(round(harmful, 4), category)
    return best
