"""GA4 test setup: the stream, its API secret, a deliverable purchase and the shared case."""

from __future__ import annotations

from typing import Any

from usher.platforms.base import ConversionEvent, Destination
from usher.platforms.ga4.conversions import GA4ConversionsConnector
from usher.platforms.tests.helpers import USER, ConnectorCase, web_order_event

MEASUREMENT_ID = "G-PSW1MY7HB4"
SECRET = "sandbox-ga4-api-secret-33e1f0"
# GA4 joins events to the browser's visitor through the `_ga` cookie, not external_id.
GA4_USER = {key: value for key, value in USER.items() if key != "external_id"} | {
    "ga_client_id": "GA1.1.1234567890.1700000000"
}


def destination(**settings: Any) -> Destination:
    return Destination("ga4", MEASUREMENT_ID, settings={"api_secret": SECRET} | settings)


def purchase(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "user_data": dict(GA4_USER),
        "ad_user_data": True,
        "ad_personalization": False,
    }
    return web_order_event(**(fields | changes))


# GA4 has no auth error to test (collect answers 2xx to a wrong secret) and splits a
# batch into requests of 25, so the full-batch and revoked-token tests do not apply.
CASE = ConnectorCase(
    platform="ga4",
    connector=GA4ConversionsConnector,
    destination=destination,
    purchase=purchase,
    without_credential=Destination("ga4", MEASUREMENT_ID),
    secrets=(SECRET,),
    masked=lambda request: "api_secret=***" in request.url,
    default_batch_size=200,
)
