"""Time zones named by marketplaces and ad accounts."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

logger = logging.getLogger("usher")

UTC_ZONE = ZoneInfo("UTC")


def _lookup(name: str) -> ZoneInfo | None:
    """The zone of that name, or None when this machine's zone database lacks it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_named(name: str) -> ZoneInfo:
    """The zone of that name; UTC for an empty name or one this machine does not know
    (a marketplace or account saved with a typo must not stop its jobs)."""
    if not name:
        return UTC_ZONE
    zone = _lookup(name)
    if zone is None:
        logger.warning("unknown time zone %r: UTC is used", name)
        return UTC_ZONE
    return zone


def local_date(moment: datetime, name: str) -> date:
    """The date at `moment` in the zone of that name (`zone_named`): the day a
    marketplace's people or an ad account's platform live in."""
    return moment.astimezone(zone_named(name)).date()


def validate_zone_name(name: str) -> None:
    """A form's or the admin's check that a saved zone is one the jobs can use (the same
    lookup `zone_named` makes): a typo is refused where it is typed, not found later by a
    job that falls back to UTC."""
    if not name or _lookup(name) is None:
        raise ValidationError(
            "%(name)s is not a time zone name (like Europe/Bucharest or UTC)",
            params={"name": name},
            code="unknown_time_zone",
        )
