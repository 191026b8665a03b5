"""Checks the fake platforms share: hashes, id formats, JSON types, time windows.

Each platform answers problems in its own error shape; these helpers only say
*what* is wrong so the platform modules can word it their way.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")
# No platform publishes a grammar; these are the lenient observed forms (docs/platforms.md, ID
# formats).
META_PIXEL_ID = re.compile(r"^[1-9][0-9]{9,19}$")
GOOGLE_CUSTOMER_ID = re.compile(r"^[0-9]{10}$")
TIKTOK_PIXEL_CODE = re.compile(r"^[A-Z0-9]{20}$")
TIKTOK_ADVERTISER_ID = re.compile(r"^[0-9]{1,20}$")
GA4_MEASUREMENT_ID = re.compile(r"^G-[A-Z0-9]{6,12}$")
CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def is_sha256(value: Any) -> bool:
    """True for 64 lowercase hex characters: what 'hashed' means to every platform here."""
    return isinstance(value, str) and bool(SHA256_HEX.match(value))


def is_one_of(value: Any, allowed: frozenset[str] | set[str] | dict[str, Any]) -> bool:
    """Enum membership that is safe for any JSON value (lists and objects are unhashable)."""
    return isinstance(value, str) and value in allowed


def is_int(value: Any) -> bool:
    """A JSON integer (bool is an int in Python but never in JSON)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_int(value: Any) -> int | None:
    """An int, or a string of digits (form-encoded Graph calls send numbers as text)."""
    if is_int(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None


def as_number(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def is_ip_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def list_or_empty(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (absent, scalar, object) as []."""
    return value if isinstance(value, list) else []


def values_of(value: Any) -> list[Any]:
    """Scalar-or-list fields (Meta user_data, TikTok user) as a list."""
    return value if isinstance(value, list) else [value]


def time_problem(
    event_time: float, now: float, max_age_seconds: float, future_tolerance_seconds: float
) -> str | None:
    """'too_old', 'in_future' or None: the window every event API enforces."""
    if event_time < now - max_age_seconds:
        return "too_old"
    if event_time > now + future_tolerance_seconds:
        return "in_future"
    return None
