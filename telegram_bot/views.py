"""`POST /telegram/webhook/`: verify Telegram's secret header, store the update, answer.

The update is in the database before Telegram gets its 200, and a Celery worker handles it
(telegram_bot/tasks.py), so a crash or deploy of the web process loses nothing and Telegram never
waits for the LLM. A full backlog, or a database that is not answering, answers 503 with the JSON
error body and Retry-After: Telegram keeps the update and redelivers it later (nothing is lost).
Bad JSON or an update we don't handle is logged and acknowledged with 200: a non-2xx answer would
only make Telegram redeliver the same bad update.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from digitalme.db import db_async
from digitalme.errors import DATABASE_DOWN_DETAIL, DATABASE_DOWN_ERRORS, DATABASE_RETRY_AFTER_S, error_body
from digitalme.metrics import record_telegram_webhook
from telegram_bot.services import UpdateStored, update_store

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _secret_ok(request: HttpRequest) -> bool:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    # No secret configured means nobody can be verified: refuse everything.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt
@require_POST
async def telegram_webhook(request: HttpRequest) -> HttpResponse:
    if not _secret_ok(request):
        record_telegram_webhook("forbidden")
        logger.warning("telegram webhook: wrong or missing secret token")
        return JsonResponse(error_body("Invalid webhook secret.", "forbidden"), status=403)
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        logger.warning("telegram webhook: body is not JSON; ignored", extra={"size": len(request.body)})
        record_telegram_webhook("bad_request")
        return JsonResponse({"ok": True})
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        logger.warning("telegram webhook: no update_id; ignored")
        record_telegram_webhook("bad_request")
        return JsonResponse({"ok": True})
    try:
        stored = await db_async(update_store)(
            update_id=update_id, payload=data, request_id=getattr(request, "request_id", "")
        )
    except DATABASE_DOWN_ERRORS as exc:
        # Not stored, so not acknowledged: Telegram sends it again until the database is back. The
        # error body says so in JSON, as every other answer of this route (the project-wide 503 is
        # plain text outside /api/).
        record_telegram_webhook("unavailable")
        logger.warning("telegram webhook: database unavailable; answered 503", extra={"error": type(exc).__name__})
        response = JsonResponse(error_body(DATABASE_DOWN_DETAIL, "unavailable"), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    if stored is UpdateStored.DUPLICATE:
        record_telegram_webhook("duplicate")
        return JsonResponse({"ok": True, "duplicate": True})
    if stored is UpdateStored.BACKLOG_FULL:
        record_telegram_webhook("backlog_full")
        response = JsonResponse(
            error_body("Too many updates are waiting; send this one again later.", "backlog_full"), status=503
        )
        response["Retry-After"] = "30"
        return response
    record_telegram_webhook("accepted")
    return JsonResponse({"ok": True})
