"""Ingest API (the ticketing core, with the client's secret key) and the organizer API
(organizers, with their token). Thin: validation in schemas, work in services."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import paginate

from usher.lib.errors import error_responses
from usher.lib.tenancy import get_for_organizer_or_404
from usher.marketplace import services
from usher.marketplace.auth import ClientKeyAuth, OrganizerTokenAuth
from usher.marketplace.models import MarketplaceEvent, Order
from usher.marketplace.schemas import (
    BatchOut,
    EventBatchIn,
    EventIn,
    EventOut,
    OrderBatchIn,
    OrderIn,
    OrderOut,
    OrganizerBatchIn,
    OrganizerIn,
    OrganizerOut,
    UpsertOut,
)

ingest_router = Router(auth=ClientKeyAuth(), tags=["ingest"])
organizer_router = Router(auth=OrganizerTokenAuth(), tags=["organizer"])


def _batch_out(results: list[services.UpsertResult]) -> dict:
    created = sum(r.created for r in results)
    changed = sum(r.changed and not r.created for r in results)
    return {
        "results": results,
        "created": created,
        "changed": changed,
        "unchanged": len(results) - created - changed,
    }


@ingest_router.put(
    "/organizers", response={200: UpsertOut, **error_responses(401)}, summary="Upsert one organizer"
)
def put_organizer(request: HttpRequest, payload: OrganizerIn):
    return services.upsert_organizer(request.auth, payload)


@ingest_router.post(
    "/organizers/batch",
    response={200: BatchOut, **error_responses(401)},
    summary="Upsert organizers",
)
def post_organizers(request: HttpRequest, payload: OrganizerBatchIn):
    return _batch_out(services.upsert_organizers(request.auth, payload.items))


@ingest_router.put(
    "/events", response={200: UpsertOut, **error_responses(401)}, summary="Upsert one event"
)
def put_event(request: HttpRequest, payload: EventIn):
    return services.upsert_event(request.auth, payload)


@ingest_router.post(
    "/events/batch", response={200: BatchOut, **error_responses(401)}, summary="Upsert events"
)
def post_events(request: HttpRequest, payload: EventBatchIn):
    return _batch_out(services.upsert_events(request.auth, payload.items))


@ingest_router.put(
    "/orders", response={200: UpsertOut, **error_responses(401)}, summary="Upsert one order"
)
def put_order(request: HttpRequest, payload: OrderIn):
    return services.upsert_order(request.auth, payload)


@ingest_router.post(
    "/orders/batch", response={200: BatchOut, **error_responses(401)}, summary="Upsert orders"
)
def post_orders(request: HttpRequest, payload: OrderBatchIn):
    return _batch_out(services.upsert_orders(request.auth, payload.items))


@organizer_router.get(
    "/me",
    response={200: OrganizerOut, **error_responses(401)},
    summary="The organizer this token acts for",
)
def get_me(request: HttpRequest):
    return request.auth


@organizer_router.get(
    "/events",
    response={200: list[EventOut], **error_responses(401)},
    summary="The organizer's events",
)
@paginate
def list_events(request: HttpRequest):
    return MarketplaceEvent.objects.for_organizer(request.auth)


@organizer_router.get(
    "/events/{event_id}",
    response={200: EventOut, **error_responses(401, 404)},
    summary="One of the organizer's events",
)
def get_event(request: HttpRequest, event_id: int):
    return get_for_organizer_or_404(MarketplaceEvent, request.auth, pk=event_id)


@organizer_router.get(
    "/orders",
    response={200: list[OrderOut], **error_responses(401)},
    summary="The organizer's orders",
)
@paginate
def list_orders(request: HttpRequest):
    return Order.objects.for_organizer(request.auth)
