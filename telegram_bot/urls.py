from django.urls import path

from telegram_bot import api, views

# Served by a direct ASGI route in production (digitalme/asgi.py); here for reverse(), WSGI and test clients.
TELEGRAM_WEBHOOK_PATH = "/telegram/webhook/"

urlpatterns = [
    path(TELEGRAM_WEBHOOK_PATH.lstrip("/"), views.telegram_webhook, name="telegram-webhook"),
    path("api/telegram/link-code/", api.TelegramLinkCodeApi.as_view(), name="api-telegram-link-code"),
]
