from django.apps import AppConfig


class TelegramBotConfig(AppConfig):
    name = "telegram_bot"
    verbose_name = "Telegram bot"

    def ready(self) -> None:
        from accounts.registry import register_user_data_exporter
        from digitalme.health import register_check
        from telegram_bot.health import check_telegram, check_telegram_worker
        from telegram_bot.selectors import telegram_link_export

        register_check("telegram", check_telegram, required=False)
        register_check("telegram_worker", check_telegram_worker, required=False)
        from telegram_bot.ops import register_ops

        register_ops()  # ops: the Telegram panel on /ops/ and its /metrics
        register_user_data_exporter("telegram", telegram_link_export)
