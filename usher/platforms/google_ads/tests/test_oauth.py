"""Google Ads OAuth: refresh tokens exchanged at the (sandbox's) token endpoint, access
tokens cached and renewed, refusals classified, secrets masked everywhere."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from django.core.cache import cache

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import ErrorKind, OutcomeStatus, PlatformError
from usher.platforms.google_ads import oauth
from usher.platforms.google_ads.conversions import GoogleAdsConversionsConnector
from usher.platforms.google_ads.tests.builders import (
    CLIENT_SECRET,
    CUSTOMER,
    REFRESH_TOKEN,
    destination,
    purchase,
    register_actions,
)
from usher.sandbox.google_oauth import DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS
from usher.sandbox.testing import MountedSandbox as Sandbox


@pytest.fixture
def google(sandbox: Sandbox) -> Sandbox:
    register_actions(sandbox)
    return sandbox


def send(n: int, connector: GoogleAdsConversionsConnector | None = None) -> list[OutcomeStatus]:
    """Send one batch with the order `o{n}` and return its outcomes."""
    event = purchase(event_id=f"o{n}:purchase", order_id=f"o{n}")
    result = (connector or GoogleAdsConversionsConnector()).send_conversions(destination(), [event])
    return [outcome.status for outcome in result.outcomes]


def token_calls(sandbox: Sandbox) -> list[dict]:
    return sandbox.requests(platform="google_oauth")


def ads_statuses(sandbox: Sandbox) -> list[int]:
    return [entry["status"] for entry in sandbox.requests(platform="google_ads")]


def move_usher_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    started = time.time()
    monkeypatch.setattr(oauth, "now_seconds", lambda: started + seconds)


def test_the_refresh_token_is_exchanged_once_for_many_batches(google: Sandbox) -> None:
    connector = GoogleAdsConversionsConnector()

    outcomes = [send(n, connector) for n in range(5)]

    assert outcomes == [[OutcomeStatus.DELIVERED]] * 5
    assert len(token_calls(google)) == 1
    assert ads_statuses(google) == [200] * 5


def test_the_token_call_is_a_refresh_grant_with_usher_s_client(google: Sandbox, settings) -> None:
    send(1)

    (call,) = token_calls(google)
    assert (call["method"], call["path"]) == ("POST", "/google-oauth/token")
    body = call["body"]
    assert body["grant_type"] == "refresh_token"
    assert body["client_id"] == settings.GOOGLE_ADS_CLIENT_ID
    # The sandbox logs credentials cut to 10 characters; Usher's own records mask them whole.
    assert body["refresh_token"] != REFRESH_TOKEN and body["client_secret"] != CLIENT_SECRET
    assert call["status"] == 200 and call["response"]["token_type"] == "Bearer"


def test_the_access_token_is_cached_encrypted_under_a_hash_of_the_refresh_token(
    google: Sandbox,
) -> None:
    send(1)

    access_token = oauth.cached_access_token(REFRESH_TOKEN)
    assert access_token and access_token.startswith("sandbox-access-")
    key = oauth.cache_key(REFRESH_TOKEN)
    assert REFRESH_TOKEN not in key
    assert access_token not in repr(cache.get(key))


def test_a_cached_token_is_renewed_before_google_s_expiry(
    google: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_seconds = DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS - oauth.EXPIRY_MARGIN_SECONDS
    send(1)

    move_usher_clock(monkeypatch, cached_seconds - 5)
    send(2)
    assert len(token_calls(google)) == 1
    move_usher_clock(monkeypatch, cached_seconds + 5)
    assert send(3) == [OutcomeStatus.DELIVERED]

    assert len(token_calls(google)) == 2
    assert ads_statuses(google) == [200, 200, 200]  # renewed before Google said no


def test_a_token_google_refuses_early_is_dropped_and_the_batch_sent_again(
    google: Sandbox,
) -> None:
    send(1)
    # Google's clock is past the token's expiry while Usher still holds it in its cache.
    google.state.clock = lambda: time.time() + DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS + 1

    assert send(2) == [OutcomeStatus.DELIVERED]

    assert len(token_calls(google)) == 2
    assert ads_statuses(google) == [200, 401, 200]
    refused = google.requests(platform="google_ads")[1]["response"]["error"]
    assert refused["details"][0]["errors"][0]["errorCode"] == {
        "authenticationError": "OAUTH_TOKEN_EXPIRED"
    }


def test_a_401_is_retried_once_only(google: Sandbox) -> None:
    send(1)  # a cached token
    answers: list[int] = []

    def unauthenticated(request: httpx.Request) -> httpx.Response:
        answers.append(401)
        return httpx.Response(401, json={"error": {"code": 401, "status": "UNAUTHENTICATED"}})

    set_transport_for_tests("google_ads", httpx.MockTransport(unauthenticated))

    with pytest.raises(PlatformError) as caught:
        send(2)

    assert caught.value.kind is ErrorKind.AUTH and caught.value.status_code == 401
    assert len(answers) == 2  # the cached token, then one fresh token
    assert len(token_calls(google)) == 2
    assert oauth.cached_access_token(REFRESH_TOKEN) is None  # not kept for the next batch

    with pytest.raises(PlatformError):
        send(3)
    assert len(answers) == 3  # a token just exchanged and refused is not exchanged again


def test_a_revoked_refresh_token_is_a_permanent_auth_error(google: Sandbox) -> None:
    send(1)
    google.control.post("/google-oauth/revoke", params={"token": REFRESH_TOKEN})

    with pytest.raises(PlatformError) as caught:
        send(2)

    error = caught.value
    assert error.kind is ErrorKind.AUTH and error.permanent
    assert error.platform_code == "invalid_grant" and "reconnect" in error.message
    assert ads_statuses(google) == [200, 401]  # the cached token died with its grant
    assert oauth.cached_access_token(REFRESH_TOKEN) is None


def test_a_refused_oauth_client_is_an_auth_error_naming_the_settings(
    google: Sandbox, settings
) -> None:
    settings.GOOGLE_ADS_CLIENT_SECRET = "not-the-client-secret"

    with pytest.raises(PlatformError) as caught:
        send(1)

    assert caught.value.kind is ErrorKind.AUTH and caught.value.platform_code == "invalid_client"
    assert "GOOGLE_ADS_CLIENT_SECRET" in caught.value.message
    assert "not-the-client-secret" not in repr(caught.value.request)
    assert google.requests(platform="google_ads") == []


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("5xx", ErrorKind.TRANSIENT), ("429", ErrorKind.RATE_LIMITED), ("drop", ErrorKind.TRANSIENT)],
)
def test_a_token_endpoint_outage_is_retryable(google: Sandbox, mode: str, kind: ErrorKind) -> None:
    google.fault(platform="google_oauth", mode=mode)

    with pytest.raises(PlatformError) as caught:
        send(1)

    assert caught.value.kind is kind and not caught.value.permanent
    assert google.requests(platform="google_ads") == []
    assert send(2) == [OutcomeStatus.DELIVERED]  # the next attempt gets its token


def test_an_answer_without_a_lifetime_is_used_for_that_call_only(google: Sandbox) -> None:
    calls: list[httpx.Request] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"access_token": "sandbox-ya29-no-lifetime"})

    set_transport_for_tests("google_oauth", httpx.MockTransport(token_endpoint))

    assert send(1) + send(2) == [OutcomeStatus.DELIVERED] * 2
    assert len(calls) == 2


def test_an_answer_without_an_access_token_is_transient(google: Sandbox) -> None:
    set_transport_for_tests(
        "google_oauth", httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    )

    with pytest.raises(PlatformError) as caught:
        send(1)

    assert caught.value.kind is ErrorKind.TRANSIENT


def test_refresh_token_client_secret_and_access_token_never_reach_logs_or_records(
    google: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = GoogleAdsConversionsConnector().send_conversions(destination(), [purchase()])
    access_token = oauth.cached_access_token(REFRESH_TOKEN)
    google.control.post("/google-oauth/revoke", params={"token": REFRESH_TOKEN})
    oauth.forget(REFRESH_TOKEN)
    with pytest.raises(PlatformError) as caught:
        GoogleAdsConversionsConnector().send_conversions(destination(), [purchase()])

    assert access_token
    records = repr([result.request, result.response, caught.value.request, caught.value.response])
    sandbox_log = json.dumps(google.requests())
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, access_token):
        assert secret not in records
        assert secret not in sandbox_log
        assert secret not in caplog.text
    assert result.request is not None and result.request.headers["authorization"] == "***"
    assert caught.value.request is not None and "/token" in caught.value.request.url
    assert '"refresh_token":"***"' in (caught.value.request.body or "")


def test_a_refresh_token_registered_for_another_customer_is_denied(google: Sandbox) -> None:
    google.account(
        platform="google_ads",
        account_id=CUSTOMER,
        tokens=["1//only-this-users-refresh-token"],
        settings={"conversion_actions": ["111", "222"]},
    )

    with pytest.raises(PlatformError) as caught:
        send(1)

    assert caught.value.kind is ErrorKind.AUTH and caught.value.status_code == 403
    assert caught.value.platform_code == "USER_PERMISSION_DENIED"
    assert len(token_calls(google)) == 1  # a 403 is not a stale token: no second exchange
