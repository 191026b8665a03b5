"""The one outbound HTTP chokepoint for ad platforms.

Every call to Meta, Google, TikTok or GA4 goes through `PlatformHttpClient.request`, so
that timeouts are always set, failures are always mapped to one `PlatformError` (auth,
rate-limited, transient, permanent), every call writes exactly one structured log line
(logger `usher.http`), and secrets never reach a log or a stored request record.

One pooled `httpx.Client` per platform lives in a process-level registry
(`get_client`); tests mount an in-process transport (the sandbox's WSGI app or an
`httpx.MockTransport`) with `set_transport_for_tests`.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
from django.conf import settings

from usher.ops.counters import record_platform_call
from usher.platforms.base import (
    MASK,
    ErrorKind,
    PlatformError,
    RequestRecord,
    ResponseRecord,
)
from usher.platforms.errors import ClassifyHook, classifier_for, kind_for_status

logger = logging.getLogger("usher.http")
# httpx logs every request URL at INFO, query-string access tokens included; the masked
# line below replaces it. (Set here because this module is the only way out.)
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_RECORDED_BODY_CHARS = 64_000  # a 1,000-event batch is larger; the log keeps the head
MAX_ERROR_BODY_CHARS = 500
MIN_MASKED_SECRET_CHARS = 4  # shorter "secrets" would mask digits all over the log
# Keys (query, header, form or JSON) whose values are always secret; compared lowercased
# with "-" read as "_", so `developer-token` and `Access-Token` match too.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_secret",
        "authorization",
        "developer_token",
        "appsecret_proof",
        "client_secret",
        "refresh_token",
        "secret",
    }
)
OK_OUTCOME = "ok"


@dataclass(frozen=True)
class PlatformResponse:
    """A successful platform answer; failures are raised as `PlatformError` instead."""

    status_code: int
    json: Any | None
    text: str
    elapsed_ms: float
    request: RequestRecord
    headers: Mapping[str, str]


class PlatformHttpClient:
    """A pooled client for one platform with timeouts, failure mapping and masking.

    `classify` reads platform-specific error bodies (Meta throttling inside a 400,
    TikTok errors inside a 200); when it returns None the HTTP status decides.
    """

    def __init__(
        self,
        platform: str,
        base_url: str,
        *,
        timeout_seconds: float,
        transport: httpx.BaseTransport | None = None,
        classify: ClassifyHook | None = None,
    ) -> None:
        if not timeout_seconds or timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive: platform calls never wait forever")
        self.platform = platform
        self.classify = classify
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,  # a redirect would resend the token to another URL
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> PlatformResponse:
        """Send one request; return the answer or raise a classified `PlatformError`.

        `secrets` lists values to mask wherever they appear; values under the keys in
        `SECRET_KEYS` (query, headers, form or JSON body) are masked without being listed.
        `files` (name -> (filename, content, content type)) makes a multipart upload;
        the record keeps the form fields, not the files' content.
        """
        outgoing = self._client.build_request(
            method, path, params=params, json=json, data=data, files=files, headers=headers
        )
        body, body_secrets = _recorded_body(outgoing, json, data)
        masker = _Masker([*secrets, *_secret_values(params, headers), *body_secrets])
        target = masker.target(outgoing.url)
        record = RequestRecord(
            method=outgoing.method,
            url=f"{outgoing.url.scheme}://{outgoing.url.netloc.decode('ascii')}{target}",
            headers=masker.headers(outgoing.headers),
            body=None if body is None else masker.text(body)[:MAX_RECORDED_BODY_CHARS],
        )
        started = time.perf_counter()
        try:
            response = self._client.send(outgoing)
        except httpx.RequestError as exc:
            elapsed_ms = _elapsed_ms(started)
            error = self._request_error(exc, masker, record)
            self._log(record.method, target, None, elapsed_ms, error.kind)
            raise error from exc
        elapsed_ms = _elapsed_ms(started)
        error = self._response_error(response, masker, record, elapsed_ms)
        kind = error.kind if error else None
        self._log(record.method, target, response.status_code, elapsed_ms, kind)
        if error is not None:
            raise error
        return PlatformResponse(
            status_code=response.status_code,
            json=_json_or_none(response),
            text=response.text,
            elapsed_ms=elapsed_ms,
            request=record,
            headers=response.headers,
        )

    def _request_error(
        self, exc: httpx.RequestError, masker: _Masker, record: RequestRecord
    ) -> PlatformError:
        # A wrong scheme or a redirect loop is our bug and stays one on retry; every
        # other failure before an answer (connect, timeout, dropped connection) may pass.
        permanent = isinstance(exc, httpx.UnsupportedProtocol | httpx.TooManyRedirects)
        kind = ErrorKind.PERMANENT if permanent else ErrorKind.TRANSIENT
        message = masker.text(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return PlatformError(kind, message, platform=self.platform, request=record)

    def _response_error(
        self,
        response: httpx.Response,
        masker: _Masker,
        record: RequestRecord,
        elapsed_ms: float,
    ) -> PlatformError | None:
        error = self._classified(response)
        if error is None:
            kind = kind_for_status(response.status_code)
            if kind is None:
                return None
            error = PlatformError(
                kind,
                response.text[:MAX_ERROR_BODY_CHARS] or response.reason_phrase,
                status_code=response.status_code,
            )
        error.platform = self.platform
        error.message = masker.text(error.message)
        error.args = (error.message,)
        if error.status_code is None:
            error.status_code = response.status_code
        if error.retry_after_seconds is None:
            error.retry_after_seconds = parse_retry_after(response.headers.get("retry-after"))
        error.request = record
        error.response = ResponseRecord(
            status_code=response.status_code,
            headers=masker.headers(response.headers),
            body=masker.text(response.text)[:MAX_RECORDED_BODY_CHARS],
            elapsed_ms=elapsed_ms,
        )
        return error

    def _classified(self, response: httpx.Response) -> PlatformError | None:
        if self.classify is None:
            return None
        try:
            return self.classify(response)
        except Exception:
            # A body the hook did not expect must not hide the answer: the status decides.
            logger.exception("classify hook failed for %s; using the HTTP status", self.platform)
            return None

    def _log(
        self,
        method: str,
        path: str,
        status_code: int | None,
        elapsed_ms: float,
        kind: ErrorKind | None,
    ) -> None:
        """The one log line per call; `path` is already masked."""
        outcome = str(kind) if kind else OK_OUTCOME
        record_platform_call(self.platform, outcome, elapsed_ms)
        logger.log(
            logging.WARNING if kind else logging.INFO,
            "platform_http platform=%s method=%s path=%s status=%s elapsed_ms=%.1f outcome=%s",
            self.platform,
            method,
            path,
            status_code if status_code is not None else "-",
            elapsed_ms,
            outcome,
            extra={
                "http_platform": self.platform,
                "http_method": method,
                "http_path": path,
                "http_status": status_code,
                "http_elapsed_ms": round(elapsed_ms, 1),
                "http_outcome": outcome,
            },
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- The per-process registry: one pooled client per platform. ---

_clients: dict[str, PlatformHttpClient] = {}
_test_transports: dict[str, httpx.BaseTransport] = {}
_registry_lock = threading.Lock()


def get_client(platform: str) -> PlatformHttpClient:
    """The shared client for `platform`, built on first use from settings.

    Built lazily so that each Celery worker process (forked after import) opens its
    own connections.
    """
    with _registry_lock:
        client = _clients.get(platform)
        if client is None:
            base_urls: Mapping[str, str] = settings.PLATFORM_BASE_URLS
            if platform not in base_urls:
                raise ValueError(f"no base URL for platform {platform!r} in PLATFORM_BASE_URLS")
            client = PlatformHttpClient(
                platform,
                base_urls[platform],
                timeout_seconds=settings.PLATFORM_HTTP_TIMEOUT_SECONDS,
                transport=_test_transports.get(platform),
                classify=classifier_for(platform),
            )
            _clients[platform] = client
        return client


def set_transport_for_tests(platform: str, transport: httpx.BaseTransport) -> None:
    """Route `platform`'s calls through `transport` (e.g. `httpx.WSGITransport(app=...)`)."""
    with _registry_lock:
        _test_transports[platform] = transport
        stale = _clients.pop(platform, None)
    if stale is not None:
        stale.close()


def reset_clients() -> None:
    """Close every shared client and forget test transports (test teardown)."""
    with _registry_lock:
        stale = list(_clients.values())
        _clients.clear()
        _test_transports.clear()
    for client in stale:
        client.close()


def _forget_clients_after_fork() -> None:
    # The child must not reuse the parent's sockets; dropping (not closing) leaves the
    # parent's connections intact.
    _clients.clear()


os.register_at_fork(after_in_child=_forget_clients_after_fork)


# --- Masking ---


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.strip().lower().replace("-", "_") in SECRET_KEYS


def _secret_values(*sources: Any) -> list[str]:
    """Values stored under secret keys anywhere in params, headers or bodies."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if _is_secret_key(key) and isinstance(value, str | int):
                    found.append(str(value))
                    # "Bearer <token>": the bare token may appear elsewhere too (after
                    # any run of whitespace: one split on " " kept the extra spaces).
                    found.append(str(value).split(maxsplit=1)[-1])
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    for source in sources:
        walk(source)
    return found


class _Masker:
    """Replaces secret values, and values under secret keys, with `***`."""

    def __init__(self, secrets: Sequence[str]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_MASKED_SECRET_CHARS:
                variants.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def target(self, url: httpx.URL) -> str:
        """Path and query, decoded for reading, with secret parameters masked."""
        query = "&".join(
            f"{key}={MASK if _is_secret_key(key) else value}"
            for key, value in url.params.multi_items()
        )
        return self.text(url.path + (f"?{query}" if query else ""))

    def headers(self, headers: httpx.Headers) -> dict[str, str]:
        return {
            key: MASK if _is_secret_key(key) else self.text(value) for key, value in headers.items()
        }


def _recorded_body(
    outgoing: httpx.Request, json: Any, data: Mapping[str, Any] | None
) -> tuple[str | None, list[str]]:
    """The body for the record, with the values under secret keys masked (the values
    named by `secrets` are masked later, with the rest), and those values.

    A JSON body is recorded as httpx encoded it for sending: encoded once, and walked
    for secret keys only when its text names one (a conversions batch of 500 events
    never does, and walking it was most of a call's masking). A form is recorded as the
    JSON of its fields."""
    if json is not None:
        sent = outgoing.content.decode("utf-8")
        lowered = sent.lower().replace("-", "_")  # as `_is_secret_key` reads a key
        if not any(name in lowered for name in SECRET_KEYS):
            return sent, []
        return _dumps(_mask_keys(json)), _secret_values(json)
    if data is not None:
        return _dumps(_mask_keys(data)), _secret_values(data)
    return None, []


def _dumps(node: Any) -> str:
    """JSON as httpx sends it: compact, non-ASCII kept readable."""
    return jsonlib.dumps(node, ensure_ascii=False, separators=(",", ":"), default=str)


def _mask_keys(node: Any) -> Any:
    """A copy of `node` with the values under secret keys replaced by `***`."""
    if isinstance(node, Mapping):
        return {
            key: MASK if _is_secret_key(key) else _mask_keys(value) for key, value in node.items()
        }
    if isinstance(node, list | tuple):
        return [_mask_keys(item) for item in node]
    return node


def _json_or_none(response: httpx.Response) -> Any | None:
    try:
        return response.json()
    except ValueError:
        return None


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
