"""What the platform connector tests share: one visitor, one order, and each connector's
test setup as a `ConnectorCase`, so behaviour every connector must have is tested once
over all of them (test_connectors_common.py) while each platform's own file keeps what
only it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from usher.platforms.base import (
    ConversionEvent,
    ConversionsConnector,
    Destination,
    RequestRecord,
)
from usher.sandbox.testing import MountedSandbox as Sandbox

# One visitor with every identifier; each platform normalizes and hashes it its own way.
USER = {
    "email": " Ana.Silva+tix@GMail.com ",
    "phone": "030 1234567",
    "first_name": "Ana",
    "last_name": "O'Neil",
    "city": "Berlin",
    "zip": "10115",
    "country": "de",
    "external_id": "cust-42",
}
# A number some checkouts store when the buyer gave none: normalization drops it.
PLACEHOLDER_PHONE = "+0000000000"


def order_event(**fields: Any) -> ConversionEvent:
    """The purchase of order-1001 (59.90 EUR) five minutes ago; `fields` add or replace."""
    base: dict[str, Any] = {
        "event_id": "order-1001:purchase",
        "event_name": "purchase",
        "event_time": datetime.now(UTC) - timedelta(minutes=5),
        "value": Decimal("59.90"),
        "currency": "eur",
        "order_id": "order-1001",
    }
    return ConversionEvent(**(base | fields))


def web_order_event(**fields: Any) -> ConversionEvent:
    """`order_event` as the event page reports it: the page's URL, the event as content."""
    page = {"event_source_url": "https://tickets.example/e/gala", "content_ids": ["evt-77"]}
    return order_event(**(page | fields))


def anonymous_views(purchase: Callable[..., ConversionEvent]) -> Callable[[int], ConversionEvent]:
    """Numbered view_item events without user data or value: the smallest valid events,
    for filling a batch to the platform's limit."""
    return lambda i: purchase(event_id=f"e{i}", event_name="view_item", user_data={}, value=None)


def sent_body(sandbox: Sandbox, platform: str) -> dict[str, Any]:
    """The body of the one request the sandbox received for `platform`."""
    (entry,) = sandbox.requests(platform=platform)
    return entry["body"]


def no_setup(sandbox: Sandbox) -> None:
    """Most platforms' sandboxes accept any account as it comes."""


@dataclass(frozen=True)
class Matching:
    """Where a platform's body carries an event's hashed user data, and the phone's hash."""

    user_field: str  # per entry of `data[]`
    email_key: str
    phone_key: str
    hashed_phone: str


@dataclass(frozen=True)
class ConnectorCase:
    """One connector's test setup; optional fields are None where a test does not apply."""

    platform: str
    connector: Callable[..., ConversionsConnector]
    destination: Callable[..., Destination]  # the working destination, with changes
    purchase: Callable[..., ConversionEvent]  # a deliverable purchase, with changes
    without_credential: Destination
    secrets: tuple[str, ...]
    # Whether the stored (masked) request shows the credential replaced by `***`.
    masked: Callable[[RequestRecord], bool]
    default_batch_size: int
    prepare: Callable[[Sandbox], None] = no_setup
    # A full batch of `max_events_per_request` bulk events goes in one request.
    max_events_per_request: int | None = None
    bulk_event: Callable[[int], ConversionEvent] | None = None
    # A revoked credential and the platform's error code for it.
    revoked: Destination | None = None
    auth_error_code: str | None = None
    matching: Matching | None = None
    sends_test_event_code: bool = False
