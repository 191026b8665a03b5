"""Ingest: idempotent upserts of organizers, events and orders from the ticketing core.

Each upsert is keyed by (client, external_id). A row is written only when a field
actually changes, so sending the same payload twice changes nothing (not even
`updated_at`). A batch runs in one transaction: one bad item rejects the batch with the
item named, and nothing is written.

Batches are set-based: the rows a batch names are read in one query (locked), compared
in memory, and written with one bulk insert and one bulk update per model (plus two for
order lines), so a batch of 500 costs a bounded number of queries, not ~6 per item. A
single upsert is a batch of one. Every created or changed row then gets Django's
`post_save` (with `created` and the changed `update_fields`), once per row, as a `save()`
would send it: receivers (the conversions fan-out of paid orders, campaign attribution,
the tracking-config cache) work unchanged, and must only queue work on commit, since
they run once per row of the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.db import IntegrityError, models, router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from usher.lib.errors import InvalidInput
from usher.lib.validation import NUL
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    OrderLine,
)
from usher.marketplace.schemas import (
    AttributionIn,
    CustomerIn,
    EventIn,
    OrderIn,
    OrderLineIn,
    OrganizerIn,
)
from usher.platforms import normalize_user_data
from usher.platforms.normalize import RULES as USER_DATA_VARIANTS

ItemT = TypeVar("ItemT")
ModelT = TypeVar("ModelT", bound=models.Model)
# Rows per INSERT/UPDATE statement: a 500-item batch is one statement each.
BULK_BATCH_SIZE = 500
# Where request-body fields sit in django-ninja's error locations; ours use the same shape.
PAYLOAD_LOC = ("body", "payload")


def client_by_site_key(key: object) -> MarketplaceClient | None:
    """The active marketplace client a browser call's public site key names, or None.

    A key with a NUL (possible in a header) names none, and PostgreSQL could not even
    compare it: asked, it would fail the request with a 500."""
    if not isinstance(key, str) or not key or NUL in key:
        return None
    return MarketplaceClient.objects.filter(site_key=key, is_active=True).first()


@dataclass(frozen=True)
class UpsertResult:
    id: int
    external_id: str
    created: bool
    changed: bool


class ItemError(Exception):
    """A batch item the database side refused: its index, field and reason."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message


@dataclass
class _Row:
    """One row of the batch as it will be after the batch: the model instance, whether
    it is new, and which fields the batch changed."""

    instance: models.Model
    created: bool
    changed: set[str] = field(default_factory=set)


@dataclass
class Upserted:
    """What a set-based upsert wrote: a result per item, and each distinct row."""

    results: list[UpsertResult]
    rows: dict[str, _Row]


def _bulk_upsert(
    model: type[ModelT],
    client: MarketplaceClient,
    items: Sequence[tuple[str, dict[str, Any]]],
    *,
    extra_changes: Callable[[dict[str, _Row]], set[str]] | None = None,
) -> Upserted:
    """Create or update rows by (client, external_id) in a few statements.

    Items are applied in order, as one-by-one upserts would be: a later item for the
    same external id updates what an earlier one wrote. Only changed fields are
    written, with `updated_at`; unchanged rows are not touched. `extra_changes` marks
    rows changed by something besides their columns (an order's lines); it returns
    their external ids. Must run inside a transaction.
    """
    external_ids = {external_id for external_id, _ in items}
    existing = {
        row.external_id: row
        for row in model.objects.select_for_update().filter(
            client=client, external_id__in=external_ids
        )
    }
    rows: dict[str, _Row] = {}
    outcomes: list[tuple[str, bool, bool]] = []
    for external_id, values in items:
        row = rows.get(external_id)
        if row is None and external_id not in existing:
            instance = model(client=client, external_id=external_id, **values)
            rows[external_id] = _Row(instance, created=True)
            outcomes.append((external_id, True, True))
            continue
        if row is None:
            row = rows[external_id] = _Row(existing[external_id], created=False)
        diff = [name for name, value in values.items() if _differs(row.instance, name, value)]
        for name in diff:
            setattr(row.instance, name, values[name])
        row.changed.update(diff)
        outcomes.append((external_id, False, bool(diff)))
    touched = extra_changes(rows) if extra_changes else set()
    for external_id in touched:
        rows[external_id].changed.add("updated_at")
    created = [row.instance for row in rows.values() if row.created]
    changed = [row for row in rows.values() if not row.created and row.changed]
    model.objects.bulk_create(created, batch_size=BULK_BATCH_SIZE)
    if changed:
        now = timezone.now()
        for row in changed:
            row.instance.updated_at = now
            row.changed.add("updated_at")
        fields = sorted(set().union(*(row.changed for row in changed)))
        model.objects.bulk_update(
            [row.instance for row in changed], fields, batch_size=BULK_BATCH_SIZE
        )
    results = [
        UpsertResult(
            rows[external_id].instance.pk,
            external_id,
            created=was_created,
            changed=was_changed or (not was_created and external_id in touched),
        )
        for external_id, was_created, was_changed in outcomes
    ]
    return Upserted(results, rows)


def _differs(instance: models.Model, name: str, value: Any) -> bool:
    """Whether setting `name` to `value` changes the row; a foreign key is compared by
    id, so that comparing does not load the related row (a query per item)."""
    field = instance._meta.get_field(name)
    if field.is_relation and isinstance(value, models.Model):
        return getattr(instance, field.attname) != value.pk
    return getattr(instance, name) != value


def _announce(model: type[models.Model], rows: Iterable[_Row]) -> None:
    """`post_save` once per created or changed row, as `Model.save()` sends it."""
    using = router.db_for_write(model)
    for row in rows:
        if row.created or row.changed:
            post_save.send(
                sender=model,
                instance=row.instance,
                created=row.created,
                update_fields=None if row.created else frozenset(row.changed),
                raw=False,
                using=using,
            )


def _run_batch(
    items: Sequence[ItemT],
    upsert: Callable[[Sequence[ItemT]], list[UpsertResult]],
    loc_of: Callable[[int, str], list[str | int]],
) -> list[UpsertResult]:
    """Upsert every item in one transaction; an error names the item it came from.

    A concurrent upsert inserting one of the same rows first (a unique key taken between
    our read and our insert) costs one more attempt, which then sees that row.
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return upsert(items)
        except ItemError as exc:
            raise InvalidInput(loc_of(exc.index, exc.field), exc.message) from exc
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _single(upsert: Callable[[Sequence[ItemT]], list[UpsertResult]], item: ItemT) -> UpsertResult:
    """One item through the batch path; its errors name the payload's own field."""
    return _run_batch([item], upsert, lambda index, name: [*PAYLOAD_LOC, name])[0]


def _in_items(index: int, name: str) -> list[str | int]:
    return [*PAYLOAD_LOC, "items", index, name]


# --- organizers ---


def _upsert_organizers(
    client: MarketplaceClient, items: Sequence[OrganizerIn]
) -> list[UpsertResult]:
    values = [
        (
            data.external_id,
            {
                "name": data.name,
                "email": data.email,
                "website": data.website or "",
                "status": data.status,
            },
        )
        for data in items
    ]
    upserted = _bulk_upsert(MarketplaceOrganizer, client, values)
    _announce(MarketplaceOrganizer, upserted.rows.values())
    return upserted.results


def upsert_organizer(client: MarketplaceClient, data: OrganizerIn) -> UpsertResult:
    return _single(lambda items: _upsert_organizers(client, items), data)


def upsert_organizers(
    client: MarketplaceClient, items: Sequence[OrganizerIn]
) -> list[UpsertResult]:
    return _run_batch(items, lambda batch: _upsert_organizers(client, batch), _in_items)


# --- events ---


def _referenced(
    rows: models.QuerySet[ModelT], items: Sequence[Any], reference: str, what: str
) -> list[ModelT]:
    """The row each item names by its `reference` field (an external id), read in one
    query; an item naming no row is refused on that field."""
    wanted = {getattr(item, reference) for item in items}
    found = {row.external_id: row for row in rows.filter(external_id__in=wanted)}
    referenced = []
    for index, item in enumerate(items):
        external_id = getattr(item, reference)
        if external_id not in found:
            raise ItemError(index, reference, f"no {what} with external id {external_id!r}")
        referenced.append(found[external_id])
    return referenced


def _check_slugs(client: MarketplaceClient, items: Sequence[EventIn]) -> None:
    """Each slug names one event: not another event's already, nor twice in the batch."""
    owners = dict(
        MarketplaceEvent.objects.filter(client=client, slug__in={item.slug for item in items})
        .exclude(external_id__in={item.external_id for item in items})
        .values_list("slug", "external_id")
    )
    claimed: dict[str, str] = {}
    for index, item in enumerate(items):
        owner = owners.get(item.slug) or claimed.get(item.slug)
        if owner is not None and owner != item.external_id:
            raise ItemError(index, "slug", f"slug {item.slug!r} is already used by event {owner!r}")
        claimed[item.slug] = item.external_id


def _upsert_events(client: MarketplaceClient, items: Sequence[EventIn]) -> list[UpsertResult]:
    organizers = _referenced(
        MarketplaceOrganizer.objects.filter(client=client),
        items,
        "organizer_external_id",
        "organizer",
    )
    values = []
    for data, organizer in zip(items, organizers, strict=True):
        values.append(
            (
                data.external_id,
                {
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
                    "description": data.description,
                    "image_url": data.image_url or "",
                    "price_min": data.price_min,
                    "price_max": data.price_max,
                    "tickets_left": data.tickets_left,
                },
            )
        )
    _check_slugs(client, items)
    upserted = _bulk_upsert(MarketplaceEvent, client, values)
    _announce(MarketplaceEvent, upserted.rows.values())
    return upserted.results


def _upsert_events_or_slug_conflict(
    client: MarketplaceClient, items: Sequence[EventIn]
) -> list[UpsertResult]:
    try:
        with transaction.atomic():
            return _upsert_events(client, items)
    except IntegrityError as exc:
        # A concurrent upsert took a slug between the check and the write.
        taken = MarketplaceEvent.objects.filter(
            client=client, slug__in={item.slug for item in items}
        ).exclude(external_id__in={item.external_id for item in items})
        slugs = set(taken.values_list("slug", flat=True))
        index = next((i for i, item in enumerate(items) if item.slug in slugs), None)
        if index is None:
            raise
        raise ItemError(index, "slug", f"slug {items[index].slug!r} is already used") from exc


def upsert_event(client: MarketplaceClient, data: EventIn) -> UpsertResult:
    return _single(lambda items: _upsert_events_or_slug_conflict(client, items), data)


def upsert_events(client: MarketplaceClient, items: Sequence[EventIn]) -> list[UpsertResult]:
    return _run_batch(
        items, lambda batch: _upsert_events_or_slug_conflict(client, batch), _in_items
    )


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


def _order_values(data: OrderIn, event: MarketplaceEvent) -> dict[str, Any]:
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
    return values


def _line_tuples(lines: Sequence[OrderLineIn]) -> list[tuple[str, str, int, Any]]:
    return [(line.ticket_type_id, line.name, line.quantity, line.unit_price) for line in lines]


def _replace_changed_lines(items: Sequence[OrderIn], rows: dict[str, _Row]) -> set[str]:
    """Write the lines of the orders whose lines differ from what is stored (the last
    item of an order wins); returns those orders' external ids. Two queries at most
    besides the read: one delete, one insert."""
    wanted = {
        item.external_id: _line_tuples(item.lines) for item in items if item.lines is not None
    }
    if not wanted:
        return set()
    stored_ids = [rows[eid].instance.pk for eid in wanted if not rows[eid].created]
    stored: dict[int, list[tuple[str, str, int, Any]]] = {}
    for line in OrderLine.objects.filter(order_id__in=stored_ids).order_by("order_id", "position"):
        stored.setdefault(line.order_id, []).append(line.as_tuple())
    differ = {
        eid
        for eid, lines in wanted.items()
        if rows[eid].created or stored.get(rows[eid].instance.pk, []) != lines
    }
    return differ


def _write_lines(items: Sequence[OrderIn], rows: dict[str, _Row], orders: set[str]) -> None:
    if not orders:
        return
    wanted = {item.external_id: item.lines or [] for item in items if item.external_id in orders}
    OrderLine.objects.filter(order_id__in=[rows[eid].instance.pk for eid in orders]).delete()
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order_id=rows[eid].instance.pk,
                position=position,
                ticket_type_id=line.ticket_type_id,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for eid, lines in wanted.items()
            for position, line in enumerate(lines)
        ],
        batch_size=BULK_BATCH_SIZE,
    )


def _upsert_orders(client: MarketplaceClient, items: Sequence[OrderIn]) -> list[UpsertResult]:
    events = _referenced(
        MarketplaceEvent.objects.select_related("organizer").filter(client=client),
        items,
        "event_external_id",
        "event",
    )
    values = []
    for data, event in zip(items, events, strict=True):
        values.append((data.external_id, _order_values(data, event)))
    lines_changed: set[str] = set()

    def lines_differ(rows: dict[str, _Row]) -> set[str]:
        lines_changed.update(_replace_changed_lines(items, rows))
        return lines_changed

    upserted = _bulk_upsert(Order, client, values, extra_changes=lines_differ)
    _write_lines(items, upserted.rows, lines_changed)
    _announce(Order, upserted.rows.values())
    return upserted.results


def upsert_order(client: MarketplaceClient, data: OrderIn) -> UpsertResult:
    return _single(lambda items: _upsert_orders(client, items), data)


def upsert_orders(client: MarketplaceClient, items: Iterable[OrderIn]) -> list[UpsertResult]:
    return _run_batch(list(items), lambda batch: _upsert_orders(client, batch), _in_items)
