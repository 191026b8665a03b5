"""`POST /api/collect`: the public endpoint tracker.js posts events to (the collector's
router).

Identified by the client's public site key (header, query or body: sendBeacon cannot
set headers), CORS for the client's origins, rate limited per IP and per site key, and
answering 202 only once the events are durably stored. Every kind of bad input is a
clear 4xx that stores nothing; nothing in here can answer 500 for a visitor's input.
"""

from __future__ import annotations

import ipaddress
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Router
from pydantic import ValidationError

from usher.events.collector import MAX_BODY_BYTES, CollectBatch, RequestContext, store_events
from usher.lib.cors import SITE_KEY_HEADER, apply_cors, preflight, site_key_of
from usher.lib.errors import InvalidInput
from usher.lib.ratelimit import hit_sliding_window
from usher.marketplace.models import MarketplaceClient
from usher.marketplace.services import client_by_site_key

RATE_WINDOW_SECONDS = 60  # the limits (settings.COLLECTOR_*) count requests per minute,
# in a window that slides (a burst across a minute boundary cannot pass twice the limit)

collector_router = Router(tags=["collector"])


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address: REMOTE_ADDR, or the address `TRUSTED_PROXY_HOPS` proxies in
    front of Usher saw (never a client-supplied X-Forwarded-For beyond them). Anything
    that is not an IP address (a port, `unknown`) counts as no address."""
    hops = settings.TRUSTED_PROXY_HOPS
    candidate = request.META.get("REMOTE_ADDR") or ""
    if hops:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    return _ip_or_none(candidate)


def _ip_or_none(raw: str) -> str | None:
    host = raw.strip()
    if host.startswith("[") and "]" in host:  # [2001:db8::1]:443
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:  # 203.0.113.5:4711
        host = host.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _error(
    status: int, detail: object, request: HttpRequest, client: MarketplaceClient | None
) -> HttpResponse:
    response = JsonResponse({"detail": detail}, status=status)
    return apply_cors(response, request, [client] if client else [])


def _too_many(detail: str, request: HttpRequest, client: MarketplaceClient | None) -> HttpResponse:
    response = _error(429, detail, request, client)
    response["Retry-After"] = str(RATE_WINDOW_SECONDS)
    return response


def _parse(request: HttpRequest) -> dict | HttpResponse:
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse({"detail": f"body over {MAX_BODY_BYTES} bytes"}, status=413)
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": "body is not valid JSON"}, status=400)
    if isinstance(payload, dict) and "events" not in payload and "event_id" in payload:
        site_key = payload.pop("site_key", None)
        payload = {"events": [payload], "site_key": site_key}  # one event, posted bare
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "body must be a JSON object"}, status=400)
    return payload


def _validation_detail(exc: ValidationError) -> list[dict]:
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


@collector_router.post(
    "/collect",
    auth=None,
    summary="Collect browser events (tracker.js)",
    response={202: dict},
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": CollectBatch.model_json_schema()}},
            "required": True,
        }
    },
)
def collect(request: HttpRequest, site_key: str | None = None):
    ip = client_ip(request)
    # Requests without a usable address share one bucket rather than escaping the limit.
    if not hit_sliding_window(
        f"collect:ip:{ip or 'unknown'}",
        settings.COLLECTOR_REQUESTS_PER_IP_PER_MINUTE,
        RATE_WINDOW_SECONDS,
    ):
        return _too_many("too many requests from this address", request, None)
    payload = _parse(request)
    if isinstance(payload, HttpResponse):
        return payload
    client = client_by_site_key(site_key_of(request, site_key) or payload.get("site_key"))
    if client is None:
        return _error(
            401, "a valid site_key (query, body or X-Usher-Site-Key) is required", request, None
        )
    if not hit_sliding_window(
        f"collect:site:{client.pk}",
        settings.COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE,
        RATE_WINDOW_SECONDS,
    ):
        return _too_many("too many requests for this site", request, client)
    try:
        batch = CollectBatch.model_validate(payload)
    except ValidationError as exc:
        return _error(422, _validation_detail(exc), request, client)
    context = RequestContext(
        ip_address=ip, user_agent=request.headers.get("User-Agent", ""), received_at=timezone.now()
    )
    try:
        stored = store_events(client, batch, context)
    except InvalidInput as exc:
        return _error(422, exc.as_detail(), request, client)
    return apply_cors(JsonResponse({"accepted": stored}, status=202), request, [client])


@collector_router.api_operation(["OPTIONS"], "/collect", auth=None, include_in_schema=False)
def collect_preflight(request: HttpRequest, site_key: str | None = None):
    client = client_by_site_key(site_key_of(request, site_key))
    # The browser sends no site key on preflight unless it is in the query: allow any
    # client's listed origin; the POST itself is checked against its own client.
    clients = (
        [client]
        if client
        else list(MarketplaceClient.objects.filter(is_active=True).only("allowed_origins"))
    )
    return preflight(
        request, clients, methods="POST, OPTIONS", headers=f"Content-Type, {SITE_KEY_HEADER}"
    )
