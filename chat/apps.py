from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from accounts.registry import register_user_data_exporter
        from chat.health import check_llm
        from chat.selectors import user_chat_export
        from digitalme.health import register_check

        register_check("llm", check_llm, required=False)
        from chat.ops import register_ops

        register_ops()  # ops: the chat panel on /ops/ and the turn's reads in database-test
        # Deleting the user cascades to conversations, messages and memory: no deletion hook needed.
        register_user_data_exporter("chat", user_chat_export)
