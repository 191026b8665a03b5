"""CORS for the browser endpoints: only the origins the marketplace client listed.

The allowed origin is echoed (never `*`), and responses always vary on Origin so a shared
cache cannot hand one site's answer to another.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from usher.marketplace.models import MarketplaceClient

SITE_KEY_HEADER = "X-Usher-Site-Key"
PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_METHODS = "GET, OPTIONS"
ALLOWED_HEADERS = f"{SITE_KEY_HEADER}, If-None-Match"


def _normalize(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, clients: Iterable[MarketplaceClient]) -> bool:
    if not origin:
        return False
    wanted = _normalize(origin)
    return any(
        isinstance(allowed, str) and _normalize(allowed) == wanted
        for client in clients
        for allowed in client.allowed_origins or []
    )


def apply_cors(
    response: HttpResponse, request: HttpRequest, clients: Iterable[MarketplaceClient]
) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin_allowed(origin, clients):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "ETag"
    patch_vary_headers(response, ["Origin", SITE_KEY_HEADER])
    return response


def preflight(request: HttpRequest, clients: Iterable[MarketplaceClient]) -> HttpResponse:
    response = HttpResponse(status=204)
    apply_cors(response, request, clients)
    if response.has_header("Access-Control-Allow-Origin"):
        response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response
