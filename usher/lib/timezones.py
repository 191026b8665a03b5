"""Time zones named by marketplaces and ad accounts."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

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


def validate_zone_name(name: str) -> None:
    """A form's or the admin's check that a saved zone is one the jobs can use: a typo is
    refused where it is typed, not found later by a job that falls back to UTC."""
    if name not in available_timezones():
        raise ValidationError(
            "%(name)s is not a time zone name (like Europe/Bucharest or UTC)",
            params={"name": name},
            code="unknown_time_zone",
        )
