"""digitalme.bm25: Okapi BM25 as rank-bm25 scored it (the prompt's facts and examples were ranked
with rank-bm25 before; the expected numbers below are the formula worked by hand)."""

import math

import pytest

from digitalme.bm25 import BM25Okapi

CORPUS = [["cat", "sleeps"], ["dog", "barks", "dog"], ["cat", "dog"], ["bird"]]


def _score(freq: int, length: int, idf: float, avgdl: float = 2.0) -> float:
    return idf * (freq * 2.5 / (freq + 1.5 * (1 - 0.75 + 0.75 * length / avgdl)))


def test_scores_follow_the_okapi_formula():
    idf_dog = math.log(4 - 2 + 0.5) - math.log(2 + 0.5)  # in 2 of 4 documents: 0
    idf_barks = math.log(4 - 1 + 0.5) - math.log(1 + 0.5)

    scores = BM25Okapi(CORPUS).scores(["barks", "dog"])

    assert scores == pytest.approx(
        [0.0, _score(1, 3, idf_barks) + _score(2, 3, idf_dog), _score(1, 2, idf_dog), 0.0], abs=1e-12
    )
    assert scores[1] > 0 and scores[0] == scores[3] == 0.0


def test_a_term_in_most_documents_gets_the_epsilon_floor_not_a_negative_idf():
    corpus = [["tea"], ["tea", "cake"], ["tea"], ["jam"]]
    idfs = {
        "tea": math.log(4 - 3 + 0.5) - math.log(3 + 0.5),
        "cake": math.log(4 - 1 + 0.5) - math.log(1 + 0.5),
        "jam": math.log(4 - 1 + 0.5) - math.log(1 + 0.5),
    }
    floor = 0.25 * (sum(idfs.values()) / 3)

    index = BM25Okapi(corpus)

    assert idfs["tea"] < 0
    assert index.idf["tea"] == pytest.approx(floor) and floor > 0
    assert index.scores(["tea"])[0] > 0


def test_unknown_and_repeated_query_terms():
    index = BM25Okapi(CORPUS)

    assert index.scores(["fish"]) == [0.0, 0.0, 0.0, 0.0]
    assert index.scores(["barks", "barks"]) == [2 * s for s in index.scores(["barks"])]


def test_empty_documents_score_zero_and_an_empty_corpus_is_refused():
    assert BM25Okapi([[], []]).scores(["cat"]) == [0.0, 0.0]
    with pytest.raises(ValueError):
        BM25Okapi([])


def test_containing_names_the_documents_that_share_a_word_with_the_query():
    index = BM25Okapi(CORPUS)

    assert index.containing(["dog", "fish"]) == {1, 2}
    assert index.containing(["fish"]) == set()
