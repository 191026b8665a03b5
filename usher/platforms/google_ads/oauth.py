"""Google OAuth for the Ads API: an organizer's refresh token in, an access token out.

An organizer connects Google Ads once (OAuth consent for Usher's OAuth client, scope
`adwords`); Usher keeps the long-lived *refresh token* encrypted on the tracking code.
Every Ads API call needs a short-lived *access token* (about an hour), which Google's
token endpoint issues for the refresh token plus Usher's client id and secret
(`GOOGLE_ADS_CLIENT_ID` / `GOOGLE_ADS_CLIENT_SECRET`).

Access tokens are cached (Django cache, shared by all workers), keyed by a SHA-256 of
the refresh token and Fernet-encrypted like every credential at rest, until a safety
margin before Google's `expires_in`: one token call serves many batches. Callers that
get a 401 from the Ads API `forget` the token and exchange again (conversions.py).

Failures: a revoked or expired refresh token (`invalid_grant`) and any other refusal
of the token endpoint are `auth` errors (permanent: the organizer must reconnect, or
the operator must fix the client credentials); 5xx, throttling and timeouts stay
transient. The token call goes through `usher.lib.http` like every platform call, with
the refresh token and client secret masked in logs and stored records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from usher.lib.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from usher.lib.http import get_client
from usher.platforms.base import ErrorKind, PlatformError

HTTP_PLATFORM = "google_oauth"  # the `usher.lib.http` client, and PLATFORM_BASE_URLS key
TOKEN_PATH = "/token"
CACHE_KEY_PREFIX = "google-oauth:access:"
# Renew this long before Google's expiry: clock skew, and a batch that is still being
# built or retried when the token runs out.
EXPIRY_MARGIN_SECONDS = 300
UNAUTHORIZED = 401  # Google's answer to an expired or revoked access token
T = TypeVar("T")
# The token endpoint's error codes (RFC 6749 §5.2) and what each tells the operator.
ERROR_MESSAGES = {
    "invalid_grant": (
        "the Google Ads refresh token was revoked or has expired: the organizer must "
        "reconnect Google Ads"
    ),
    "invalid_client": (
        "Google refused Usher's OAuth client: check GOOGLE_ADS_CLIENT_ID and "
        "GOOGLE_ADS_CLIENT_SECRET"
    ),
    "unauthorized_client": (
        "the refresh token was issued to another OAuth client than GOOGLE_ADS_CLIENT_ID"
    ),
}
RETRYABLE_KINDS = frozenset({ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED})


def now_seconds() -> float:
    """The clock of cached tokens' expiry (a module function, so tests can move it):
    Django's, so a simulated clock (the market driver's) ages tokens as Google does."""
    return timezone.now().timestamp()


def cache_key(refresh_token: str) -> str:
    return CACHE_KEY_PREFIX + hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()


def cached_access_token(refresh_token: str) -> str | None:
    """The cached access token, or None when there is none still comfortably valid."""
    entry = cache.get(cache_key(refresh_token))
    if not isinstance(entry, dict) or entry.get("expires_at", 0) <= now_seconds():
        return None
    try:
        return decrypt_secret(str(entry.get("token", "")))
    except SecretDecryptionError:
        return None  # encrypted under a key since retired: ask Google again


def forget(refresh_token: str) -> None:
    """Drop the cached access token (Google refused it, or the organizer reconnected)."""
    cache.delete(cache_key(refresh_token))


def with_access_token(refresh_token: str, call: Callable[[str], T]) -> T:
    """`call(access_token)` with the cached access token; on a 401, once more with a
    fresh one.

    Google may refuse a cached token before its stated expiry (revoked, or the
    organizer reconnected); a token just exchanged that is refused is refused for
    good, so it is dropped but not exchanged again within this call.
    """
    cached = cached_access_token(refresh_token)
    if cached is not None:
        try:
            return call(cached)
        except PlatformError as exc:
            if exc.status_code != UNAUTHORIZED:
                raise
            forget(refresh_token)
    try:
        return call(exchange(refresh_token))
    except PlatformError as exc:
        if exc.status_code == UNAUTHORIZED:
            forget(refresh_token)
        raise


def exchange(refresh_token: str) -> str:
    """Ask Google's token endpoint for a new access token and cache it.

    Raises `PlatformError`: `auth` when Google refuses the grant or the client,
    `transient` / `rate_limited` when the endpoint is down, slow or throttling.
    """
    client_secret = settings.GOOGLE_ADS_CLIENT_SECRET
    try:
        response = get_client(HTTP_PLATFORM).request(
            "POST",
            TOKEN_PATH,
            data={
                "grant_type": "refresh_token",
                "client_id": settings.GOOGLE_ADS_CLIENT_ID,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
            secrets=[refresh_token, client_secret],
        )
    except PlatformError as exc:
        raise _token_error(exc) from exc
    answer = response.json if isinstance(response.json, dict) else {}
    access_token = answer.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise PlatformError(
            ErrorKind.TRANSIENT,
            "Google's token endpoint answered without an access token",
            status_code=response.status_code,
            platform=HTTP_PLATFORM,
            request=response.request,
        )
    _remember(refresh_token, access_token, answer.get("expires_in"))
    return access_token


def _remember(refresh_token: str, access_token: str, expires_in: Any) -> None:
    try:
        lifetime_seconds = int(expires_in)
    except (TypeError, ValueError):
        return  # no stated lifetime: use the token for this call only
    cache_seconds = lifetime_seconds - EXPIRY_MARGIN_SECONDS
    if cache_seconds <= 0:
        return
    entry = {"token": encrypt_secret(access_token), "expires_at": now_seconds() + cache_seconds}
    cache.set(cache_key(refresh_token), entry, timeout=cache_seconds)


def _token_error(exc: PlatformError) -> PlatformError:
    """The token endpoint's failure, as the Ads connector's callers should treat it.

    Anything but an outage or throttling is about credentials, so it is `auth`: a
    `permanent` kind would make the outbox split the batch and ask again per half.
    """
    if exc.kind in RETRYABLE_KINDS:
        return exc
    code = _oauth_error_code(exc)
    message = ERROR_MESSAGES.get(code or "", f"Google's token endpoint refused: {exc.message}")
    return PlatformError(
        ErrorKind.AUTH,
        message,
        status_code=exc.status_code,
        platform_code=code or exc.platform_code,
        platform=HTTP_PLATFORM,
        request=exc.request,
        response=exc.response,
    )


def _oauth_error_code(exc: PlatformError) -> str | None:
    """`{"error": "invalid_grant", "error_description": ...}` -> "invalid_grant"."""
    if exc.response is None:
        return None
    try:
        body = json.loads(exc.response.body)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) and error else None
