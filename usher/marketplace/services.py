"""Ingest: idempotent upserts of organizers, events and orders from the ticketing core.

Each upsert is keyed by (client, external_id). A row is written only when a field
actually changes, so sending the same payload twice changes nothing (not even
`updated_at`). A batch runs in one transaction: one bad item rejects the batch and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

from usher.lib.errors import InvalidInput
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
)
from usher.marketplace.schemas import AttributionIn, CustomerIn, EventIn, OrderIn, OrganizerIn
from usher.platforms import normalize_user_data
from usher.platforms.normalize import RULES as USER_DATA_VARIANTS

ItemT = TypeVar("ItemT")
# Where request-body fields sit in django-ninja's error locations; ours use the same shape.
PAYLOAD_LOC = ("body", "payload")


def client_by_site_key(key: object) -> MarketplaceClient | None:
    """The active marketplace client a browser call's public site key names, or None."""
    if not isinstance(key, str) or not key:
        return None
    return MarketplaceClient.objects.filter(site_key=key, is_active=True).first()


@dataclass(frozen=True)
class UpsertResult:
    id: int
    external_id: str
    created: bool
    changed: bool


def _upsert(
    model: type[models.Model], client: MarketplaceClient, external_id: str, values: dict[str, Any]
) -> UpsertResult:
    """Create or update one row by (client, external_id), writing only changed fields."""
    row = model.objects.select_for_update().filter(client=client, external_id=external_id).first()
    if row is None:
        try:
            with transaction.atomic():
                row = model.objects.create(client=client, external_id=external_id, **values)
            return UpsertResult(row.pk, external_id, created=True, changed=True)
        except IntegrityError:
            # A concurrent upsert created it first (or another unique key is taken):
            # fall through to the update path, which re-raises if the row is still missing.
            row = (
                model.objects.select_for_update()
                .filter(client=client, external_id=external_id)
                .first()
            )
            if row is None:
                raise
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=[*changed, "updated_at"])
    return UpsertResult(row.pk, external_id, created=False, changed=bool(changed))


def _run_batch(
    items: Sequence[ItemT],
    upsert_one: Callable[[ItemT], UpsertResult],
    loc_prefix: Sequence[str | int],
) -> list[UpsertResult]:
    """Upsert every item in one transaction; an error names the item it came from."""
    results: list[UpsertResult] = []
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                results.append(upsert_one(item))
            except InvalidInput as exc:
                field = exc.loc[len(PAYLOAD_LOC) :]
                raise InvalidInput([*loc_prefix, index, *field], exc.message) from exc
    return results


# --- organizers ---


def upsert_organizer(client: MarketplaceClient, data: OrganizerIn) -> UpsertResult:
    values = {
        "name": data.name,
        "email": data.email,
        "website": data.website or "",
        "status": data.status,
    }
    with transaction.atomic():
        return _upsert(MarketplaceOrganizer, client, data.external_id, values)


def upsert_organizers(
    client: MarketplaceClient, items: Sequence[OrganizerIn]
) -> list[UpsertResult]:
    return _run_batch(items, lambda item: upsert_organizer(client, item), [*PAYLOAD_LOC, "items"])


# --- events ---


def _organizer_by_external_id(client: MarketplaceClient, external_id: str) -> MarketplaceOrganizer:
    organizer = MarketplaceOrganizer.objects.filter(client=client, external_id=external_id).first()
    if organizer is None:
        raise InvalidInput(
            [*PAYLOAD_LOC, "organizer_external_id"],
            f"no organizer with external id {external_id!r}",
        )
    return organizer


def upsert_event(client: MarketplaceClient, data: EventIn) -> UpsertResult:
    organizer = _organizer_by_external_id(client, data.organizer_external_id)
    values = {
        "organizer": organizer,
        "slug": data.slug,
        "name": data.name,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
        "venue": data.venue,
        "city": data.city,
        "country": data.country or "",
        "category": data.category,
        "genre": data.genre,
        "public_url": data.public_url or "",
        "currency": data.currency or client.currency,
        "status": data.status,
    }
    slug_owner = (
        MarketplaceEvent.objects.filter(client=client, slug=data.slug)
        .exclude(external_id=data.external_id)
        .values_list("external_id", flat=True)
        .first()
    )
    if slug_owner is not None:
        raise InvalidInput(
            [*PAYLOAD_LOC, "slug"], f"slug {data.slug!r} is already used by event {slug_owner!r}"
        )
    try:
        with transaction.atomic():
            return _upsert(MarketplaceEvent, client, data.external_id, values)
    except IntegrityError as exc:  # a concurrent upsert took the slug between check and write
        raise InvalidInput([*PAYLOAD_LOC, "slug"], f"slug {data.slug!r} is already used") from exc


def upsert_events(client: MarketplaceClient, items: Sequence[EventIn]) -> list[UpsertResult]:
    return _run_batch(items, lambda item: upsert_event(client, item), [*PAYLOAD_LOC, "items"])


# --- orders ---


def hash_customer(customer: CustomerIn) -> dict[str, dict[str, dict[str, str]]]:
    """The customer's data as each platform's API takes it, keyed by API then platform.

    The platforms disagree (Meta wants phones without `+`, Google strips dots from
    gmail addresses, audiences and conversions differ...), and the plaintext is not
    kept, so every variant is made now. Identifiers are hashed; what a platform requires
    in clear (Google's city/zip/country) stays in clear.
    """
    raw = customer.model_dump(exclude_none=True)
    variants: dict[str, dict[str, dict[str, str]]] = {}
    for platform, api in USER_DATA_VARIANTS:
        fields = normalize_user_data(platform, raw, api)
        if fields:
            variants.setdefault(api, {})[platform] = fields
    return variants


def fbc_from_fbclid(fbclid: str, clicked_at_ms: int) -> str:
    """Meta's `_fbc` format, built server-side when only the fbclid reached the core."""
    return f"fb.1.{clicked_at_ms}.{fbclid}"


def _attribution_values(attribution: AttributionIn, placed_at: datetime) -> dict[str, Any]:
    values = attribution.model_dump(exclude={"fbclid", "consent", "client_ip"})
    values["client_ip"] = str(attribution.client_ip) if attribution.client_ip else None
    if attribution.consent is not None:
        values["consent"] = attribution.consent.model_dump(exclude_none=True)
    if not values["fbc"] and attribution.fbclid:
        values["fbc"] = fbc_from_fbclid(attribution.fbclid, int(placed_at.timestamp() * 1000))
    return values


def upsert_order(client: MarketplaceClient, data: OrderIn) -> UpsertResult:
    event = (
        MarketplaceEvent.objects.select_related("organizer")
        .filter(client=client, external_id=data.event_external_id)
        .first()
    )
    if event is None:
        raise InvalidInput(
            [*PAYLOAD_LOC, "event_external_id"],
            f"no event with external id {data.event_external_id!r}",
        )
    values: dict[str, Any] = {
        "organizer": event.organizer,
        "event": event,
        "value": data.value,
        "currency": data.currency,
        "tickets_count": data.tickets_count,
        "status": data.status,
        "placed_at": data.placed_at,
    }
    # A later update (say, a refund) may omit what the first upload carried: keep it then.
    if data.customer is not None:
        values["hashed_user_data"] = hash_customer(data.customer)
        values["customer_country"] = data.customer.country or ""
    if data.attribution is not None:
        values.update(_attribution_values(data.attribution, data.placed_at))
    with transaction.atomic():
        return _upsert(Order, client, data.external_id, values)


def upsert_orders(client: MarketplaceClient, items: Iterable[OrderIn]) -> list[UpsertResult]:
    return _run_batch(list(items), lambda item: upsert_order(client, item), [*PAYLOAD_LOC, "items"])
