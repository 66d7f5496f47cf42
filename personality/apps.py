from django.apps import AppConfig


class PersonalityConfig(AppConfig):
    name = "personality"
    verbose_name = "Ivan's persona"

    def ready(self) -> None:
        from personality.ops import register_ops

        register_ops()
