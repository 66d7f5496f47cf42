from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from accounts.registry import register_user_data_exporter, register_user_deletion_hook
        from chat.context import register_context_provider
        from digitalme.health import register_check
        from integrations import checks, health, insights, selectors, services, signals  # noqa: F401

        register_user_data_exporter("integrations", lambda user: selectors.user_synced_data_export(user=user))
        register_user_deletion_hook("integrations", services.user_integrations_revoke)
        register_context_provider("integrations", insights.insight_context_items)
        register_check("integrations", health.check_integrations, required=False)
        from integrations.ops import register_ops

        register_ops()  # ops: the integrations panel, /metrics, database-test reads
