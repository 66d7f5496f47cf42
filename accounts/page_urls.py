"""Settings pages of the signed-in user."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/delete-account/", views.account_delete, name="settings-delete-account"),
    path("settings/telegram-qr.svg", views.telegram_qr, name="settings-telegram-qr"),
]
