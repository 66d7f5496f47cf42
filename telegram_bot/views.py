"""`POST /telegram/webhook/`: verify Telegram's secret header, claim the update, answer at once.

Processing happens on the server's event loop after the response (bot.process_update_in_background),
so Telegram never waits for the LLM. Bad JSON or an update we don't handle is logged and acknowledged
with 200: a non-2xx answer would only make Telegram redeliver the same bad update.
"""

from __future__ import annotations

import hmac
import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from digitalme.metrics import record_telegram_webhook
from telegram_bot.bot import process_update_in_background
from telegram_bot.services import update_claim

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
        return JsonResponse({"detail": "Invalid webhook secret.", "code": "forbidden", "fields": {}}, status=403)
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
    if not await sync_to_async(update_claim)(update_id=update_id):
        record_telegram_webhook("duplicate")
        return JsonResponse({"ok": True, "duplicate": True})
    record_telegram_webhook("accepted")
    process_update_in_background(data, request_id=getattr(request, "request_id", "-"))
    return JsonResponse({"ok": True})
