from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from accounts.registry import register_user_data_exporter
        from digitalme.realtime import register_user_event_listener
        from notifications.selectors import push_subscription_export
        from notifications.services import push_enabled, push_on_user_event

        register_user_event_listener("webpush", push_on_user_event, event_types=("reply.end",), active=push_enabled)
        register_user_data_exporter("push_subscriptions", push_subscription_export)
