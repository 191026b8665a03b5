"""Input types shared by every schema, for what PostgreSQL cannot store or read back.

A year-1 or year-9999 timestamp in a far time zone is a valid ISO date, but it either
fails to save (SQLite) or saves and then breaks every query that reads the row
(PostgreSQL); a NUL character cannot be stored at all. Both are refused up front with
a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST_YEAR = 1970
LATEST_YEAR = 2200


def _reasonable_time(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date out of range") from exc
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise ValueError(f"date must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return utc


# An aware timestamp within a sane range, normalized to UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_reasonable_time)]


def contains_nul(value: object) -> bool:
    """Whether a decoded JSON value holds a NUL character anywhere (keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


MAX_ID_DIGITS = 18  # a BIGINT primary key has at most 19 digits; beyond is never a row


def parse_id(raw: str) -> int | None:
    """A primary key from a query string, or None: `str.isdigit` also accepts '²' and
    overlong numbers that overflow the database."""
    if not raw or len(raw) > MAX_ID_DIGITS or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)
