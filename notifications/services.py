"""Web Push: device subscriptions and sending Ivan's replies to users who have no page open.

Flow: a service pushes `reply.end` to the user's sockets (digitalme.realtime, on commit) → the
listener here queues the Celery task `notifications.push_notify_user` (no database, no network
where the push happened) → the task skips users with an open chat page (digitalme.presence),
then sends one encrypted message per subscription through pywebpush (VAPID from the env).
A subscription the push service calls gone (404/410) is deleted; 5xx/429/network errors are
retried by the task; other refusals are counted and the subscription dropped after
`WEBPUSH_MAX_FAILURES` in a row.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.errors import NotFound
from chat.models import Message, Role
from digitalme.presence import user_has_open_page
from notifications.errors import InvalidSubscriptionError, PushTransientError, PushUnavailableError
from notifications.models import PushSubscription

if TYPE_CHECKING:
    from py_vapid import Vapid

# pywebpush, py_vapid and what they pull in (aiohttp, http_ece: ≈ 5 MB per process) are imported
# where a push is sent or a key read — in the Celery task and the settings API — not in every web
# process that only queues the task (docs/QUALITY.md, memory of a web process).

logger = logging.getLogger(__name__)

# Payloads must stay under the 4 KB the push services accept after encryption.
BODY_MAX_CHARS = 300
GONE_STATUSES = {404, 410}


def _b64url_bytes(value: str) -> bytes:
    padded = value.strip().replace("+", "-").replace("/", "_") + "=" * (-len(value.strip()) % 4)
    return base64.urlsafe_b64decode(padded)


@functools.cache
def _vapid(private_key: str) -> Vapid:
    from py_vapid import Vapid

    return Vapid.from_string(private_key)


def vapid_key() -> Vapid | None:
    """The server's VAPID key pair from WEBPUSH_VAPID_PRIVATE_KEY, or None when push is off."""
    if not settings.WEBPUSH_VAPID_PRIVATE_KEY:
        return None
    return _vapid(settings.WEBPUSH_VAPID_PRIVATE_KEY)


def vapid_public_key() -> str:
    """The applicationServerKey browsers subscribe with (uncompressed P-256 point, base64url)."""
    key = vapid_key()
    if key is None:
        return ""
    from cryptography.hazmat.primitives import serialization
    from py_vapid.utils import b64urlencode

    raw = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(raw)


def push_enabled() -> bool:
    return bool(settings.WEBPUSH_VAPID_PRIVATE_KEY)


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    allowed = [entry.lower() for entry in settings.WEBPUSH_ALLOWED_HOSTS]
    host_ok = any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed)
    # Only real push services are called (the worker must not be pointed at internal addresses);
    # plain http is accepted for an explicitly allowed loopback host (the test push service).
    scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and host in {"127.0.0.1", "localhost"})
    if not (host_ok and scheme_ok):
        raise InvalidSubscriptionError(
            _("This push service is not supported: %(host)s.") % {"host": host or endpoint[:80]},
            fields={"endpoint": [_("Use the subscription your browser created (pushManager.subscribe).")]},
        )


def _check_keys(p256dh: str, auth: str) -> None:
    fields: dict[str, list[str]] = {}
    try:
        point = _b64url_bytes(p256dh)
        if len(point) != 65 or point[0] != 4:
            raise ValueError
    except (ValueError, binascii.Error):
        fields["keys.p256dh"] = [_("Expected the browser's P-256 public key (65 bytes, base64url).")]
    try:
        if len(_b64url_bytes(auth)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        fields["keys.auth"] = [_("Expected the browser's 16-byte auth secret (base64url).")]
    if fields:
        raise InvalidSubscriptionError(_("The subscription's keys are not valid."), fields=fields)


def device_label(user_agent: str) -> str:
    """'Chrome on Android' from a User-Agent: enough for a person to tell their devices apart."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for marker, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if marker in ua
        ),
        _("Browser"),
    )
    system = next(
        (
            name
            for marker, name in (
                ("Android", "Android"),
                ("iPhone", "iOS"),
                ("iPad", "iPadOS"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if marker in ua
        ),
        "",
    )
    return _("%(browser)s on %(system)s") % {"browser": browser, "system": system} if system else browser


def push_subscription_save(
    *, user: Any, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[PushSubscription, bool]:
    """Store this browser's subscription for `user` (idempotent; a device moves between accounts)."""
    if not push_enabled():
        raise PushUnavailableError(_("Push notifications are not configured on this server."))
    _check_endpoint(endpoint)
    _check_keys(p256dh, auth)
    with transaction.atomic():
        subscription, created = PushSubscription.objects.select_for_update().update_or_create(
            endpoint=endpoint,
            defaults={
                "user": user,
                "p256dh": p256dh.strip(),
                "auth": auth.strip(),
                "label": device_label(user_agent)[:120],
                "failures": 0,
            },
        )
    return subscription, created


def push_subscription_delete(*, user: Any, subscription_id: int) -> None:
    deleted, _rows = PushSubscription.objects.filter(user=user, pk=subscription_id).delete()
    if not deleted:
        raise NotFound(_("No such device subscription."))


def push_on_user_event(user_id: int, event: dict[str, Any]) -> None:
    """realtime listener: a finished reply (any platform) may have to reach a closed app."""
    if event.get("type") != "reply.end" or not push_enabled():
        return
    message = event.get("message") or {}
    if not message.get("id") or message.get("role") != "assistant":
        return
    from notifications.tasks import push_notify_user

    push_notify_user.delay(user_id, message["id"])


def reply_notification(*, message: Any, language: str) -> dict[str, Any]:
    """The JSON the service worker turns into a system notification."""
    conversation = message.conversation
    with translation.override(language):
        title = _("Ivan")
        if message.platform == "telegram":
            title = _("Ivan (in Telegram)")
        body = " ".join((message.content or "").split())
        if len(body) > BODY_MAX_CHARS:
            body = body[: BODY_MAX_CHARS - 1].rstrip() + "…"
        return {
            "type": "reply",
            "title": title,
            "body": body or _("Ivan replied."),
            "url": f"/chat/{conversation.pk}/",
            "tag": f"conversation-{conversation.pk}",
            "conversation": conversation.pk,
            "message": message.pk,
        }


def push_deliver(*, subscription: PushSubscription, payload: dict[str, Any], topic: str = "") -> str:
    """Send one encrypted message to one browser. Returns "sent", "gone" or "rejected".

    Raises PushTransientError for answers worth retrying (429, 5xx, network).
    """
    from pywebpush import WebPushException, webpush
    from requests import RequestException

    key = vapid_key()
    if key is None:
        raise PushUnavailableError(_("Push notifications are not configured on this server."))
    headers = {"Urgency": "high"}
    if topic:
        headers["Topic"] = topic  # a newer message of the same topic replaces an undelivered one
    try:
        webpush(
            subscription_info=subscription.subscription_info(),
            data=json.dumps(payload, ensure_ascii=False),
            vapid_private_key=key,
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            ttl=settings.WEBPUSH_TTL_S,
            timeout=settings.WEBPUSH_TIMEOUT_S,
            headers=headers,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in GONE_STATUSES:
            subscription.delete()
            logger.info("push subscription gone, removed", extra={"status": status, "user_id": subscription.user_id})
            return "gone"
        _count_failure(subscription)
        if status is None or status == 429 or status >= 500:
            raise PushTransientError(f"push service answered {status}") from exc
        if subscription.failures + 1 >= settings.WEBPUSH_MAX_FAILURES:
            subscription.delete()
        logger.warning("push refused", extra={"status": status, "user_id": subscription.user_id})
        return "rejected"
    except RequestException as exc:
        _count_failure(subscription)
        raise PushTransientError(f"push service unreachable: {type(exc).__name__}") from exc
    PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now(), failures=0)
    return "sent"


def _count_failure(subscription: PushSubscription) -> None:
    PushSubscription.objects.filter(pk=subscription.pk).update(
        failures=F("failures") + 1, last_failure_at=timezone.now()
    )


def push_notify_user(*, user_id: int, message_id: int) -> dict[str, str]:
    """Send a finished reply to every device of a user who has no chat page open.

    Returns {subscription id: outcome} (empty when skipped). A transient failure of one device
    doesn't stop the others: its outcome is "retry" and the task retries that device alone.
    """
    if not push_enabled() or user_has_open_page(user_id):
        return {}
    subscriptions = list(PushSubscription.objects.filter(user_id=user_id).select_related("user"))
    if not subscriptions:
        return {}
    message = (
        Message.objects.select_related("conversation")
        .filter(pk=message_id, conversation__user_id=user_id, role=Role.ASSISTANT)
        .first()
    )
    if message is None:  # deleted meanwhile
        return {}
    language = getattr(subscriptions[0].user, "language", "") or settings.LANGUAGE_CODE
    payload = reply_notification(message=message, language=language)
    outcomes: dict[str, str] = {}
    for subscription in subscriptions:
        key = str(subscription.pk)  # a gone device is deleted (and loses its pk) while sending
        try:
            outcomes[key] = push_deliver(
                subscription=subscription, payload=payload, topic=f"conversation{message.conversation_id}"
            )
        except PushTransientError:
            outcomes[key] = "retry"
    return outcomes


def push_deliver_again(*, subscription_id: int, message_id: int) -> str:
    """Retry one device (after a transient failure); "skipped" when it or the reply is gone."""
    subscription = PushSubscription.objects.select_related("user").filter(pk=subscription_id).first()
    if subscription is None:
        return "skipped"
    message = (
        Message.objects.select_related("conversation")
        .filter(pk=message_id, conversation__user_id=subscription.user_id, role=Role.ASSISTANT)
        .first()
    )
    if message is None:
        return "skipped"
    language = getattr(subscription.user, "language", "") or settings.LANGUAGE_CODE
    payload = reply_notification(message=message, language=language)
    return push_deliver(subscription=subscription, payload=payload, topic=f"conversation{message.conversation_id}")
