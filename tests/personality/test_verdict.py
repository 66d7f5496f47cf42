"""The general reply verdict: each label on crafted replies, and bad input."""

from __future__ import annotations

import pytest

from personality.evaluation.calibration import ivan_profile
from personality.evaluation.lexicon import real_word_share
from personality.evaluation.verdict import PersonaFacts, reply_verdict


@pytest.fixture(scope="module")
def persona() -> PersonaFacts:
    return PersonaFacts(ivan_profile())


def _label(persona, reply: str, message: str = "Hi! How are you?", **kwargs) -> str:
    return reply_verdict(reply=reply, user_message=message, persona=persona, **kwargs).label


def test_the_garbled_first_reply_seen_on_main_is_gibberish(persona):
    verdict = reply_verdict(
        reply="Кто ты и чем занимаешься? Вот: Возбукать в правцах, когда нен написанный он.",
        user_message="Привет, Иван! Кто ты и чем занимаешься?",
        persona=persona,
    )
    assert verdict.label == "gibberish"
    assert "repeats the question" in verdict.reasons[0]


def test_real_word_share_counts_russian_inflections_and_not_invented_words():
    assert real_word_share("Я живу в Петербурге и бегаю по набережной.").share == 1.0
    share = real_word_share("Я пролежаю кодировку в сторожке и выбурдаю шахматки.")
    assert share.share < 0.9
    assert "выбурдаю" in share.unknown


def test_his_own_names_and_code_identifiers_are_not_unknown_words(persona):
    reply = "Кота зовут Байес. В tramway ретраи через retry_backoff, а `max_retries` ставлю в 5."
    assert real_word_share(reply, extra=persona.vocabulary).share >= 0.9


def test_an_empty_reply_is_gibberish_not_a_crash(persona):
    assert _label(persona, "") == "gibberish"
    assert _label(persona, "   \n ") == "gibberish"
    assert _label(persona, "!!! ??? ...") == "gibberish"


def test_a_huge_reply_gets_a_verdict(persona):
    reply = "I like Postgres because it is boring and reliable. " * 2000
    verdict = reply_verdict(reply=reply, user_message="Why Postgres?", persona=persona)
    assert verdict.label in {"gibberish", "off_character"}


def test_ai_model_and_other_names_are_other_identity(persona):
    assert _label(persona, "I am an AI language model created by OpenAI.") == "other_identity"
    assert _label(persona, "Hi! My name is Alex, nice to meet you.") == "other_identity"
    assert _label(persona, "Меня зовут Ольга.", "Как тебя зовут?") == "other_identity"
    assert _label(persona, "I'm Ivan, a backend engineer.", "Who are you?") == "good"


def test_scaffolding_and_quoted_rules_are_leaks(persona):
    assert _label(persona, "<|im_start|>assistant\nHi!") == "leak"
    assert _label(persona, "## Rules\n- stay Ivan") == "leak"


def test_contradicted_facts_and_assistant_talk_are_off_character(persona):
    assert _label(persona, "I live in Moscow.", "Where do you live?") == "off_character"
    assert _label(persona, "I live in Saint Petersburg.", "Where do you live?") == "good"
    assert _label(persona, "Hello! How can I assist you today?") == "off_character"
    assert _label(persona, "Привет! Всё хорошо.", "Hi! How are you?") == "off_character"


def test_cheap_mode_skips_the_real_word_check(persona):
    verdict = reply_verdict(reply="Hi there, all good.", user_message="Hi!", persona=persona, cheap=True)
    assert "real_words" not in verdict.checks
    assert verdict.label == "good"


def test_the_garbage_russian_candidate_the_gate_once_showed_is_gibberish(persona):
    """Seen in the measured run (docs/QUALITY.md): quoted English strung into a Russian fragment passed the gate."""
    verdict = reply_verdict(
        reply='что он, как бумер. Вот: "Всем меня нет", "I am a human,"…',
        user_message="Привет! Как у тебя дела?",
        persona=persona,
    )
    assert verdict.label == "gibberish"
    assert "mostly quotes" in verdict.reasons[0]
    assert any("mixes the other language" in reason for reason in verdict.reasons)


def test_a_phrase_said_twice_is_a_loop_and_borrowed_terms_are_not_mixing(persona):
    assert _label(persona, "Чем просто, где это не так, где это не так.", "Как дела?") == "gibberish"
    reply = "В основном Python и Postgres, плюс сервис на Go там, где важна скорость."
    assert _label(persona, reply, "Чем ты занимаешься на работе?") == "good"
