"""BM25 (Okapi) relevance: the one definition, for Ivan's facts and examples and a user's memory.

The scores are those of rank-bm25's `BM25Okapi` (k1 1.5, b 0.75, an idf floor of epsilon × the mean
idf for terms in more than half the documents), computed in the same order of floating-point
operations, so rankings did not move when it was replaced. rank-bm25 scores with numpy, and importing
numpy cost every web process ≈ 14 MB of RSS for a few dozen additions per message; plain floats over
at most a few hundred short documents cost no more CPU.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence


class BM25Okapi:
    """An index over tokenised documents; `scores(query)` gives one score per document, in order."""

    def __init__(self, corpus: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        if not corpus:
            raise ValueError("BM25 needs at least one document")
        self.k1, self.b = k1, b
        self.doc_freqs = [Counter(document) for document in corpus]
        self.doc_len = [len(document) for document in corpus]
        self.avgdl = sum(self.doc_len) / len(corpus)
        containing: Counter[str] = Counter()
        for frequencies in self.doc_freqs:
            containing.update(frequencies.keys())
        size = len(corpus)
        self.idf = {word: math.log(size - count + 0.5) - math.log(count + 0.5) for word, count in containing.items()}
        # A term in more than half the documents would score negative: floored at epsilon × the mean idf.
        if self.idf:
            floor = epsilon * (_sum_in_order(self.idf.values()) / len(self.idf))
            for word, idf in self.idf.items():
                if idf < 0:
                    self.idf[word] = floor
        # Each document's length normalisation, the expression rank-bm25 evaluates per query term
        # (all documents empty: no term is indexed, every score stays 0).
        avgdl = self.avgdl or 1.0
        self._norm = [k1 * (1 - b + b * length / avgdl) for length in self.doc_len]
        # term → (document, frequency) for the documents that have it: a query term adds to those
        # only (elsewhere it would add exactly 0.0, which changes no sum), and "which documents share
        # a word with the query" needs no set per document.
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for index, frequencies in enumerate(self.doc_freqs):
            for word, freq in frequencies.items():
                self._postings.setdefault(word, []).append((index, freq))

    def containing(self, terms: Iterable[str]) -> set[int]:
        """The documents that have at least one of `terms`."""
        return {index for term in set(terms) for index, _ in self._postings.get(term, ())}

    def scores(self, query: Sequence[str]) -> list[float]:
        totals = [0.0] * len(self.doc_freqs)
        factor = self.k1 + 1
        for term in query:
            idf = self.idf.get(term) or 0
            if not idf:
                continue  # adds 0.0 to every score
            for i, freq in self._postings[term]:
                totals[i] += idf * (freq * factor / (freq + self._norm[i]))
        return totals


def _sum_in_order(values: Iterable[float]) -> float:
    """Left to right, as rank-bm25 adds (newer Pythons' `sum` compensates, which changes the last bits)."""
    total = 0.0
    for value in values:
        total += value
    return total
