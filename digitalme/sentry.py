"""Sentry, started only when SENTRY_DSN is set, with nothing secret or personal in its events.

- No request bodies (`max_request_body_size="never"`: log-in passwords, chat messages), no frame
  local variables (`include_local_variables=False`: tokens and users' text live in locals), no
  cookies/headers/IPs/user data (`send_default_pii=False`), sentry's own denylist scrubber.
- `before_send` / `before_breadcrumb` replace, anywhere in the event (messages, exception values,
  URLs, breadcrumbs, tags), the Bot API path `bot<token>` and every configured secret's value by
  "[Filtered]", then tag the event with the request id (digitalme.request_id).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

FILTERED = "[Filtered]"
# https://api.telegram.org/bot<id>:<secret>/sendMessage — httpx and PTB put this URL in errors.
_BOT_TOKEN_URL = re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{20,}")
SECRET_SETTINGS = (
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "LLM_API_KEY",
    "METRICS_TOKEN",
    "GOOGLE_CLIENT_SECRET",
    "GITHUB_CLIENT_SECRET",
    "EMAIL_HOST_PASSWORD",
    "MODERATION_PROVIDER_API_KEY",
    "PERSONA_EVAL_JUDGE_API_KEY",
)


def _secret_values() -> list[str]:
    values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    values += [key.strip() for key in str(getattr(settings, "FIELD_ENCRYPTION_KEY", "")).split(",")]
    return sorted({value for value in values if len(value) >= 8}, key=len, reverse=True)


def scrub_text(text: str, secrets: list[str] | None = None) -> str:
    text = _BOT_TOKEN_URL.sub("bot" + FILTERED, text)
    for secret in _secret_values() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, FILTERED)
    return text


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub(item, secrets) for item in value)
    return value


def before_send(event: Any, hint: dict[str, Any]) -> Any:
    from digitalme.request_id import sentry_before_send

    event = _scrub(event, _secret_values())
    return sentry_before_send(event, hint)


def before_breadcrumb(crumb: Any, hint: dict[str, Any]) -> Any:
    return _scrub(crumb, _secret_values())


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        event_scrubber=EventScrubber(
            denylist=[*DEFAULT_DENYLIST, "refresh", "access", "client_secret"], recursive=True
        ),
        traces_sample_rate=traces_sample_rate,
        environment=environment,
    )
