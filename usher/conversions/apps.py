from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    name = "usher.conversions"
    label = "conversions"

    def ready(self) -> None:
        from usher.conversions import signals  # noqa: F401 - connects the receivers
