from django.apps import AppConfig


class PersonalityConfig(AppConfig):
    name = "personality"
    verbose_name = "Ivan's persona"
