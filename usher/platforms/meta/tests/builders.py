"""Meta test setup: the pixel, its token, a deliverable purchase and the shared case."""

from __future__ import annotations

from typing import Any

from usher.platforms.base import ConversionEvent, Destination
from usher.platforms.meta.conversions import MetaConversionsConnector
from usher.platforms.meta.payloads import MAX_EVENTS_PER_REQUEST
from usher.platforms.tests.helpers import (
    USER,
    ConnectorCase,
    Matching,
    anonymous_views,
    web_order_event,
)
from usher.sandbox.testing import sha

PIXEL = "1234567890123456"
TOKEN = "sandbox-meta-system-user-token-7f3a9c"


def destination(**changes: Any) -> Destination:
    return Destination(**{"platform": "meta", "account_id": PIXEL, "access_token": TOKEN} | changes)


def purchase(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "num_items": 2,
        "user_data": dict(USER),
        "client_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1700000000000.IwAR2xYz",
        "fbp": "fb.1.1700000000000.123456789",
    }
    return web_order_event(**(fields | changes))


CASE = ConnectorCase(
    platform="meta",
    connector=MetaConversionsConnector,
    destination=destination,
    purchase=purchase,
    without_credential=destination(access_token=""),
    secrets=(TOKEN,),
    masked=lambda request: request.headers["authorization"] == "***",
    default_batch_size=500,
    max_events_per_request=MAX_EVENTS_PER_REQUEST,
    bulk_event=anonymous_views(purchase),
    revoked=destination(access_token="EAAB-revoked-token-0000"),
    auth_error_code="190",
    # Meta: phone digits with the country code and no "+".
    matching=Matching("user_data", "em", "ph", sha("49301234567")),
    sends_test_event_code=True,
)
