"""API fuzzing: schemathesis generates requests from the live OpenAPI schema (`/api/schema/`) and
checks each answer against it, signed in as a user and as staff (docs/SECURITY.md, "Fuzzing").

Requests go in-process through the WSGI app — the whole middleware stack, real PostgreSQL and
Redis — with JWTs from simplejwt. Generation is derandomized, so a failure reproduces with the same
command. Each operation gets valid cases (positive mode: path ids point at the account's own
objects, so the real logic runs) and invalid ones (negative mode: wrong types, missing fields,
random ids). Failures are collected over the whole run rather than stopping at the first, so one
run lists every broken operation.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chat.models import MemoryFact
from chat.services import chat_reply
from notifications.models import PushSubscription
from tests.factories import UserFactory
from tests.personality.conftest import ivan  # noqa: F401 - fixture

# 60–100 s per role measured on the shared host; the suite's 300 s default is too tight for a loaded CI run.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.usefixtures("ivan"),
]

# What is checked, for every case: no 5xx; the status is one the operation documents; the
# Content-Type is one documented for that status; the body validates against its schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Left out, with the reason (each has tests of its own).
EXCLUDED = {
    "POST /api/chat/load-test": "the load generator: each valid case runs up to 300 chat turns over sockets",
    "POST /api/integrations/load-test": "drives the provider APIs by design (up to 2,000 requests per case)",
}
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR") or "test-output")  # api-fuzz-<role>.json: what a run covered
# Every remote API the app may call points at a closed loopback port: nothing leaves the machine.
CLOSED_PORT = "http://127.0.0.1:9"
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
EXAMPLES_PER_MODE = 7  # per operation; simple operations exhaust their input space sooner
MIN_CASES_PER_ROLE = 500  # user + staff: at least 1,000 generated cases in a run


@pytest.fixture
def wsgi_app(settings):
    settings.GITHUB_API_BASE_URL = settings.GITHUB_OAUTH_BASE_URL = settings.GOOGLE_API_BASE_URL = CLOSED_PORT
    settings.GOOGLE_OAUTH_TOKEN_URL = settings.GOOGLE_OAUTH_REVOKE_URL = f"{CLOSED_PORT}/token"
    settings.TELEGRAM_API_BASE_URL = CLOSED_PORT
    return get_wsgi_application()


def _own_objects(user) -> dict[str, Any]:
    """Path parameters naming the account's own objects, so valid cases reach the real logic."""
    turn = chat_reply(user=user, text="Hello Ivan, how are you?", platform="api", conversation=None)
    fact = MemoryFact.objects.create(user=user, key="employer", value="Acme", text="Works at Acme")
    subscription = PushSubscription.objects.create(
        user=user, endpoint=f"{CLOSED_PORT}/push/{user.pk}", p256dh="p" * 87, auth="a" * 22
    )
    return {
        "conversation_id": turn.reply.conversation_id,
        "message_id": turn.reply.pk,
        "fact_id": fact.pk,
        "subscription_id": subscription.pk,
        "provider": "github",
        "slug": "ivan",
        "number": 1,
    }


def _fuzz(schema, *, headers: dict[str, str], own: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """Every operation × mode through hypothesis; returns (cases run, first failure per operation)."""
    cases = 0
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label.rstrip("/") in EXCLUDED:  # re_path routes take both forms
            continue
        names = {parameter.name for parameter in operation.path_parameters}
        for mode in MODES:
            fixed = {k: v for k, v in own.items() if k in names} if mode is MODES[0] else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            cases += _run(strategy, f"{operation.label} [{mode.value}]", headers, failures)
    return cases, failures


def _run(strategy, label: str, headers: dict[str, str], failures: dict[str, str]) -> int:
    """One operation in one mode: up to EXAMPLES_PER_MODE cases; failures recorded, not raised."""
    cases = 0

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(strategy)
    def run(case) -> None:
        nonlocal cases
        cases += 1
        cache.clear()  # throttles have their own tests; here every case reaches its view
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as exc:
            failures.setdefault(label, str(exc))

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()  # Unsatisfiable: negative mode of an operation without input, nothing to make invalid
    return cases


@pytest.fixture(params=["user", "staff"])
def account(request) -> Iterator[tuple[str, Any]]:
    yield request.param, UserFactory(is_staff=request.param == "staff")


def test_every_generated_request_is_answered_as_documented_without_a_server_error(account, wsgi_app):
    role, user = account
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}

    cases, failures = _fuzz(schema, headers=headers, own=_own_objects(user))

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / f"api-fuzz-{role}.json").write_text(json.dumps({"cases": cases, "failing": sorted(failures)}))
    assert failures == {}, "\n\n".join(f"{key}\n{report}" for key, report in failures.items())
    assert cases >= MIN_CASES_PER_ROLE
