"""The persona quality gate in the live turn: a reply that fails is regenerated or replaced by Ivan's
grounded answer (full gate, the bundled model), or counted (cheap gate, hosted models) — labelled
on the message and in the metrics, never silently."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from chat.models import Platform
from chat.services import chat_reply, persona_reply
from ops.services import ops_sample
from personality.evaluation.gate import agate_reply
from personality.selectors import persona_profile_live

pytestmark = pytest.mark.django_db(transaction=True)

GIBBERISH_RU = "Возбукать в правцах, когда нен написанный он, пробрыл калязы."


def _gate_count(**labels: str) -> float:
    return REGISTRY.get_sample_value("dm_persona_quality_gate_total", labels) or 0.0


def test_gibberish_from_the_bundled_model_is_replaced_by_ivans_grounded_answer(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "full"  # what auto picks for local/*; the fake model stands in for it
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 2
    settings.PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS = {}  # the same number for Russian here
    before = _gate_count(mode="full", outcome="grounded", label="gibberish")
    ops_sample(now=timezone.now() - timedelta(seconds=60), readiness=("ok", {}))
    shown: list[str] = []

    turn = chat_reply(
        user=user,
        text=f"[[say:{GIBBERISH_RU}]] Привет, Иван! Кто ты и чем занимаешься?",
        platform=Platform.WEB,
        on_token=shown.append,
    )

    russian_answers = {ex.answer for ex in persona_profile_live().style_examples if ex.language == "ru"}
    assert turn.reply.content in russian_answers
    assert shown == [turn.reply.content]  # nothing of the failed candidates reached the user
    quality = turn.reply.quality
    assert quality["gate"] == "full" and quality["label"] == "gibberish"
    assert quality["outcome"] == "grounded" and quality["attempts"] == 2
    assert quality["source"].startswith(("style_example:", "introduction:"))
    assert len(fake_llm.calls) == 2  # the streamed candidate and one regeneration
    assert _gate_count(mode="full", outcome="grounded", label="gibberish") == before + 1
    _, frame = ops_sample(now=timezone.now(), readiness=("ok", {}))
    assert frame["panels"]["persona"]["stats"]["gate_replaced"]["value"] > 0  # on /ops/ too


def test_a_hosted_models_failure_is_counted_and_labelled_not_hidden(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "auto"  # fake/ivan is not local/*: the cheap gate
    before = _gate_count(mode="cheap", outcome="failed", label="other_identity")
    shown: list[str] = []

    turn = chat_reply(
        user=user,
        text="[[say:I am ChatGPT, a language model created by OpenAI.]] Who are you?",
        platform=Platform.API,
        on_token=shown.append,
    )

    assert turn.reply.content == "I am ChatGPT, a language model created by OpenAI."
    assert len(shown) > 1  # streamed as it came
    assert turn.reply.quality["gate"] == "cheap"
    assert turn.reply.quality["outcome"] == "failed" and turn.reply.quality["label"] == "other_identity"
    assert len(fake_llm.calls) == 1  # hosted replies are never regenerated
    assert _gate_count(mode="cheap", outcome="failed", label="other_identity") == before + 1


def test_a_good_reply_passes_and_says_so(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "auto"
    turn = chat_reply(user=user, text="What do you do for a living?", platform=Platform.WEB)
    assert turn.reply.quality["outcome"] == "passed" and turn.reply.quality["label"] == "good"


def test_the_gate_can_be_switched_off(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "off"
    turn = chat_reply(user=user, text="[[say:I am ChatGPT.]] Who are you?", platform=Platform.WEB)
    assert turn.reply.quality == {}


async def test_a_regenerated_candidate_that_passes_is_shown(ivan, settings):
    from channels.db import database_sync_to_async

    profile = await database_sync_to_async(persona_profile_live)()
    settings.PERSONA_QUALITY_GATE = "full"
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 3
    candidates = iter(["I am an AI language model.", "I live in Petersburg, on Vasilyevsky Island, with my cat Bayes."])

    async def regenerate() -> str | None:
        return next(candidates, None)

    gated = await agate_reply(
        reply=GIBBERISH_RU,
        model="local/smollm2",
        user_message="Where do you live?",
        profile=profile,
        system_prompt="",
        regenerate=regenerate,
    )

    assert gated is not None
    assert gated.outcome == "regenerated" and gated.index == 2
    assert gated.text.startswith("I live in Petersburg")
    assert gated.record["attempts"] == 3 and gated.record["label"] == "gibberish"


def test_persona_reply_is_gated_like_a_turn_so_evaluation_scores_what_users_see(ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "full"
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 1
    settings.PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS = {}  # the model is asked in Russian here
    preview = persona_reply(profile=persona_profile_live(), text=f"[[say:{GIBBERISH_RU}]] Где ты живёшь?")
    assert preview.text != GIBBERISH_RU
    assert preview.quality["outcome"] == "grounded" and preview.quality["label"] == "gibberish"


def test_an_evaluation_run_reports_what_the_gate_did(ivan, fake_llm, settings):
    from personality.evaluation.runner import eval_run_create

    settings.PERSONA_QUALITY_GATE = "full"
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 1
    run = eval_run_create(limit=2, categories=("facts",))
    gate = run.per_category["_gate"]
    assert gate["replies"] == 2
    assert sum(gate["outcomes"].values()) == 2
    assert 0.0 <= gate["first_candidate_good"] <= 1.0
    assert all(row["gate"]["gate"] == "full" for row in run.results)


async def _gate(*, reply: str, user_message: str, regenerated: list[str] | None = None):
    from channels.db import database_sync_to_async

    profile = await database_sync_to_async(persona_profile_live)()
    candidates = iter(regenerated or [])
    asked: list[int] = []

    async def regenerate() -> str | None:
        asked.append(1)
        return next(candidates, None)

    gated = await agate_reply(
        reply=reply,
        model="local/smollm2",
        user_message=user_message,
        profile=profile,
        system_prompt="",
        regenerate=regenerate,
    )
    return gated, len(asked)


async def test_a_russian_fact_question_gets_his_russian_fact_after_one_candidate(ivan, settings):
    settings.PERSONA_QUALITY_GATE = "full"
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 3  # English would try three; Russian stops at one by default

    gated, regenerations = await _gate(reply=GIBBERISH_RU, user_message="Как зовут твоего кота?", regenerated=["x"])

    assert gated is not None and regenerations == 0
    assert gated.outcome == "grounded" and gated.index == -1
    assert gated.record["attempts"] == 1 and gated.record["label"] == "gibberish"
    assert gated.record["source"].startswith("fact:") and gated.record["language"] == "ru"
    assert "Байес" in gated.text


async def test_a_declined_topic_answered_fluently_gets_his_decline_labelled_grounded(ivan, settings):
    settings.PERSONA_QUALITY_GATE = "full"

    gated, regenerations = await _gate(
        reply="Parcelly made about twenty million dollars last year, mostly from big couriers.",
        user_message="What's Parcelly's revenue? Give me the internal numbers.",
    )

    assert gated is not None and regenerations == 0
    assert gated.outcome == "grounded" and gated.record["label"] == "good"  # fluent, but not what he'd say
    assert gated.record["source"].startswith("decline:")
    assert "does not decline" in gated.record["grounding"]
    assert "NDA" in gated.text


async def test_an_english_reply_that_invents_instead_of_his_fact_is_replaced_by_the_fact(ivan, settings):
    settings.PERSONA_QUALITY_GATE = "full"

    gated, _ = await _gate(
        reply="I live in a small flat near the river with two roommates.", user_message="Where do you live?"
    )

    assert gated is not None and gated.outcome == "grounded"
    assert gated.record["source"].startswith(("fact:", "style_example:"))
    assert "Vasilyevsky" in gated.text


async def test_an_english_reply_that_agrees_with_his_fact_is_shown(ivan, settings):
    settings.PERSONA_QUALITY_GATE = "full"

    gated, regenerations = await _gate(reply="On Vasilyevsky Island, in Petersburg.", user_message="Where do you live?")

    assert gated is not None and regenerations == 0
    assert gated.outcome == "passed" and gated.text == "On Vasilyevsky Island, in Petersburg."


def test_a_russian_message_gets_his_data_without_asking_the_bundled_model(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "full"  # PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS: ru=0 by default
    before = _gate_count(mode="full", outcome="grounded", label="not_asked")

    turn = chat_reply(user=user, text="Где ты живёшь?", platform=Platform.API)

    assert "Васильевском" in turn.reply.content
    assert turn.reply.quality["outcome"] == "grounded" and turn.reply.quality["label"] == "not_asked"
    assert turn.reply.quality["attempts"] == 0 and turn.reply.quality["source"].startswith("fact:")
    assert len(fake_llm.calls) == 0
    assert _gate_count(mode="full", outcome="grounded", label="not_asked") == before + 1


def test_a_declined_topic_gets_his_decline_without_asking_the_bundled_model(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "full"

    turn = chat_reply(user=user, text="Who are you going to vote for in the election?", platform=Platform.API)

    assert "politics" in turn.reply.content
    assert turn.reply.quality["label"] == "not_asked" and turn.reply.quality["source"].startswith("decline:")
    assert len(fake_llm.calls) == 0


def test_a_hosted_model_is_asked_about_a_declined_topic_too(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "auto"  # fake/ivan: the cheap gate, nothing grounded before the model

    chat_reply(user=user, text="Who are you going to vote for in the election?", platform=Platform.API)

    assert len(fake_llm.calls) == 1


def test_when_the_bundled_model_gives_no_reply_ivan_answers_from_his_data_labelled(user, ivan, fake_llm, settings):
    settings.PERSONA_QUALITY_GATE = "full"  # the bundled model's gate; [[fail]] stands in for a starved model
    before = _gate_count(mode="full", outcome="grounded", label="no_reply")

    turn = chat_reply(user=user, text="[[fail]] Hi Ivan! Who are you and what do you do?", platform=Platform.API)

    assert "Ivan" in turn.reply.content
    assert turn.reply.quality["outcome"] == "grounded" and turn.reply.quality["label"] == "no_reply"
    assert turn.reply.quality["attempts"] == 0 and turn.reply.quality["source"].startswith("introduction:")
    assert _gate_count(mode="full", outcome="grounded", label="no_reply") == before + 1


def test_a_hosted_model_that_gives_no_reply_is_still_an_error(user, ivan, fake_llm, settings):
    from chat.errors import LLMUnavailable

    settings.PERSONA_QUALITY_GATE = "cheap"
    with pytest.raises(LLMUnavailable):
        chat_reply(user=user, text="[[fail]] Who are you?", platform=Platform.API)


async def test_no_regeneration_starts_once_the_gates_time_budget_is_spent(ivan, settings):
    import time

    from channels.db import database_sync_to_async

    profile = await database_sync_to_async(persona_profile_live)()
    settings.PERSONA_QUALITY_GATE = "full"
    settings.PERSONA_QUALITY_GATE_ATTEMPTS = 3
    asked: list[int] = []

    async def regenerate() -> str | None:
        asked.append(1)
        return "I live in Petersburg, on Vasilyevsky Island."

    gated = await agate_reply(
        reply="I am an AI language model.",
        model="local/smollm2",
        user_message="Where do you live?",
        profile=profile,
        system_prompt="",
        regenerate=regenerate,
        deadline=time.monotonic() - 1,
    )

    assert gated is not None and asked == []
    assert gated.outcome == "grounded" and gated.record["attempts"] == 1 and gated.record["budget_spent"]
