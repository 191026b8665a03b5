"""CORS for the browser endpoints (tracking-config, the collector): only the origins the
marketplace client listed.

The allowed origin is echoed (never `*`), and responses always vary on Origin so a shared
cache cannot hand one site's answer to another. Clients are anything with
`allowed_origins` (a marketplace client), so this module needs no app's models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

SITE_KEY_HEADER = "X-Usher-Site-Key"
PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_METHODS = "GET, OPTIONS"
ALLOWED_HEADERS = f"{SITE_KEY_HEADER}, If-None-Match"


class HasOrigins(Protocol):
    """A marketplace client, as far as CORS cares: the origins its pages are served from."""

    allowed_origins: Sequence[object] | None


def _normalize(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, clients: Iterable[HasOrigins]) -> bool:
    if not origin:
        return False
    wanted = _normalize(origin)
    return any(
        isinstance(allowed, str) and _normalize(allowed) == wanted
        for client in clients
        for allowed in client.allowed_origins or []
    )


def apply_cors(
    response: HttpResponse, request: HttpRequest, clients: Iterable[HasOrigins]
) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin_allowed(origin, clients):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "ETag"
    patch_vary_headers(response, ["Origin", SITE_KEY_HEADER])
    return response


def preflight(
    request: HttpRequest,
    clients: Iterable[HasOrigins],
    *,
    methods: str = ALLOWED_METHODS,
    headers: str = ALLOWED_HEADERS,
) -> HttpResponse:
    response = HttpResponse(status=204)
    apply_cors(response, request, clients)
    if response.has_header("Access-Control-Allow-Origin"):
        response["Access-Control-Allow-Methods"] = methods
        response["Access-Control-Allow-Headers"] = headers
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def site_key_of(request: HttpRequest, site_key: str | None) -> str | None:
    """The public site key a browser call carries: in the query, else in the header."""
    return site_key or request.headers.get(SITE_KEY_HEADER)
