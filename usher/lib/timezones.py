"""Time zones named by marketplaces and ad accounts."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger("usher")

UTC_ZONE = ZoneInfo("UTC")


def zone_named(name: str) -> ZoneInfo:
    """The zone of that name; UTC for an empty name or one this machine does not know
    (a marketplace or account saved with a typo must not stop its jobs)."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: UTC is used", name)
        return UTC_ZONE
