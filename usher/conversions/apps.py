from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    name = "usher.conversions"
    label = "conversions"
