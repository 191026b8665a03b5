"""Input types shared by every schema, for what PostgreSQL cannot store or read back.

A year-1 or year-9999 timestamp in a far time zone is a valid ISO date, but it either
fails to save (SQLite) or saves and then breaks every query that reads the row
(PostgreSQL); a NUL character or a lone UTF-16 surrogate (`"\\ud800"`, valid JSON but
not valid text) cannot be stored at all. They are refused up front, naming the field.
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


NUL = "\x00"


def unstorable_char(text: str) -> str | None:
    """The first character of `text` a PostgreSQL text or JSON column cannot hold, or
    None: NUL, or a lone UTF-16 surrogate (JSON decodes a valid pair into one character,
    so any surrogate left in a decoded string is a lone one, and UTF-8 has no form for it)."""
    if NUL in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start]
    return None


def find_unstorable(
    value: object, path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """Where in a decoded JSON value (keys included) the first unstorable character sits:
    its path and the character; None when everything can be stored."""
    if isinstance(value, str):
        char = unstorable_char(value)
        return (path, char) if char is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_unstorable(key, (*path, key)) or find_unstorable(item, (*path, key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := find_unstorable(item, (*path, index)):
                return found
    return None


def describe_unstorable(char: str) -> str:
    """The message for a refused character, saying what it is and why."""
    if char == NUL:
        return "NUL characters (\\u0000) are not accepted"
    return f"a lone UTF-16 surrogate (\\u{ord(char):04x}) is not valid text"


MAX_ID_DIGITS = 18  # a BIGINT primary key has at most 19 digits; beyond is never a row


def parse_id(raw: str) -> int | None:
    """A primary key from a query string, or None: `str.isdigit` also accepts '²' and
    overlong numbers that overflow the database."""
    if not raw or len(raw) > MAX_ID_DIGITS or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)
