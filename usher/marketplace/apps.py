from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "usher.marketplace"
    label = "marketplace"

    def ready(self) -> None:
        # Answers cached per client must be orphaned the moment a client, event or
        # organizer changes.
        from usher.marketplace import signals

        signals.connect()
