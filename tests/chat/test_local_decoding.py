"""Cleaning the bundled model's stream: role prefixes and an echo of the user's question are removed."""

from __future__ import annotations

from chat.llm.providers.local import _DONE, _ChunkMaker, _Sentences


def _clean(deltas: list[str], question: str) -> str:
    maker = _ChunkMaker(question)
    out = [chunk["text"] for delta in deltas for chunk in maker.take(delta)]
    out += [chunk["text"] for chunk in maker.take(_DONE)]
    return "".join(out)


def test_an_echoed_question_is_dropped_from_the_start_of_the_reply():
    question = "Привет, Иван! Кто ты и чем занимаешься?"
    deltas = ["Привет, ", "Иван! Кто ты ", "и чем занимаешься? ", "Я Иван, бэкенд", "-разработчик."]
    assert _clean(deltas, question) == "Я Иван, бэкенд-разработчик."


def test_a_role_prefix_is_dropped_and_a_normal_reply_kept_whole():
    assert _clean(["Ivan: ", "Hi there, ", "all good."], "How are you?") == "Hi there, all good."
    assert _clean(["Fine, ", "thanks!"], "How are you doing today?") == "Fine, thanks!"


def test_a_reply_that_is_only_the_echo_becomes_empty():
    assert _clean(["Where do you live?"], "Where do you live?") == ""


def _released(deltas: list[str], *, cut: bool = False) -> tuple[str, bool]:
    sentences = _Sentences()
    out, looped = [], False
    for delta in deltas:
        ready, looped = sentences.feed(delta)
        out.append(ready)
        if looped:
            break
    return "".join(out) + sentences.finish(cut=cut or looped), looped


def test_a_reply_cut_by_the_token_limit_ends_at_its_last_full_sentence():
    assert _released(["Hello there. ", "I live in Pet", "ersburg. And th"], cut=True) == (
        "Hello there. I live in Petersburg.",
        False,
    )
    assert _released(["Fine, ", "thanks!"]) == ("Fine, thanks!", False)


def test_a_repeated_phrase_stops_the_reply_before_the_repetition():
    text, looped = _released(["Чем просто, где это не так, ", "где ", "это ", "не ", "так, ", "где"])
    assert looped
    assert text == "Чем просто, где это не так,"
