"""What every page template needs: configured social providers and the strings page scripts show.

Page scripts never build text themselves: they read the translated strings rendered into the
page as JSON (`json_script`), so the interface is translated in one place (locale/).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

SOCIAL_PROVIDER_NAMES = {"google": "Google", "github": "GitHub"}


def configured_social_providers() -> list[dict[str, str]]:
    """Providers with credentials in the environment; only these get a 'Continue with' button."""
    return [
        {"id": provider_id, "name": SOCIAL_PROVIDER_NAMES.get(provider_id, provider_id.title())}
        for provider_id, config in settings.SOCIALACCOUNT_PROVIDERS.items()
        # integrations: scopes/provider classes are always configured; APPS only with credentials.
        if config.get("APPS") or config.get("APP")
    ]


JS_STRINGS = {
    "connecting": _("Connecting…"),
    "online": _("Connected"),
    "reconnecting": _("Reconnecting…"),
    "offline": _("Offline"),
    "reconnect_now": _("Reconnect now"),
    "reconnect_in": _("Reconnecting in %(s)s s"),
    "you": _("You"),
    "ivan": _("Ivan"),
    "via": _("via %(platform)s"),
    "platform_web": _("web"),
    "platform_api": _("API"),
    "platform_telegram": _("Telegram"),
    "copy": _("Copy"),
    "copied": _("Copied"),
    "copy_code": _("Copy code"),
    "code": _("Code"),
    "good_reply": _("Good reply"),
    "bad_reply": _("Bad reply"),
    "correction_label": _("What should Ivan have said? (optional)"),
    "send_correction": _("Send feedback"),
    "cancel": _("Cancel"),
    "thanks": _("Thanks for the feedback"),
    "feedback_failed": _("Could not save the feedback. Try again."),
    "ivan_typing": _("Ivan is typing…"),
    "ivan_replied": _("Ivan replied"),
    "stopped": _("Stopped"),
    "new_chat": _("New chat"),
    "untitled": _("New conversation"),
    "rename": _("Rename"),
    "rename_label": _("New title"),
    "save": _("Save"),
    "delete": _("Delete"),
    "delete_confirm": _("Delete this conversation and all its messages?"),
    "no_conversations": _("No conversations yet."),
    "no_matches": _("No conversation matches."),
    "load_failed": _("Could not load. Check your connection and try again."),
    "error_rate_limited": _("You are sending messages too fast. Wait a moment and try again."),
    "error_too_long": _("That message is too long. Shorten it and send again."),
    "error_bad_request": _("The message could not be sent. Reload the page and try again."),
    "error_llm_unavailable": _("Ivan can't answer right now. Try again in a minute."),
    "error_blocked": _("That message was blocked."),
    "error_generic": _("Something went wrong. Try again."),
    "not_sent_offline": _("You are offline: the message will be sent when the connection is back."),
    "updated_live": _("Updated live just now"),
    "persona_updated": _("Ivan's personality was just updated."),
    "trait_chart": _("Ivan's traits, from 0 to 100"),
    "no_scores": _("No evaluation has been run yet."),
    "score_chart": _("Persona consistency score over time"),
    "trait_radar": _("Ivan's traits as a radar, from 0 to 100"),
    "trait_history": _("Value in each published version"),
    "drift_chart": _("Share of live replies in character per day"),
    "drift_empty": _("No live replies have been scored yet."),
    "drift_failed": _("Could not load the live reply scores."),
    "drift_baseline": _("Baseline of the live version: %(share)s in character"),
    "drift_published": _("v%(version)s live"),
    "platform": _("Platform"),
    "day": _("Day"),
    "samples": _("Replies scored"),
    "in_character": _("In character"),
    "words": _("Words per reply"),
    "when": _("Date"),
    "score": _("Score"),
    "model": _("Model"),
    "open_telegram": _("Open in Telegram"),
    "connected": _("Connected"),
    "not_connected": _("Not connected"),
    "status_active": _("Connected"),
    "status_paused": _("Paused"),
    "status_reconnect_needed": _("Reconnect needed"),
    "status_not_connected": _("Not connected"),
    "status_unknown": _("Unknown"),
    "status": _("Status"),
    "account": _("Account"),
    "reconnect": _("Reconnect"),
    "disconnected": _("Disconnected. Everything synced from it was deleted."),
    "enabled": _("Sync enabled"),
    "last_sync": _("Last sync"),
    "never": _("Never"),
    "last_error": _("Last error"),
    "items": _("Items synced"),
    "sync_now": _("Sync now"),
    "sync_queued": _("Sync queued. It runs in the background."),
    "sync_done": _("Synced. What Ivan notices below is up to date."),
    "saved": _("Saved"),
    "save_failed": _("Could not save. Try again."),
    "kind_off_confirm": _("Turning this off deletes the data already synced for it. Continue?"),
    "disconnect": _("Disconnect"),
    "disconnect_confirm": _("Disconnect and delete everything synced from this account?"),
    "integrations_unavailable": _("Integrations are not available on this server yet."),
    "insights_empty": _("Nothing to point out yet. Insights appear after a sync."),
    "insights_failed": _("Could not load insights."),
    "memory_empty": _("Ivan doesn't remember anything about you yet."),
    "forget": _("Forget"),
    "forgotten": _("Forgotten"),
    "forget_all": _("Forget everything"),
    "forget_all_confirm": _("Delete everything Ivan remembers about you?"),
    "link_expires": _("Expires at %(time)s"),
    "link_howto": _("Send /start %(code)s to the DigitalMe bot in Telegram."),
    "qr_alt": _("QR code that opens the DigitalMe bot in Telegram with this code"),
    "link_failed": _("Could not create a linking code. Try again."),
    "telegram_unavailable": _("Telegram linking is not available on this server yet."),
    # pwa: notifications
    "notify_message_via": _("You wrote via %(platform)s"),
    "notify_on": _("Notifications are on for this device."),
    "notify_on_page_only": _(
        "Notifications are on while a DigitalMe tab is open. This browser could not register for notifications "
        "when the app is closed."
    ),
    "notify_on_no_push": _(
        "Notifications are on while a DigitalMe tab is open. Notifications when the app is closed are not "
        "configured on this server."
    ),
    "notify_denied": _(
        "Notifications are blocked for this site. To get them, allow notifications in your browser’s site "
        "settings, then reload the page."
    ),
    "notify_default": _("Notifications are off on this device."),
    "notify_unsupported": _("This browser can’t show notifications."),
    "notify_dismissed": _("No notifications. You can turn them on any time in Settings."),
    "push_devices_empty": _("No device gets notifications when the app is closed."),
    "this_device": _("This device"),
    "remove": _("Remove"),
    "added": _("Added %(time)s"),
    "last_delivered": _("last delivered %(time)s"),
    # pwa: offline conversations
    "offline_copy": _(
        "Offline: showing the copy saved on this device (%(time)s). Messages you write are queued and sent "
        "when the connection is back."
    ),
    "offline_store_reset": _(
        "The offline copy on this device was damaged and has been cleared. It is saved again while you are online."
    ),
    "queued": _("Queued: sent when you are back online"),
    "queued_conversation_deleted": _("Not sent: this conversation was deleted while you were offline."),
    "queued_not_sent": _("Not sent: %(reason)s"),
    "queued_copy": _("Put it back in the message box"),
    "queued_discard": _("Discard"),
}


def page_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "social_providers": configured_social_providers(),
        "js_strings": {key: str(value) for key, value in JS_STRINGS.items()},
    }


class UserLanguageMiddleware:
    """Signed-in users see the interface in the language saved on their account.

    Runs after AuthenticationMiddleware; anonymous visitors keep LocaleMiddleware's choice
    (language cookie, then Accept-Language).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
