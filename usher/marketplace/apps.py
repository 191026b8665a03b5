from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "usher.marketplace"
    label = "marketplace"
