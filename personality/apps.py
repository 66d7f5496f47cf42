from django.apps import AppConfig


class PersonalityConfig(AppConfig):
    name = "personality"
    verbose_name = "Ivan's persona"

    def ready(self) -> None:
        from accounts.registry import register_user_deletion_hook
        from personality.learning import learned_text_erase
        from personality.ops import register_ops

        register_ops()
        # Learned corrections and examples are the user's text: they go with the account.
        register_user_deletion_hook("personality", learned_text_erase)
