from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "usher.platforms"
    label = "platforms"
