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
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import ValidationError

from usher.events.collector import (
    MAX_BODY_BYTES,
    CollectBatch,
    RequestContext,
    client_for_site_key,
    remembered_client,
    store_events,
)
from usher.lib.cors import SITE_KEY_HEADER, apply_cors, preflight, site_key_of
from usher.lib.errors import InvalidInput, error_responses
from usher.lib.ratelimit import hit_sliding_windows
from usher.marketplace.models import MarketplaceClient
from usher.marketplace.services import client_by_site_key

RATE_WINDOW_SECONDS = 60  # the limits (settings.COLLECTOR_*) count requests per minute,
# in a window that slides (a burst across a minute boundary cannot pass twice the limit)

collector_router = Router(tags=["collector"])


class CollectedOut(Schema):
    accepted: int = Field(description="How many events the batch held (resent ones included).")


def inline_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` written in place: OpenAPI resolves
    `#/$defs/...` from the document's root, where they do not exist, so left as
    references they dangle for every client generator and fuzzer."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
                return {**target, **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


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


@dataclass(frozen=True)
class FloodLimit:
    """A per-minute request limit: its counter's key, the limit and the 429's detail."""

    key: str
    per_minute: int
    detail: str


def _over_limit(limits: list[FloodLimit]) -> FloodLimit | None:
    """Count the request against each limit in turn; the first one it exceeds, if any."""
    refused = hit_sliding_windows(
        [(limit.key, limit.per_minute) for limit in limits], RATE_WINDOW_SECONDS
    )
    return None if refused is None else limits[refused]


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
    response={202: CollectedOut, **error_responses(401, 429)},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": inline_json_schema(CollectBatch.model_json_schema())}
            },
            "required": True,
        }
    },
)
def collect(request: HttpRequest, site_key: str | None = None):
    payload = _parse(request)  # no round trip: a malformed body costs nothing to refuse
    if isinstance(payload, HttpResponse):
        return payload
    key = site_key_of(request, site_key) or payload.get("site_key")
    ip = client_ip(request)
    # Requests without a usable address share one bucket rather than escaping the limit.
    per_address = FloodLimit(
        f"collect:ip:{ip or 'unknown'}",
        settings.COLLECTOR_REQUESTS_PER_IP_PER_MINUTE,
        "too many requests from this address",
    )
    client = remembered_client(key)
    limits = [per_address]
    if client is None:
        # Not known here: the address's limit stands before the database is asked.
        if refused := _over_limit(limits):
            return _too_many(refused.detail, request, None)
        client = client_for_site_key(key)
        if client is None:
            return _error(
                401, "a valid site_key (query, body or X-Usher-Site-Key) is required", request, None
            )
        limits = []
    limits.append(
        FloodLimit(
            f"collect:site:{client.pk}",
            settings.COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE,
            "too many requests for this site",
        )
    )
    if refused := _over_limit(limits):  # both limits in one round trip when remembered
        return _too_many(refused.detail, request, client)
    try:
        batch = CollectBatch.model_validate(payload)
    except ValidationError as exc:
        return _error(422, _validation_detail(exc), request, client)
    context = RequestContext(
        ip_address=ip,
        user_agent=request.headers.get("User-Agent", ""),
        received_at=timezone.now(),
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
