from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "usher.audiences"
    label = "audiences"
