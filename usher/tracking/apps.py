from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "usher.tracking"
    label = "tracking"
