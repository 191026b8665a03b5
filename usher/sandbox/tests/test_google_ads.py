"""Google Ads REST: click conversions, credentials and accounts."""

from __future__ import annotations

import httpx
import pytest

from usher.sandbox.tests.conftest import GOOGLE_CUSTOMER, FakeClock, google_headers, sha
from usher.sandbox.tests.google_helpers import (
    ACTION,
    BASE,
    WHEN,
    call,
    conversion,
    failure_codes,
    upload,
)

# --- click conversions ---


def test_valid_click_conversions_are_accepted(client: httpx.Client) -> None:
    response = upload(
        client,
        [conversion(), conversion(orderId="order-2", gclid=None, wbraid="wbraid-sandbox-1")],
        jobId=77,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["jobId"] == "77" and "partialFailureError" not in body
    assert body["results"][0] == {
        "gclid": "Cj0KCQiA-sandbox-gclid",
        "conversionAction": ACTION,
        "conversionDateTime": WHEN,
    }
    assert client.get("/_sandbox/events", params={"platform": "google_ads"}).json()["received"] == 2


def test_snake_case_bodies_are_read_like_camel_case(client: httpx.Client) -> None:
    body = {
        "conversions": [
            {
                "gclid": "Cj0KCQiA-sandbox-gclid",
                "conversion_action": ACTION,
                "conversion_date_time": WHEN,
            }
        ],
        "partial_failure": True,
    }
    assert "partialFailureError" not in call(client, ":uploadClickConversions", body).json()


def test_partial_failure_must_be_true(client: httpx.Client) -> None:
    response = call(client, ":uploadClickConversions", {"conversions": [conversion()]})
    assert response.status_code == 400
    assert failure_codes(response.json()["error"]) == [
        {"partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"}
    ]


def test_more_than_2000_conversions_are_refused(client: httpx.Client) -> None:
    response = upload(client, [conversion(orderId=str(n)) for n in range(2001)])
    assert failure_codes(response.json()["error"]) == [
        {"conversionUploadError": "TOO_MANY_CONVERSIONS_IN_REQUEST"}
    ]


ROW_ERRORS = {
    "unparseable gclid": (
        {"gclid": "not a gclid!"},
        {"conversionUploadError": "UNPARSEABLE_GCLID"},
    ),
    "gbraid and wbraid": (
        {"gclid": None, "gbraid": "gbraid-sandbox-1", "wbraid": "wbraid-sandbox-1"},
        {"conversionUploadError": "GBRAID_WBRAID_BOTH_SET"},
    ),
    "no click and no identifiers": ({"gclid": None}, {"fieldError": "REQUIRED"}),
    "no conversion action": ({"conversionAction": None}, {"fieldError": "REQUIRED"}),
    "malformed conversion action": (
        {"conversionAction": "conversionActions/555"},
        {"requestError": "RESOURCE_NAME_MALFORMED"},
    ),
    "date without time zone": (
        {"conversionDateTime": "2026-01-01 11:00:00"},
        {"dateError": "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
    ),
    "impossible date": (
        {"conversionDateTime": "2026-02-30 11:00:00+00:00"},
        {"dateError": "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
    ),
    "date in the future": (
        {"conversionDateTime": "2026-01-02 11:00:00+00:00"},
        {"dateError": "LATER_THAN_MAXIMUM_DATE"},
    ),
    "click older than 90 days": (
        {"conversionDateTime": "2025-09-01 11:00:00+00:00"},
        {"conversionUploadError": "EXPIRED_EVENT"},
    ),
    "bad currency": ({"currencyCode": "euro"}, {"fieldError": "INVALID_VALUE"}),
    "unhashed email": (
        {"userIdentifiers": [{"hashedEmail": "ana@example.com"}]},
        {"conversionUploadError": "INVALID_USER_IDENTIFIER"},
    ),
    "address identifier": (
        {"userIdentifiers": [{"addressInfo": {"hashedFirstName": sha("ana")}}]},
        {"conversionUploadError": "UNSUPPORTED_USER_IDENTIFIER"},
    ),
    "six identifiers": (
        {"userIdentifiers": [{"hashedEmail": sha(str(n))} for n in range(6)]},
        {"collectionSizeError": "TOO_MANY"},
    ),
    "email in order id": (
        {"orderId": "ana@example.com"},
        {"conversionUploadError": "ORDER_ID_CONTAINS_PII"},
    ),
}


@pytest.mark.parametrize("case", ROW_ERRORS, ids=list(ROW_ERRORS))
def test_a_bad_row_fails_alone_in_partial_failure(client: httpx.Client, case: str) -> None:
    overrides, code = ROW_ERRORS[case]
    bad = {k: v for k, v in conversion(**{"orderId": "bad", **overrides}).items() if v is not None}
    body = upload(client, [conversion(), bad]).json()
    assert body["results"][0] != {} and body["results"][1] == {}
    assert failure_codes(body["partialFailureError"]) == [code]
    location = body["partialFailureError"]["details"][0]["errors"][0]["location"][
        "fieldPathElements"
    ]
    assert location[0] == {"fieldName": "conversions", "index": 1}
    assert client.get("/_sandbox/events", params={"platform": "google_ads"}).json()["received"] == 1


def test_a_value_of_the_wrong_json_type_fails_the_whole_request(client: httpx.Client) -> None:
    response = upload(client, [conversion(conversionValue="fifty")])
    assert response.status_code == 400
    violation = response.json()["error"]["details"][0]["fieldViolations"][0]
    assert violation["field"] == "conversions[0].conversion_value"


def test_order_ids_make_uploads_idempotent(client: httpx.Client) -> None:
    upload(client, [conversion()])
    again = upload(
        client, [conversion(), conversion(orderId="order-9"), conversion(orderId="order-9")]
    ).json()
    assert failure_codes(again["partialFailureError"]) == [
        {"conversionUploadError": "ORDER_ID_ALREADY_IN_USE"},
        {"conversionUploadError": "DUPLICATE_ORDER_ID"},
    ]
    without_order = {k: v for k, v in conversion().items() if k != "orderId"}
    upload(client, [without_order])
    repeated = upload(client, [without_order]).json()
    assert failure_codes(repeated["partialFailureError"]) == [
        {"conversionUploadError": "CLICK_CONVERSION_ALREADY_EXISTS"}
    ]


def test_registered_conversion_actions_are_the_only_ones_found(client: httpx.Client) -> None:
    client.post(
        "/_sandbox/accounts",
        json={
            "platform": "google_ads",
            "account_id": GOOGLE_CUSTOMER,
            "settings": {"conversion_actions": ["777"]},
        },
    )
    body = upload(client, [conversion()]).json()
    assert failure_codes(body["partialFailureError"]) == [
        {"conversionUploadError": "NO_CONVERSION_ACTION_FOUND"}
    ]


def test_validate_only_checks_every_row_answers_only_errors_and_records_nothing(
    client: httpx.Client,
) -> None:
    answer = upload(
        client, [conversion(), conversion(orderId="order-2", gclid="short")], validateOnly=True
    )
    assert answer.status_code == 200
    assert "results" not in answer.json() and "jobId" not in answer.json()
    assert failure_codes(answer.json()["partialFailureError"]) == [
        {"conversionUploadError": "UNPARSEABLE_GCLID"}
    ]
    assert client.get("/_sandbox/events").json()["received"] == 0
    # Nothing was remembered either: the same order id is new when sent live.
    assert "partialFailureError" not in upload(client, [conversion()]).json()


def test_conversion_environment_takes_googles_enum_only(client: httpx.Client) -> None:
    assert (
        "partialFailureError"
        not in upload(client, [conversion(conversionEnvironment="WEB")]).json()
    )
    refused = upload(client, [conversion(orderId="order-2", conversionEnvironment="BROWSER")])
    assert refused.status_code == 400
    assert "conversion_environment" in refused.text


# --- credentials and accounts ---


def test_credentials_and_customer_ids_are_checked_like_google(client: httpx.Client) -> None:
    body = {"conversions": [conversion()], "partialFailure": True}
    url = f"{BASE}:uploadClickConversions"
    missing = client.post(url, headers={"developer-token": "x"}, json=body)
    assert (missing.status_code, missing.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    invalid = client.post(url, headers=google_headers("ya29.expired"), json=body)
    assert failure_codes(invalid.json()["error"]) == [
        {"authenticationError": "OAUTH_TOKEN_INVALID"}
    ]
    no_developer_token = client.post(url, headers={"Authorization": "Bearer sandbox-x"}, json=body)
    assert failure_codes(no_developer_token.json()["error"]) == [
        {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"}
    ]
    dashed = client.post(
        "/google-ads/v25/customers/123-456-7890:uploadClickConversions",
        headers=google_headers(),
        json=body,
    )
    assert failure_codes(dashed.json()["error"]) == [{"requestError": "INVALID_CUSTOMER_ID"}]
    client.post(
        "/_sandbox/accounts",
        json={"platform": "google_ads", "account_id": GOOGLE_CUSTOMER, "known": False},
    )
    unknown = client.post(url, headers=google_headers(), json=body)
    assert unknown.status_code == 403
    assert failure_codes(unknown.json()["error"]) == [
        {"authorizationError": "USER_PERMISSION_DENIED"}
    ]
    sunset = client.post(
        f"/google-ads/v16/customers/{GOOGLE_CUSTOMER}:uploadClickConversions",
        headers=google_headers(),
        json=body,
    )
    assert sunset.status_code == 404


def test_the_clock_drives_expiry_of_uploads(client: httpx.Client, clock: FakeClock) -> None:
    clock.advance(91 * 24 * 3600)
    body = upload(client, [conversion()]).json()
    assert failure_codes(body["partialFailureError"]) == [
        {"conversionUploadError": "EXPIRED_EVENT"}
    ]
