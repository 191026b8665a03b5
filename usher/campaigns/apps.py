from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "usher.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from usher.campaigns import signals  # noqa: F401 - connects the order receiver
