from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "usher.catalog"
    label = "catalog"
    verbose_name = "Event catalog"

    def ready(self) -> None:
        from usher.campaigns.specs import register_catalog_resolver
        from usher.catalog import signals  # noqa: F401 - connects the event receiver
        from usher.catalog.ads import catalog_for_campaign

        # Campaigns ask the catalog app for a dynamic remarketing campaign's catalog
        # through this hook, so they never import it (catalog depends on campaigns).
        register_catalog_resolver(catalog_for_campaign)
