"""Google's OAuth 2.0 token endpoint stand-in: refresh tokens in, short-lived access tokens out.

Paths below `/google-oauth` are those of `https://oauth2.googleapis.com`:

- `POST /token` with `grant_type=refresh_token`, `client_id`, `client_secret` and
  `refresh_token` (form-encoded, as Google's client libraries send them; JSON works too)
  answers `{"access_token", "expires_in", "scope", "token_type": "Bearer"}`.
- `POST /revoke?token=...` revokes a refresh token (or, given an access token, the
  grant it came from), as an organizer disconnecting Usher in their Google account does.

The "account" of a call is the OAuth client (`client_id`): any client id is known unless
registered with `"known": false`, and its secret follows the sandbox's token rule
(`sandbox-…`, or only the `tokens` registered for that client). A refresh token is
valid when it starts with `sandbox-` or is registered as a `tokens` entry of a Google
Ads customer, and was not revoked. The access tokens minted here (`sandbox-access-…`)
are what the fake Google Ads API then checks (`access_token_refusal`): unknown → 401
OAUTH_TOKEN_INVALID, expired → 401 OAUTH_TOKEN_EXPIRED, revoked → 401
OAUTH_TOKEN_REVOKED, and for a customer with registered tokens, a grant from another
refresh token → 403 USER_PERMISSION_DENIED (the Google user cannot see that customer).

Grants are kept as objects of platform `google_oauth`, keyed and described by SHA-256
only, so neither `/_sandbox/objects` nor a state file holds a usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.google_common import AdsError, google_error, permission_denied
from usher.sandbox.platform import Call, PlatformAPI, json_response, route
from usher.sandbox.state import SANDBOX_TOKEN_PREFIX, SandboxState

GOOGLE_OAUTH = "google_oauth"
GOOGLE_ADS = "google_ads"
ACCESS_TOKEN_PREFIX = f"{SANDBOX_TOKEN_PREFIX}access-"
# What Google answers as `expires_in` for an access token; a client may register
# `settings.access_token_lifetime_seconds` to make them expire sooner.
DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS = 3599
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
# Expired grants are still recognized (OAUTH_TOKEN_EXPIRED rather than INVALID) for a day.
EXPIRED_GRANT_KEPT_SECONDS = 24 * 3600
GRANT = "access_token"
REVOKED = "revoked_refresh_token"
# Google marks token answers uncacheable; so does the sandbox.
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


def sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def oauth_error(status: int, error: str, description: str) -> Response:
    """Google's token-endpoint error shape (RFC 6749 §5.2)."""
    return json_response(
        {"error": error, "error_description": description}, status=status, headers=NO_STORE
    )


def _text(call: Call, name: str) -> str:
    value = call.field(name, "")
    return value.strip() if isinstance(value, str) else ""


def _revoked(state: SandboxState, refresh_sha: str) -> bool:
    return state.get_object(GOOGLE_OAUTH, f"{REVOKED}:{refresh_sha}") is not None


def _registered_refresh_shas(state: SandboxState, customer_id: str | None = None) -> set[str]:
    """Hashes of the refresh tokens registered for one customer, or for any customer."""
    accounts = state.accounts[GOOGLE_ADS]
    chosen = [accounts.get(customer_id)] if customer_id is not None else list(accounts.values())
    return {sha(token) for account in chosen if account for token in account.tokens}


def refresh_token_valid(state: SandboxState, refresh_token: str) -> bool:
    digest = sha(refresh_token)
    if _revoked(state, digest):
        return False
    return refresh_token.startswith(SANDBOX_TOKEN_PREFIX) or digest in _registered_refresh_shas(
        state
    )


def _grant(state: SandboxState, access_token: str) -> dict[str, Any] | None:
    return state.get_object(GOOGLE_OAUTH, f"{GRANT}:{sha(access_token)}")


def _lifetime_seconds(state: SandboxState, client_id: str) -> int:
    client = state.account(GOOGLE_OAUTH, client_id)
    configured = (client.settings if client else {}).get("access_token_lifetime_seconds")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    return DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS


def _prune_expired_grants(state: SandboxState, now: float) -> None:
    stale = [
        key
        for key, obj in state.objects[GOOGLE_OAUTH].items()
        if obj.get("type") == GRANT and obj["expires_at"] + EXPIRED_GRANT_KEPT_SECONDS < now
    ]
    for key in stale:
        del state.objects[GOOGLE_OAUTH][key]


def issue_token(state: SandboxState, call: Call) -> Response:
    """POST /token: exchange a refresh token (the client was checked in `authenticate`)."""
    grant_type = _text(call, "grant_type")
    if grant_type != "refresh_token":
        # Only the refresh flow is served: the consent flow needs a browser and a person.
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    refresh_token = _text(call, "refresh_token")
    if not refresh_token:
        return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
    if not refresh_token_valid(state, refresh_token):
        call.notes.append("refresh token unknown or revoked")
        return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
    now = state.now()
    _prune_expired_grants(state, now)
    access_token = f"{ACCESS_TOKEN_PREFIX}{secrets.token_hex(16)}"
    lifetime = _lifetime_seconds(state, call.account or "")
    digest = sha(access_token)
    state.put_object(
        GOOGLE_OAUTH,
        f"{GRANT}:{digest}",
        {
            "type": GRANT,
            "id": digest[:16],
            "account": call.account,
            "refresh_token_sha256": sha(refresh_token),
            "issued_at": now,
            "expires_at": now + lifetime,
        },
    )
    body = {
        "access_token": access_token,
        "expires_in": lifetime,
        "scope": ADWORDS_SCOPE,
        "token_type": "Bearer",
    }
    return json_response(body, headers=NO_STORE)


def revoke(state: SandboxState, call: Call) -> Response:
    """POST /revoke?token=: an access token revokes its whole grant, as at Google."""
    token = _text(call, "token")
    grant = _grant(state, token) if token.startswith(ACCESS_TOKEN_PREFIX) else None
    if grant is not None:
        refresh_sha = grant["refresh_token_sha256"]
    elif token and refresh_token_valid(state, token):
        refresh_sha = sha(token)
    else:
        return oauth_error(400, "invalid_token", "Token expired or revoked")
    state.put_object(
        GOOGLE_OAUTH,
        f"{REVOKED}:{refresh_sha}",
        {"type": REVOKED, "id": refresh_sha[:16], "revoked_at": state.now()},
    )
    return json_response({}, headers=NO_STORE)


def access_token_refusal(
    state: SandboxState, version: str, access_token: str, customer_id: str
) -> Response | None:
    """The Google Ads API's answer refusing a minted access token for a customer, or None."""
    grant = _grant(state, access_token)
    if grant is None:
        return _unauthenticated(
            version, "OAUTH_TOKEN_INVALID", "Oauth token in the header is not valid."
        )
    if state.now() >= grant["expires_at"]:
        return _unauthenticated(
            version, "OAUTH_TOKEN_EXPIRED", "Oauth token in the header has expired."
        )
    if _revoked(state, grant["refresh_token_sha256"]):
        return _unauthenticated(
            version, "OAUTH_TOKEN_REVOKED", "Oauth token in the header has been revoked."
        )
    registered = _registered_refresh_shas(state, customer_id)
    if registered and grant["refresh_token_sha256"] not in registered:
        return permission_denied(
            version,
            "User doesn't have permission to access customer.",
        )
    return None


def _unauthenticated(version: str, code: str, message: str) -> Response:
    return google_error(
        version,
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        [AdsError("authenticationError", code, message)],
    )


class GoogleOAuthAPI(PlatformAPI):
    name = GOOGLE_OAUTH
    routes = (
        route("POST", "/token", issue_token, "token"),
        route("POST", "/revoke", revoke, "revoke"),
    )

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        if call.family != "token":
            return None  # revocation is not tied to a client
        return _text(call, "client_id") or None

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        """The OAuth client of a token call (revocation needs none, as at Google)."""
        if call.family != "token":
            return None
        client_id = call.account
        if not client_id:
            return oauth_error(
                400, "invalid_request", "Could not determine client ID from request."
            )
        if not state.is_known(GOOGLE_OAUTH, client_id):
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        client_secret = _text(call, "client_secret")
        if not state.token_valid(GOOGLE_OAUTH, client_id, client_secret):
            return oauth_error(401, "invalid_client", "Unauthorized")
        return None

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        # [U] Google does not document the token endpoint's throttling answer.
        response = oauth_error(429, "rate_limit_exceeded", "Rate limit exceeded. Try again later.")
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        # [U] the shape of the endpoint's 5xx answers is not documented either.
        return oauth_error(status, "internal_failure", "Backend error. Try again later.")

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        if path_exists:
            return oauth_error(405, "invalid_request", f"{request.method} is not supported here.")
        return oauth_error(404, "not_found", f"The requested URL {request.path} was not found.")

    def bad_body(self, request: Request, reason: str) -> Response:
        return oauth_error(400, "invalid_request", f"Invalid request body: {reason}")
