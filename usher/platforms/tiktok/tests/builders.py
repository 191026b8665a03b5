"""TikTok test setup: the pixel, its token, a deliverable purchase and the shared case."""

from __future__ import annotations

from typing import Any

from usher.platforms.base import ConversionEvent, Destination
from usher.platforms.tests.helpers import (
    USER,
    ConnectorCase,
    Matching,
    anonymous_views,
    web_order_event,
)
from usher.platforms.tiktok.conversions import TikTokConversionsConnector
from usher.platforms.tiktok.payloads import MAX_EVENTS_PER_REQUEST
from usher.sandbox.testing import sha

PIXEL = "C0QDA8RC77U2TMR44LI0"
TOKEN = "sandbox-tiktok-access-token-91b2e4"


def destination(**changes: Any) -> Destination:
    base = {"platform": "tiktok", "account_id": PIXEL, "access_token": TOKEN}
    return Destination(**(base | changes))


def purchase(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "num_items": 2,
        "user_data": dict(USER),
        "client_ip": "2001:db8::7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "ttclid": "E.C.P.v3qC1aBcDeF",
        "ttp": "2Xk9abcdEFGH.tt.1",
    }
    return web_order_event(**(fields | changes))


CASE = ConnectorCase(
    platform="tiktok",
    connector=TikTokConversionsConnector,
    destination=destination,
    purchase=purchase,
    without_credential=destination(access_token=""),
    secrets=(TOKEN,),
    masked=lambda request: request.headers["access-token"] == "***",
    default_batch_size=1000,
    max_events_per_request=MAX_EVENTS_PER_REQUEST,
    bulk_event=anonymous_views(purchase),
    revoked=destination(access_token="revoked-tiktok-token"),
    auth_error_code="40105",
    # TikTok: phone E.164 with "+".
    matching=Matching("user", "email", "phone", sha("+49301234567")),
    sends_test_event_code=True,
)
