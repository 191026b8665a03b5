from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "usher.catalog"
    label = "catalog"
    verbose_name = "Event catalog"

    def ready(self) -> None:
        from usher.catalog import signals  # noqa: F401 - connects the event receiver
