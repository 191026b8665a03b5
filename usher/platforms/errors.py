"""Failure classification: HTTP status first, then each platform's own error codes.

The platforms do not agree on where an error lives: Meta hides throttling in a 400,
TikTok answers HTTP 200 with an error `code`, Google puts quota errors in a
`google.rpc.Status` body. `kind_for_status` is the generic mapping; the per-platform
classifiers read the body and return a `PlatformError` (or None when the body carries
no error), and `usher.lib.http` attaches the masked request and response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from usher.platforms.base import ErrorKind, PlatformError

ClassifyHook = Callable[[httpx.Response], PlatformError | None]

MAX_ERROR_MESSAGE_CHARS = 500
SECONDS_PER_MINUTE = 60

# Meta Graph codes (docs/platforms.md, Meta: errors and rate limits).
META_THROTTLING_CODES = frozenset({4, 17, 32, 341, 613})
META_BUC_THROTTLING_CODES = range(80000, 80015)  # Business Use Case limits 80000-80014
META_TRANSIENT_CODES = frozenset({1, 2, 368})  # unknown/service error; 368 = temporary block
META_TOKEN_CODES = frozenset({102, 190})  # session or access token invalid/expired
META_PERMISSION_CODES = frozenset({10, *range(200, 300)})

# TikTok business API `code` values (docs/platforms.md, TikTok: errors).
TIKTOK_OK_CODES = frozenset({0, 20001})  # 20001 = partial success, judged per event upstream
TIKTOK_RATE_LIMITED_CODE = 40100
TIKTOK_AUTH_CODES = range(40101, 40110)  # 40104 seen for a missing/invalid Access-Token
TIKTOK_SERVER_ERROR_MIN_CODE = 50000

# Google Ads / google.rpc (docs/platforms.md, Google Ads: quotas and errors).
GOOGLE_QUOTA_CODES = frozenset(
    {
        "RESOURCE_EXHAUSTED",
        "RESOURCE_TEMPORARILY_EXHAUSTED",
        "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION",
    }
)
GOOGLE_TRANSIENT_CODES = frozenset(
    {"CONCURRENT_MODIFICATION", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"}
)
GOOGLE_AUTH_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
GOOGLE_AUTH_ERROR_FIELDS = frozenset({"authenticationError", "authorizationError"})


def kind_for_status(status_code: int) -> ErrorKind | None:
    """The generic mapping of an HTTP status to a failure kind; None means success.

    408 counts as transient (the server timed out waiting for us), and 501 as permanent
    (the endpoint will not start existing on a retry).
    """
    if status_code < 300:
        return None
    if status_code == 429:
        return ErrorKind.RATE_LIMITED
    if status_code in (401, 403):
        return ErrorKind.AUTH
    if status_code == 408:
        return ErrorKind.TRANSIENT
    if status_code >= 500 and status_code != 501:
        return ErrorKind.TRANSIENT
    return ErrorKind.PERMANENT


def classify_meta(response: httpx.Response) -> PlatformError | None:
    """Graph API errors: `{"error": {"code", "error_subcode", "message", ...}}`."""
    error = _json_dict(response).get("error")
    if not isinstance(error, dict):
        return None
    code = _int_or_none(error.get("code"))
    subcode = _int_or_none(error.get("error_subcode"))
    if code in META_THROTTLING_CODES or code in META_BUC_THROTTLING_CODES:
        kind = ErrorKind.RATE_LIMITED
    elif code in META_TOKEN_CODES or code in META_PERMISSION_CODES:
        kind = ErrorKind.AUTH
    elif code in META_TRANSIENT_CODES or error.get("is_transient") is True:
        kind = ErrorKind.TRANSIENT
    else:
        kind = kind_for_status(response.status_code) or ErrorKind.PERMANENT
    message = str(error.get("error_user_msg") or error.get("message") or "Graph API error")
    if subcode is not None:
        message = f"{message} (subcode {subcode})"
    retry_after = None
    if kind is ErrorKind.RATE_LIMITED:
        retry_after = _meta_regain_access_seconds(error, response.headers)
    return PlatformError(
        kind,
        _truncate(message),
        status_code=response.status_code,
        platform_code=str(code) if code is not None else None,
        retry_after_seconds=retry_after,
    )


def classify_tiktok(response: httpx.Response) -> PlatformError | None:
    """TikTok answers HTTP 200 with `{"code", "message", "request_id"}`; 0 means success."""
    body = _json_dict(response)
    code = _int_or_none(body.get("code"))
    if code is None or code in TIKTOK_OK_CODES:
        return None
    if code == TIKTOK_RATE_LIMITED_CODE:
        kind = ErrorKind.RATE_LIMITED  # TikTok sends no Retry-After; callers back off
    elif code in TIKTOK_AUTH_CODES:
        kind = ErrorKind.AUTH
    elif code >= TIKTOK_SERVER_ERROR_MIN_CODE:
        kind = ErrorKind.TRANSIENT
    else:
        kind = ErrorKind.PERMANENT  # 40001/40002 and other 4xxxx: invalid request
    return PlatformError(
        kind,
        _truncate(str(body.get("message") or "TikTok API error")),
        status_code=response.status_code,
        platform_code=str(code),
    )


def classify_google(response: httpx.Response) -> PlatformError | None:
    """google.rpc.Status bodies; partial failures inside a 200 are left to the connector."""
    error = _json_dict(response).get("error")
    if not isinstance(error, dict):
        return None
    status = str(error.get("status") or "")
    error_codes = _google_error_codes(error)  # e.g. {"quotaError": "RESOURCE_EXHAUSTED"}
    values = set(error_codes.values())
    if status in GOOGLE_QUOTA_CODES or values & GOOGLE_QUOTA_CODES:
        kind = ErrorKind.RATE_LIMITED
    elif status in GOOGLE_AUTH_STATUSES or GOOGLE_AUTH_ERROR_FIELDS & error_codes.keys():
        kind = ErrorKind.AUTH
    elif status in GOOGLE_TRANSIENT_CODES or values & GOOGLE_TRANSIENT_CODES:
        # Two writers on one user list or job: retried (docs/platforms.md, Google Ads:
        # Customer Match).
        kind = ErrorKind.TRANSIENT
    else:
        kind = kind_for_status(response.status_code) or ErrorKind.PERMANENT
    platform_code = next(iter(error_codes.values()), None) or status or None
    return PlatformError(
        kind,
        _truncate(str(error.get("message") or "Google API error")),
        status_code=response.status_code,
        platform_code=platform_code,
        retry_after_seconds=_google_retry_delay_seconds(error),
    )


# GA4's Measurement Protocol answers 2xx even for malformed payloads: no body to read.
BODY_CLASSIFIERS: dict[str, ClassifyHook] = {
    "meta": classify_meta,
    "tiktok": classify_tiktok,
    "google_ads": classify_google,
    "google_data_manager": classify_google,  # the same google.rpc error bodies
}


def classifier_for(platform: str) -> ClassifyHook | None:
    return BODY_CLASSIFIERS.get(platform)


def _json_dict(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truncate(message: str) -> str:
    return message[:MAX_ERROR_MESSAGE_CHARS]


def _meta_regain_access_seconds(error: dict[str, Any], headers: httpx.Headers) -> float | None:
    """Meta reports `estimated_time_to_regain_access` in minutes, in the body or BUC header."""
    minutes: list[float] = []
    error_data = error.get("error_data")
    if isinstance(error_data, str):
        error_data = _loads_or_none(error_data)
    if isinstance(error_data, dict):
        minutes.append(_float_or_zero(error_data.get("estimated_time_to_regain_access")))
    usage = _loads_or_none(headers.get("x-business-use-case-usage", ""))
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    minutes.append(_float_or_zero(entry.get("estimated_time_to_regain_access")))
    longest = max(minutes, default=0.0)
    return longest * SECONDS_PER_MINUTE if longest > 0 else None


def _google_error_codes(error: dict[str, Any]) -> dict[str, str]:
    """The first GoogleAdsFailure error's `errorCode`, e.g. {"quotaError": "..."}."""
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        for item in detail.get("errors") or []:
            error_code = item.get("errorCode") if isinstance(item, dict) else None
            if isinstance(error_code, dict) and error_code:
                return {str(key): str(value) for key, value in error_code.items()}
    return {}


def _google_retry_delay_seconds(error: dict[str, Any]) -> float | None:
    """google.rpc.RetryInfo `retryDelay` such as "30s", when the server sent one."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay") or "").removesuffix("s")
            try:
                return max(0.0, float(delay))
            except ValueError:
                return None
    return None


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _float_or_zero(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
