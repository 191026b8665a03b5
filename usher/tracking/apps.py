from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "usher.tracking"
    label = "tracking"

    def ready(self) -> None:
        # Cached resolutions must be invalidated the moment a code, event or organizer changes.
        from usher.tracking import signals

        signals.connect()
