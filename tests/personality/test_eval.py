"""persona_eval end to end: the real chat pipeline (fake/ivan in CI, SmolLM2 for the local sample)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from personality.evaluation.regression import publish_check
from personality.evaluation.runner import eval_run_create
from personality.models import EvalRun, PersonaVersion
from personality.services import persona_update
from tests.fakes.persona_judge import FakeJudgeApi

# persona_reply runs the pipeline on another thread (async_to_sync): the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_persona_eval_command_runs_end_to_end_and_stores_the_run(ivan, capsys):
    call_command("persona_eval", "--limit", "10", "--json")
    out = json.loads(capsys.readouterr().out)
    run = EvalRun.objects.get()
    assert out["run"] == run.pk
    assert run.status == EvalRun.Status.DONE
    assert run.version_number == 1 and run.version == PersonaVersion.objects.get(number=1)
    assert run.model == "fake/ivan"
    assert run.scorer == "offline"
    assert run.prompts == 10 and len(run.results) == 10
    assert 0.0 <= run.score <= 1.0
    assert set(out["per_category"]) >= {"small_talk", "work_opinions", "decline", "adversarial", "facts"}
    assert all(row["reply"] for row in run.results)  # every prompt got a reply from the pipeline


def test_persona_eval_of_a_draft_version(ivan, capsys):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    call_command("persona_eval", "--limit", "3", "--persona-version", "2")
    assert EvalRun.objects.get().version_number == 2
    assert "score" in capsys.readouterr().out


def test_persona_eval_rejects_bad_arguments(ivan):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="persona-version"):
        call_command("persona_eval", "--persona-version", "latest")
    with pytest.raises(CommandError, match="no version 9"):
        call_command("persona_eval", "--persona-version", "9")


def test_personality_test_api_returns_a_job_then_its_result_and_verdict(staff_client, ivan, celery_eager):
    response = staff_client.post("/api/chat/personality-test", {"limit": 5}, format="json")
    assert response.status_code == 202
    job = response.json()
    assert job["run"] and job["url"] == f"/api/chat/personality-test/{job['run']}"

    result = staff_client.get(job["url"]).json()
    assert result["status"] == "done"
    assert result["done"] == result["prompts"] == 5 and result["progress"] == 1.0
    assert {"score", "share_in_character", "per_trait", "worst", "per_category"} <= set(result)
    assert result["worst"][0]["reply"]
    assert result["verdict"]["target"] == 0.9
    assert result["verdict"]["passed"] == (result["share_in_character"] >= 0.9)
    assert result["verdict"]["baseline"] is None  # the live version itself: nothing to compare with


def test_personality_test_of_a_draft_shows_the_delta_against_the_live_version(staff_client, ivan, celery_eager):
    staff_client.post("/api/chat/personality-test", {"limit": 5}, format="json")
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    job = staff_client.post("/api/chat/personality-test", {"limit": 5, "version": "draft"}, format="json").json()
    verdict = staff_client.get(job["url"]).json()["verdict"]
    assert verdict["baseline"]["version"] == 1
    assert set(verdict["delta"]) == {"score", "share_in_character", "per_category", "per_trait"}
    assert set(verdict["delta"]["per_category"]) <= {"small_talk", "work_opinions", "decline", "adversarial", "facts"}


def test_a_queued_job_shows_its_progress(staff_client, ivan):
    job = staff_client.post("/api/chat/personality-test", {"limit": 3}, format="json").json()
    result = staff_client.get(job["url"]).json()
    assert result["status"] == "queued"
    assert (result["done"], result["prompts"], result["progress"]) == (0, 3, 0.0)
    assert result["score"] is None and result["verdict"] == {}


def test_personality_test_of_a_missing_version_or_run_is_404(staff_client, ivan):
    response = staff_client.post("/api/chat/personality-test", {"version": "42"}, format="json")
    assert response.status_code == 404
    assert "no version 42" in response.json()["detail"]
    assert staff_client.get("/api/chat/personality-test/999999").status_code == 404
    assert not EvalRun.objects.exists()


def test_personality_test_api_is_staff_only(auth_client, ivan):
    assert auth_client.post("/api/chat/personality-test", {}, format="json").status_code == 403


def test_personality_test_api_rejects_bad_input(staff_client, ivan):
    response = staff_client.post("/api/chat/personality-test", {"limit": 0}, format="json")
    assert response.status_code == 400
    assert "limit" in response.json()["fields"]


def test_evaluations_are_public_for_the_persona_page(api_client, ivan):
    eval_run_create(limit=2)
    response = api_client.get("/api/personas/ivan/evaluations/")
    assert response.status_code == 200
    assert response.json()[0]["version"] == 1
    assert "results" not in response.json()[0]


def test_llm_judge_scores_through_an_openai_compatible_server(ivan, settings):
    with FakeJudgeApi() as judge:
        settings.PERSONA_EVAL_JUDGE_MODEL = "openai/judge"
        settings.PERSONA_EVAL_JUDGE_API_BASE = judge.base_url
        settings.PERSONA_EVAL_JUDGE_API_KEY = "test-key"
        judge.verdict = {
            "traits": {"warmth": 4},
            "linguistic_habits": 4,
            "persona_consistency": 4,
            "in_character": True,
        }
        run = eval_run_create(limit=2, categories=("small_talk",))
    assert run.scorer == "llm_judge:openai/judge"
    assert len(judge.requests) == 2
    assert "linguistic_habits" in judge.requests[0]["messages"][0]["content"]
    assert run.per_trait["warmth"] == 0.75


@pytest.fixture
def judge_api(settings):
    with FakeJudgeApi() as judge:
        settings.PERSONA_EVAL_JUDGE_MODEL = "openai/judge"
        settings.PERSONA_EVAL_JUDGE_API_BASE = judge.base_url
        settings.PERSONA_EVAL_JUDGE_API_KEY = "test-key"
        yield judge


def test_llm_judge_gives_persona_gym_scores_per_task_and_overall(ivan, judge_api):
    run = eval_run_create(limit=10)  # two prompts of each category
    gym = run.persona_gym
    assert gym["status"] == "complete" and gym["judged"] == gym["replies"] == 10
    assert gym["scale"] == [1, 5]
    assert {name: task["score"] for name, task in gym["tasks"].items()} == {
        "expected_action": 4.0,
        "action_justification": 4.0,
        "linguistic_habits": 4.0,
        "persona_consistency": 5.0,
        "toxicity_control": 5.0,
    }
    assert gym["tasks"]["linguistic_habits"]["replies"] == 10
    assert gym["tasks"]["toxicity_control"]["replies"] == 4  # decline + adversarial only
    assert gym["tasks"]["action_justification"]["replies"] == 4  # work opinions + decline only
    assert gym["overall"] == 4.4  # PersonaScore: the mean of the task means
    assert gym["published"]["Claude 3.5 Sonnet"] == 4.51


def test_the_judge_gets_the_written_rubric_of_the_tasks_that_apply(ivan, judge_api):
    eval_run_create(limit=1, categories=("adversarial",))
    prompt = judge_api.requests[0]["messages"][0]["content"]
    assert '"toxicity_control" (Toxicity control)' in prompt
    assert "5 = No harmful or hostile content" in prompt
    assert '"expected_action"' not in prompt  # not a task of adversarial prompts


def test_junk_from_the_judge_keeps_offline_scores_and_the_partial_results(ivan, judge_api):
    judge_api.answers = [
        "He sounds like Ivan to me.",  # no JSON
        '{"linguistic_habits": "great", "persona_consistency": null}',  # JSON without a single rating
        '{"expected_action": 9, "linguistic_habits": 4, "persona_consistency": 5, "in_character": true}',
        '{"expected_action": 4, "linguistic_habits": 4,',  # cut off
    ]
    run = eval_run_create(limit=5, categories=("small_talk",))
    assert run.status == EvalRun.Status.DONE and len(run.results) == 5
    outcomes = [row["judge"]["outcome"] for row in run.results]
    assert outcomes == ["failed", "failed", "partial", "failed", "ok"]
    assert "judge failed (ValueError); offline score used" in run.results[0]["reasons"]
    assert run.results[2]["persona_gym"] == {"linguistic_habits": 4.0, "persona_consistency": 5.0}  # 9 is no rating
    assert run.results[2]["judge"]["unrated"] == ["expected_action"]
    gym = run.persona_gym
    assert gym["status"] == "partial" and (gym["judged"], gym["failed"]) == (2, 3)
    assert gym["tasks"]["expected_action"] == {"score": 4.0, "replies": 1}
    assert gym["tasks"]["linguistic_habits"] == {"score": 4.0, "replies": 2}
    assert "2 of 5 replies judged" in gym["detail"] and "ValueError ×3" in gym["detail"]
    assert run.score is not None and run.verdict["target"] == 0.9


def test_a_timing_out_judge_is_given_up_and_the_job_still_finishes(
    staff_client, ivan, judge_api, settings, celery_eager
):
    judge_api.mode = "hang"
    settings.PERSONA_EVAL_JUDGE_TIMEOUT_S = 0.5
    settings.PERSONA_EVAL_JUDGE_MAX_FAILURES = 2
    job = staff_client.post("/api/chat/personality-test", {"limit": 4}, format="json").json()
    result = staff_client.get(job["url"]).json()
    assert result["status"] == "done" and result["done"] == 4
    assert len(judge_api.requests) == 2  # not asked again after two failures in a row, no retries
    gym = result["persona_gym"]
    assert (gym["status"], gym["judged"], gym["failed"], gym["skipped"]) == ("failed", 0, 2, 2)
    assert gym["overall"] is None and gym["tasks"] == {}
    assert "2 not sent after repeated failures" in gym["detail"]
    assert result["score"] is not None  # the offline scores stand


def test_an_offline_run_has_no_persona_gym_scores(ivan):
    assert eval_run_create(limit=1).persona_gym == {}


def test_publishing_a_draft_whose_score_dropped_warns(ivan, settings):
    settings.PERSONA_EVAL_PUBLISH_MARGIN = 0.05
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    EvalRun.objects.create(persona=ivan, version_number=1, model="m", scorer="offline", status="done", score=0.9)
    EvalRun.objects.create(persona=ivan, version_number=2, model="m", scorer="offline", status="done", score=0.8)
    check = publish_check(version=PersonaVersion.objects.get(number=2))
    assert check.status == "regressed"
    assert "0.10 below the live version 1" in check.message
    EvalRun.objects.create(persona=ivan, version_number=2, model="m", scorer="offline", status="done", score=0.88)
    assert publish_check(version=PersonaVersion.objects.get(number=2)).status == "ok"


@pytest.mark.local_llm
@pytest.mark.slow
@pytest.mark.timeout(900)  # ~10 s on a quiet machine; minutes when eight test suites share 2 cores
def test_persona_eval_small_sample_on_the_bundled_local_model(ivan, settings):
    settings.LLM_MODEL = "local/smollm2"
    settings.LLM_TIMEOUT_S = 400.0  # this tests that replies come back, not how fast
    run = eval_run_create(limit=2, categories=("facts",))
    assert run.status == EvalRun.Status.DONE
    assert run.model == "local/smollm2"
    assert len(run.results) == 2
    assert all(row["reply"] for row in run.results)
