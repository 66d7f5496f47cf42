from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from chat.health import check_llm
        from digitalme.health import register_check

        register_check("llm", check_llm, required=False)
