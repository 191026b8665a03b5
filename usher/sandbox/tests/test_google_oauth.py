"""The sandbox's Google OAuth token endpoint and the Google Ads API's checks of its tokens."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from usher.sandbox import SandboxState
from usher.sandbox.google_oauth import ADWORDS_SCOPE, DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS
from usher.sandbox.tests.conftest import GOOGLE_CUSTOMER, FakeClock, google_headers

CLIENT_ID = "sandbox-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-client-secret"
REFRESH_TOKEN = "sandbox-refresh-token-of-ana"
SEARCH = f"/google-ads/v25/customers/{GOOGLE_CUSTOMER}/googleAds:search"


def exchange(client: httpx.Client, **fields: Any) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        **fields,
    }
    return client.post("/google-oauth/token", data={k: v for k, v in form.items() if v is not None})


def access_token(client: httpx.Client, **fields: Any) -> str:
    response = exchange(client, **fields)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def search(client: httpx.Client, token: str, customer: str = GOOGLE_CUSTOMER) -> httpx.Response:
    return client.post(
        f"/google-ads/v25/customers/{customer}/googleAds:search",
        headers=google_headers(token),
        json={"query": "SELECT campaign.id FROM campaign"},
    )


def ads_error_code(response: httpx.Response) -> dict[str, str]:
    return response.json()["error"]["details"][0]["errors"][0]["errorCode"]


def test_a_refresh_token_gets_an_access_token_the_ads_api_takes(client: httpx.Client) -> None:
    response = exchange(client)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == ADWORDS_SCOPE
    assert body["expires_in"] == DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS
    assert body["access_token"].startswith("sandbox-access-")
    assert "no-store" in response.headers["cache-control"]
    assert search(client, body["access_token"]).status_code == 200


def test_a_json_body_is_accepted_too(client: httpx.Client) -> None:
    response = client.post(
        "/google-oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        },
    )

    assert response.status_code == 200


def test_an_access_token_expires_and_the_ads_api_says_so(
    client: httpx.Client, clock: FakeClock
) -> None:
    token = access_token(client)

    clock.advance(DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS - 1)
    assert search(client, token).status_code == 200
    clock.advance(1)
    expired = search(client, token)

    assert expired.status_code == 401
    assert expired.json()["error"]["status"] == "UNAUTHENTICATED"
    assert ads_error_code(expired) == {"authenticationError": "OAUTH_TOKEN_EXPIRED"}
    assert search(client, access_token(client)).status_code == 200  # a new one works


def test_a_client_can_be_given_a_shorter_token_lifetime(
    client: httpx.Client, clock: FakeClock
) -> None:
    client.post(
        "/_sandbox/accounts",
        json={
            "platform": "google-oauth",
            "account_id": CLIENT_ID,
            "settings": {"access_token_lifetime_seconds": 60},
        },
    ).raise_for_status()
    response = exchange(client)

    assert response.json()["expires_in"] == 60
    clock.advance(60)
    assert search(client, response.json()["access_token"]).status_code == 401


def test_an_access_token_the_sandbox_never_issued_is_invalid(client: httpx.Client) -> None:
    response = search(client, "sandbox-access-made-up")

    assert response.status_code == 401
    assert ads_error_code(response) == {"authenticationError": "OAUTH_TOKEN_INVALID"}


@pytest.mark.parametrize("refresh_token", ["1//unknown-refresh-token", "ya29.an-access-token"])
def test_an_unknown_refresh_token_is_an_invalid_grant(
    client: httpx.Client, refresh_token: str
) -> None:
    response = exchange(client, refresh_token=refresh_token)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


def test_revoking_the_refresh_token_ends_the_grant_and_its_access_tokens(
    client: httpx.Client,
) -> None:
    token = access_token(client)

    revoked = client.post("/google-oauth/revoke", params={"token": REFRESH_TOKEN})

    assert revoked.status_code == 200
    assert exchange(client).json()["error"] == "invalid_grant"
    refused = search(client, token)
    assert refused.status_code == 401
    assert ads_error_code(refused) == {"authenticationError": "OAUTH_TOKEN_REVOKED"}
    again = client.post("/google-oauth/revoke", params={"token": REFRESH_TOKEN})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")


def test_revoking_an_access_token_revokes_its_refresh_token(client: httpx.Client) -> None:
    token = access_token(client)

    assert client.post("/google-oauth/revoke", data={"token": token}).status_code == 200

    assert exchange(client).json()["error"] == "invalid_grant"


def test_a_refresh_token_registered_for_a_customer_works_there_only(
    client: httpx.Client,
) -> None:
    other_customer = "9876543210"
    client.post(
        "/_sandbox/accounts",
        json={
            "accounts": [
                {"platform": "google_ads", "account_id": GOOGLE_CUSTOMER, "tokens": ["1//ana"]},
                {"platform": "google_ads", "account_id": other_customer, "tokens": ["1//bob"]},
            ]
        },
    ).raise_for_status()

    token = access_token(client, refresh_token="1//ana")  # no sandbox- prefix needed

    assert search(client, token).status_code == 200
    denied = search(client, token, customer=other_customer)
    assert denied.status_code == 403
    assert ads_error_code(denied) == {"authorizationError": "USER_PERMISSION_DENIED"}
    sandbox_grant = access_token(client)  # sandbox- refresh token: not one of theirs either
    assert search(client, sandbox_grant).status_code == 403


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"client_id": None}, 400, "invalid_request"),
        ({"client_secret": None}, 401, "invalid_client"),
        ({"client_secret": "not-a-sandbox-secret"}, 401, "invalid_client"),
        ({"refresh_token": None}, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_token_requests_get_googles_oauth_errors(
    client: httpx.Client, fields: dict[str, Any], status: int, error: str
) -> None:
    response = exchange(client, **fields)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.json()["error_description"]


def test_a_registered_client_takes_only_its_registered_secrets(client: httpx.Client) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "google_oauth", "account_id": "usher-prod", "tokens": ["GOCSPX-1"]},
    ).raise_for_status()
    client.post(
        "/_sandbox/accounts",
        json={"platform": "google_oauth", "account_id": "gone-client", "known": False},
    ).raise_for_status()

    assert exchange(client, client_id="usher-prod", client_secret="GOCSPX-1").status_code == 200
    wrong = exchange(client, client_id="usher-prod", client_secret=CLIENT_SECRET)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    gone = exchange(client, client_id="gone-client")
    assert gone.json()["error_description"] == "The OAuth client was not found."


@pytest.mark.parametrize(("mode", "status"), [("5xx", 500), ("429", 429)])
def test_the_token_endpoint_takes_faults(client: httpx.Client, mode: str, status: int) -> None:
    client.post("/_sandbox/faults", json={"platform": "google-oauth", "mode": mode})

    response = exchange(client)

    assert response.status_code == status and "error" in response.json()
    assert exchange(client).status_code == 200


def test_the_request_log_masks_every_credential(client: httpx.Client) -> None:
    token = access_token(client)
    search(client, token)
    client.post("/google-oauth/revoke", params={"token": REFRESH_TOKEN})

    log = client.get("/_sandbox/requests").json()["requests"]

    text = json.dumps(log)
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, token):
        assert secret not in text
    token_call = next(e for e in log if e["path"] == "/google-oauth/token")
    assert token_call["platform"] == "google_oauth" and token_call["account"] == CLIENT_ID
    assert token_call["body"]["client_id"] == CLIENT_ID
    assert token_call["response"]["access_token"].endswith("…")


def test_grants_survive_a_saved_state_without_any_usable_token_in_it(
    client: httpx.Client, clock: FakeClock, state: SandboxState
) -> None:
    from usher.sandbox import create_app, sandbox_transport

    token = access_token(client)
    saved = json.dumps(state.to_json(), default=str)
    assert token not in saved and REFRESH_TOKEN not in saved

    restored = SandboxState(clock=clock)
    restored.load_json(json.loads(saved))
    with httpx.Client(
        transport=sandbox_transport(create_app(restored)), base_url="http://sandbox"
    ) as again:
        assert search(again, token).status_code == 200
