"""Google Ads test setup: the customer, its tokens and conversion actions, a deliverable
purchase and the shared case.

The destination carries the organizer's OAuth refresh token; the connector exchanges it
at the sandbox's token endpoint for the access tokens the Ads API takes."""

from __future__ import annotations

from typing import Any

from usher.platforms.base import ConversionEvent, Destination
from usher.platforms.google_ads.conversions import GoogleAdsConversionsConnector
from usher.platforms.google_ads.payloads import MAX_CONVERSIONS_PER_REQUEST
from usher.platforms.tests.helpers import ConnectorCase, order_event
from usher.sandbox.testing import MountedSandbox as Sandbox

CUSTOMER = "1234567890"
REFRESH_TOKEN = "sandbox-google-oauth-refresh-token-5d6e"
CLIENT_SECRET = "sandbox-client-secret"  # settings.GOOGLE_ADS_CLIENT_SECRET's default
DEVELOPER_TOKEN = "dev-token-marketplace-0a1b2c3d"
ACTIONS = {"purchase": "111", "begin_checkout": f"customers/{CUSTOMER}/conversionActions/222"}
USER = {"email": " Ana.Silva+tix@GMail.com ", "phone": "030 1234567", "country": "DE"}
GCLID = "EAIaIQobChMIgclid0001"


def register_actions(sandbox: Sandbox) -> None:
    """The sandbox then answers NO_CONVERSION_ACTION_FOUND for any other action id."""
    sandbox.account(
        platform="google_ads", account_id=CUSTOMER, settings={"conversion_actions": ["111", "222"]}
    )


def destination(**settings: Any) -> Destination:
    base = {"developer_token": DEVELOPER_TOKEN, "conversion_actions": ACTIONS}
    return Destination("google_ads", "123-456-7890", REFRESH_TOKEN, settings=base | settings)


def purchase(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "user_data": dict(USER),
        "gclid": GCLID,
        "wbraid": "WBRAIDwbraid0001",
        "ad_user_data": True,
        "ad_personalization": False,
    }
    return order_event(**(fields | changes))


CASE = ConnectorCase(
    platform="google_ads",
    connector=GoogleAdsConversionsConnector,
    destination=destination,
    purchase=purchase,
    without_credential=Destination("google_ads", CUSTOMER, "", settings=destination().settings),
    secrets=(REFRESH_TOKEN, DEVELOPER_TOKEN, CLIENT_SECRET),
    masked=lambda request: (
        request.headers["authorization"] == "***" and request.headers["developer-token"] == "***"
    ),
    default_batch_size=2000,
    prepare=register_actions,
    max_events_per_request=MAX_CONVERSIONS_PER_REQUEST,
    # Distinct order ids: Google takes one conversion per order and action.
    bulk_event=lambda i: purchase(event_id=f"e{i}", order_id=f"o{i}", user_data={}),
    # A refresh token Google no longer honours: the token endpoint answers invalid_grant.
    revoked=Destination("google_ads", CUSTOMER, "1//revoked", settings=destination().settings),
    auth_error_code="invalid_grant",
)
