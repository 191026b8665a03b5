"""The platform registry: the one place that maps a platform name to its connectors.

Adding a platform is one package under `usher/platforms/` plus one `register...(...)`
call per capability it has; nothing else in Usher switches on platform names. There is
one table per capability: conversions (`register` / `get_connector`), campaign
management (`register_campaigns` / `get_campaigns_connector`), delivery read-back
(`register_insights` / `get_insights_connector`), audiences (`register_audiences` /
`get_audiences_connector`) and event catalogs (`register_catalog` /
`get_catalog_connector`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from usher.platforms.audiences_common import AudiencesConnector
from usher.platforms.base import ConversionsConnector
from usher.platforms.campaigns_base import CampaignsConnector, InsightsConnector
from usher.platforms.catalog_common import CatalogConnector
from usher.platforms.ga4.conversions import GA4ConversionsConnector
from usher.platforms.google_ads.audiences import GoogleAdsAudiencesConnector
from usher.platforms.google_ads.campaigns import GoogleAdsCampaignsConnector
from usher.platforms.google_ads.catalog import GoogleAdsCatalogConnector
from usher.platforms.google_ads.conversions import GoogleAdsConversionsConnector
from usher.platforms.google_ads.insights import GoogleAdsInsightsConnector
from usher.platforms.meta.audiences import MetaAudiencesConnector
from usher.platforms.meta.campaigns import MetaCampaignsConnector
from usher.platforms.meta.catalog import MetaCatalogConnector
from usher.platforms.meta.conversions import MetaConversionsConnector
from usher.platforms.meta.insights import MetaInsightsConnector
from usher.platforms.tiktok.audiences import TikTokAudiencesConnector
from usher.platforms.tiktok.campaigns import TikTokCampaignsConnector
from usher.platforms.tiktok.catalog import TikTokCatalogConnector
from usher.platforms.tiktok.conversions import TikTokConversionsConnector
from usher.platforms.tiktok.insights import TikTokInsightsConnector

ConnectorFactory = Callable[[], ConversionsConnector]
CampaignsFactory = Callable[[], CampaignsConnector]
InsightsFactory = Callable[[], InsightsConnector]
AudiencesFactory = Callable[[], AudiencesConnector]
CatalogFactory = Callable[[], CatalogConnector]

_factories: dict[str, ConnectorFactory] = {}
_campaigns_factories: dict[str, CampaignsFactory] = {}
_insights_factories: dict[str, InsightsFactory] = {}
# Audiences: only the ad platforms (GA4 takes no audience uploads).
_audiences_factories: dict[str, AudiencesFactory] = {}
_catalog_factories: dict[str, CatalogFactory] = {}


def _add(table: dict[str, Any], name: str, factory: Callable[[], Any]) -> None:
    """Register `factory` under `name` in `table`.

    Registering a second, different factory under one name raises ValueError: two
    connectors silently replacing each other would send calls to the wrong code.
    Registering the same factory again (a module imported twice) is harmless.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("platform name must be a non-empty string")
    if not callable(factory):
        raise TypeError("connector_factory must be callable")
    existing = table.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"platform {name!r} is already registered")
    table[name] = factory


def _build(table: dict[str, Callable[[], Any]], name: str, capability: str) -> Any:
    try:
        factory = table[name]
    except KeyError:
        raise KeyError(f"no {capability} connector registered for platform {name!r}") from None
    return factory()


def register(name: str, connector_factory: ConnectorFactory) -> None:
    """Register the conversions connector factory for platform `name`."""
    _add(_factories, name, connector_factory)


def register_campaigns(name: str, connector_factory: CampaignsFactory) -> None:
    """Register the campaign-management connector factory for platform `name`."""
    _add(_campaigns_factories, name, connector_factory)


def register_insights(name: str, connector_factory: InsightsFactory) -> None:
    """Register the insights (metrics read-back) connector factory for platform `name`."""
    _add(_insights_factories, name, connector_factory)


def get_connector(name: str) -> ConversionsConnector:
    """A conversions connector for `name`, built by its factory; KeyError if unknown."""
    return _build(_factories, name, "conversions")


def get_campaigns_connector(name: str) -> CampaignsConnector:
    """A campaign-management connector for `name`; KeyError if the platform has none."""
    return _build(_campaigns_factories, name, "campaigns")


def get_insights_connector(name: str) -> InsightsConnector:
    """An insights connector for `name`; KeyError if the platform has none."""
    return _build(_insights_factories, name, "insights")


def register_audiences(name: str, connector_factory: AudiencesFactory) -> None:
    """Register the audiences (customer lists, pixel rules, lookalikes) connector of `name`."""
    _add(_audiences_factories, name, connector_factory)


def get_audiences_connector(name: str) -> AudiencesConnector:
    """The audiences connector of `name`; KeyError for platforms without audiences."""
    return _build(_audiences_factories, name, "audiences")


def register_catalog(name: str, connector_factory: CatalogFactory) -> None:
    """Register the event-catalog (dynamic ads) connector factory of `name`."""
    _add(_catalog_factories, name, connector_factory)


def get_catalog_connector(name: str) -> CatalogConnector:
    """The catalog connector of `name`; KeyError for platforms without catalogs."""
    return _build(_catalog_factories, name, "catalog")


def catalog_platform_names() -> list[str]:
    """Platforms Usher keeps an event catalog on, sorted."""
    return sorted(_catalog_factories)


def audience_platform_names() -> list[str]:
    """Platforms Usher keeps audiences on, sorted."""
    return sorted(_audiences_factories)


def platform_names() -> list[str]:
    """Platforms with a conversions connector, sorted (stable for admin choices and tests)."""
    return sorted(_factories)


def campaign_platform_names() -> list[str]:
    """Platforms Usher can run campaigns on, sorted."""
    return sorted(_campaigns_factories)


register("meta", MetaConversionsConnector)
register("google_ads", GoogleAdsConversionsConnector)
register("tiktok", TikTokConversionsConnector)
register("ga4", GA4ConversionsConnector)

register_campaigns("meta", MetaCampaignsConnector)
register_campaigns("google_ads", GoogleAdsCampaignsConnector)
register_campaigns("tiktok", TikTokCampaignsConnector)

register_insights("meta", MetaInsightsConnector)
register_insights("google_ads", GoogleAdsInsightsConnector)
register_insights("tiktok", TikTokInsightsConnector)

register_audiences("meta", MetaAudiencesConnector)
register_audiences("google_ads", GoogleAdsAudiencesConnector)
register_audiences("tiktok", TikTokAudiencesConnector)

register_catalog("meta", MetaCatalogConnector)
register_catalog("google_ads", GoogleAdsCatalogConnector)
register_catalog("tiktok", TikTokCatalogConnector)
