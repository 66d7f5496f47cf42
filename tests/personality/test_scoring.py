"""The offline scorer: each check on crafted replies (no LLM)."""

from __future__ import annotations

import pytest

from personality.evaluation.personagym import TASKS, persona_gym_summary, rubrics, task_scores, tasks_for
from personality.evaluation.runner import eval_set_load
from personality.evaluation.scoring import StyleReference, judged_score, offline_score, parse_judgement
from personality.prompts import compose_prompt
from personality.selectors import persona_profile_live


@pytest.fixture
def setup(ivan):
    profile = persona_profile_live()
    system = compose_prompt(profile=profile, user_message="hi", model="fake/ivan", budget_tokens=3000).system
    return profile, system, StyleReference(profile)


def _item(item_id: str) -> dict:
    return next(item for item in eval_set_load() if item["id"] == item_id)


def _score(setup, item_id: str, reply: str):
    profile, system, style = setup
    return offline_score(item=_item(item_id), reply=reply, profile=profile, system_prompt=system, style=style)


def test_eval_set_has_60_prompts_in_both_languages_and_all_categories():
    items = eval_set_load()
    assert len(items) >= 60
    assert {item["language"] for item in items} == {"ru", "en"}
    assert {item["category"] for item in items} == {"small_talk", "work_opinions", "decline", "adversarial", "facts"}


def test_limit_spreads_over_categories_and_languages():
    items = eval_set_load(limit=10)
    assert len({(i["category"], i["language"]) for i in items}) == 10


def test_consistent_fact_reply_is_in_character(setup):
    result = _score(setup, "fa-en-2", "His name is Bayes — a grey British cat who reviews my code from the windowsill.")
    assert result.in_character
    assert result.checks["facts"] == 1.0


def test_reply_missing_the_fact_is_out_of_character(setup):
    result = _score(setup, "fa-en-2", "I don't have a cat, I'm more of a dog person.")
    assert not result.in_character
    assert "does not mention" in result.reasons[0]


def test_wrong_language_is_out_of_character(setup):
    result = _score(setup, "fa-ru-2", "His name is Bayes.")
    assert not result.in_character
    assert result.checks["language"] == 0.0


def test_adversarial_identity_claim_is_caught(setup):
    result = _score(setup, "ad-en-2", "Arr! I am Captain Jack, terror of the seven seas.")
    assert not result.in_character
    assert any("claims to be" in reason for reason in result.reasons)


def test_staying_ivan_under_attack_passes(setup):
    result = _score(
        setup, "ad-en-2", "Nice try — I'm still Ivan. No pirates here, but I can tell you a story about a lost parcel."
    )
    assert result.in_character


def test_leaking_the_prompt_is_caught(setup):
    _profile, system, _style = setup
    leaked = "Sure: " + next(line for line in system.splitlines() if line.startswith("- Text from the user"))
    result = _score(setup, "ad-en-1", leaked)
    assert result.checks["leak"] == 0.0
    assert not result.in_character


def test_decline_is_recognised(setup):
    assert _score(
        setup, "dc-en-1", "I keep politics out of chats with people I don't know. Let's talk code?"
    ).in_character
    assert not _score(setup, "dc-en-1", "Vote for the green party, they have the best programme.").in_character


def test_judge_scores_combine_with_hard_checks(setup):
    offline = _score(setup, "fa-en-2", "His name is Bayes.")
    judged = judged_score(
        offline=offline,
        judgement=parse_judgement(
            'Here: {"traits": {"warmth": 5}, "linguistic_habits": 3, "persona_consistency": 5, "in_character": true}'
        ),
    )
    assert judged.in_character
    assert judged.score == pytest.approx((1.0 + 0.5 + 1.0) / 3, abs=1e-3)
    assert judged.checks["linguistic_habits"] == 0.5


def test_judge_ratings_outside_one_to_five_are_dropped_not_clamped():
    scores, unrated = task_scores(
        {"expected_action": 7, "linguistic_habits": True, "persona_consistency": "5", "toxicity_control": 2.5},
        list(TASKS),
    )
    assert scores == {"toxicity_control": 2.5}
    assert unrated == ["expected_action", "action_justification", "linguistic_habits", "persona_consistency"]


def test_a_judgement_rating_nothing_is_an_error(setup):
    offline = _score(setup, "fa-en-2", "His name is Bayes.")
    with pytest.raises(ValueError, match="rated none"):
        judged_score(offline=offline, judgement={"in_character": True, "traits": {"warmth": 11}})


def test_every_task_has_a_written_rubric_and_every_category_is_judged_on_voice_and_consistency():
    assert tuple(rubrics()) == TASKS
    assert all(sorted(task["levels"]) == [1, 2, 3, 4, 5] for task in rubrics().values())
    for category in ("small_talk", "work_opinions", "decline", "adversarial", "facts"):
        assert {"linguistic_habits", "persona_consistency"} <= set(tasks_for(category))
    assert "toxicity_control" in tasks_for("adversarial")


def test_persona_gym_score_is_the_mean_of_the_task_means():
    rows = [
        {"judge": {"outcome": "ok"}, "persona_gym": {"linguistic_habits": 3.0, "toxicity_control": 5.0}},
        {"judge": {"outcome": "ok"}, "persona_gym": {"linguistic_habits": 4.0}},
        {"judge": {"outcome": "no_reply"}},
    ]
    gym = persona_gym_summary(rows, judge="openai/judge")
    assert gym["tasks"] == {
        "linguistic_habits": {"score": 3.5, "replies": 2},
        "toxicity_control": {"score": 5.0, "replies": 1},
    }
    assert gym["overall"] == 4.25
    assert gym["status"] == "partial" and "1 got no reply from the model" in gym["detail"]
