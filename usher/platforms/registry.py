"""The platform registry: the one place that maps a platform name to its connector.

Adding a platform is one package under `usher/platforms/` plus one `register(...)` call
for it; nothing else in Usher switches on platform names. The connectors arrive with
their packages, so the registry starts empty.
"""

from __future__ import annotations

from collections.abc import Callable

from usher.platforms.audiences_common import AudiencesConnector
from usher.platforms.base import ConversionsConnector
from usher.platforms.ga4.conversions import GA4ConversionsConnector
from usher.platforms.google_ads.audiences import GoogleAdsAudiencesConnector
from usher.platforms.google_ads.conversions import GoogleAdsConversionsConnector
from usher.platforms.meta.audiences import MetaAudiencesConnector
from usher.platforms.meta.conversions import MetaConversionsConnector
from usher.platforms.tiktok.audiences import TikTokAudiencesConnector
from usher.platforms.tiktok.conversions import TikTokConversionsConnector

ConnectorFactory = Callable[[], ConversionsConnector]

_factories: dict[str, ConnectorFactory] = {}
# Audiences: only the ad platforms (GA4 takes no audience uploads).
_audiences: dict[str, Callable[[], AudiencesConnector]] = {
    "meta": MetaAudiencesConnector,
    "google_ads": GoogleAdsAudiencesConnector,
    "tiktok": TikTokAudiencesConnector,
}


def register(name: str, connector_factory: ConnectorFactory) -> None:
    """Register the factory for platform `name`.

    Registering a second, different factory under one name raises ValueError: two
    connectors silently replacing each other would send events to the wrong code.
    Registering the same factory again (a module imported twice) is harmless.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("platform name must be a non-empty string")
    if not callable(connector_factory):
        raise TypeError("connector_factory must be callable")
    existing = _factories.get(name)
    if existing is not None and existing is not connector_factory:
        raise ValueError(f"platform {name!r} is already registered")
    _factories[name] = connector_factory


def get_connector(name: str) -> ConversionsConnector:
    """A connector for `name`, built by its factory; KeyError for unknown platforms."""
    try:
        factory = _factories[name]
    except KeyError:
        raise KeyError(f"no connector registered for platform {name!r}") from None
    return factory()


def get_audiences_connector(name: str) -> AudiencesConnector:
    """The audiences connector of `name`; KeyError for platforms without audiences."""
    try:
        factory = _audiences[name]
    except KeyError:
        raise KeyError(f"no audiences connector for platform {name!r}") from None
    return factory()


def audience_platform_names() -> list[str]:
    return sorted(_audiences)


def platform_names() -> list[str]:
    """Registered platform names, sorted (stable for admin choices and tests)."""
    return sorted(_factories)


register("meta", MetaConversionsConnector)
register("google_ads", GoogleAdsConversionsConnector)
register("tiktok", TikTokConversionsConnector)
register("ga4", GA4ConversionsConnector)
