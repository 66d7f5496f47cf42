from django.urls import path

from telegram_bot import api, views

urlpatterns = [
    path("telegram/webhook/", views.telegram_webhook, name="telegram-webhook"),
    path("api/telegram/link-code/", api.TelegramLinkCodeApi.as_view(), name="api-telegram-link-code"),
]
