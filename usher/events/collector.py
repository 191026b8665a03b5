"""The browser event collector: validates what tracker.js posts and stores it in bulk.

A batch is all-or-nothing: any invalid event (unknown name, bad type, an event slug
of another client) rejects it and nothing is stored. A batch is stored with one
statement (its events and landings), committed before the endpoint answers; the site
key's client and the pages a batch names are remembered per process until they change
(`usher.lib.client_cache`), so a busy page's requests cost no lookup. Stored events are
announced through `events_collected` once committed; the conversions app listens and
fans them out to the server-side destinations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeVar

import django.dispatch
from django.db import transaction
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from usher.events.models import TrackingEvent, VisitorTouch
from usher.lib.client_cache import fetch_remembered, recall
from usher.lib.errors import InvalidInput
from usher.lib.inserts import insert_ignoring_conflicts
from usher.lib.validation import UtcDatetime
from usher.marketplace.models import (
    AdClickAttribution,
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
)
from usher.marketplace.schemas import Currency
from usher.marketplace.services import client_by_site_key

MAX_EVENTS_PER_REQUEST = 50
M = TypeVar("M", MarketplaceEvent, MarketplaceOrganizer)
ORDER_EVENT_ID_PREFIX = "order-"
CENT = Decimal("0.01")
MAX_BODY_BYTES = 64 * 1024
# Browser clocks drift; a time outside this window is replaced by the time of receipt.
CLIENT_CLOCK_PAST_TOLERANCE = timedelta(hours=24)
CLICK_MAX_AGE = timedelta(days=90)  # Meta's attribution window is far shorter
USER_AGENT_MAX_CHARS = 500

# sender=None; kwargs: client_id, event_ids (the batch's ids, new or resent).
events_collected = django.dispatch.Signal()

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
# Pixel event ids are UUIDs, or `order-<the core's order id>` on the thank-you page: any
# visible characters but quotes and angle brackets (they end up in JSON and admin pages).
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\s<>\"']+$"
    ),
]


class Strict(BaseModel):
    # Unknown keys are refused too: a typo should fail loudly, not silently drop data.
    model_config = ConfigDict(extra="forbid")


class ClickIds(Strict):
    fbclid: Annotated[str, StringConstraints(max_length=450)] = ""
    gclid: Text = ""
    gbraid: Text = ""
    wbraid: Text = ""
    ttclid: Text = ""
    clicked_at: UtcDatetime | None = None


class Cookies(Strict):
    fbc: Annotated[str, StringConstraints(max_length=500, pattern=r"^(fb\.\d+\.\d{13}\..+)?$")] = ""
    fbp: Annotated[str, StringConstraints(max_length=200, pattern=r"^(fb\.\d+\.\d{13}\.\d+)?$")] = (
        ""
    )
    ttp: Text = ""
    # GA's `_ga` cookie, GA1.<domain depth>.<random>.<first visit>; the last two parts
    # are the client id the Measurement Protocol wants.
    ga: Annotated[str, StringConstraints(max_length=100, pattern=r"^(GA\d\.\d+\.\d+\.\d+)?$")] = ""

    @property
    def ga_client_id(self) -> str:
        return ".".join(self.ga.split(".")[2:]) if self.ga else ""


class Utm(Strict):
    source: Text = ""
    medium: Text = ""
    campaign: Text = ""
    content: Text = ""
    term: Text = ""


class Consent(Strict):
    ad_storage: bool | None = None
    analytics_storage: bool | None = None
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


class CollectedEvent(Strict):
    event_id: Identifier
    name: Literal["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]
    time: UtcDatetime | None = Field(
        None, description="When it happened (ISO 8601 with a zone, or epoch ms)."
    )
    event: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="The marketplace event's slug, when the page is an event's."
    )
    organizer: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="The organizer's external id, on an organizer's profile page."
    )
    visitor_id: Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9._-]*$")] = ""
    page_url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^(https?://\S+)?$")] = ""
    value: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    # `order-<id>` is the purchase's id on the thank-you page; no other event may take it,
    # or a forged page view could stand in for (and swallow) the order's conversion.
    currency: Currency | None = None
    content_ids: list[Text] = Field(default_factory=list, max_length=50)
    num_items: int | None = Field(None, ge=0, le=10_000)
    order_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    click: ClickIds = Field(default_factory=ClickIds)
    cookies: Cookies = Field(default_factory=Cookies)
    utm: Utm = Field(default_factory=Utm)
    consent: Consent = Field(default_factory=Consent)

    @field_validator("value", mode="before")
    @classmethod
    def _to_cents(cls, value: object) -> object:
        """Browsers compute prices in floats (19.999999999999); round, don't refuse."""
        if isinstance(value, float | int | str) and not isinstance(value, bool):
            try:
                return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
            except (InvalidOperation, ValueError):
                return value  # the field's own validation names the problem
        return value

    @model_validator(mode="after")
    def _order_ids_are_purchases(self) -> CollectedEvent:
        if self.event_id.startswith(ORDER_EVENT_ID_PREFIX) and self.name != "purchase":
            raise ValueError(f"event ids starting with {ORDER_EVENT_ID_PREFIX!r} are purchases'")
        return self


class CollectBatch(Strict):
    events: list[CollectedEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)
    site_key: str | None = None


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None
    user_agent: str
    received_at: datetime


def _event_time(sent: datetime | None, received_at: datetime) -> datetime:
    """The browser's time, unless its clock is off: never later than receipt (platforms
    reject future times), never older than the tolerance."""
    if sent is None or sent < received_at - CLIENT_CLOCK_PAST_TOLERANCE:
        return received_at
    return min(sent, received_at)


def _fbc(event: CollectedEvent, occurred_at: datetime) -> str:
    """Meta's `_fbc`: the cookie if the pixel set one, else built from the landing's fbclid."""
    if event.cookies.fbc:
        return event.cookies.fbc
    if not event.click.fbclid:
        return ""
    clicked_at = event.click.clicked_at
    if clicked_at is None or not occurred_at - CLICK_MAX_AGE <= clicked_at <= occurred_at:
        clicked_at = occurred_at  # a click after the event, or from another era, is a bad clock
    return f"fb.1.{int(clicked_at.timestamp() * 1000)}.{event.click.fbclid}"


def remembered_client(site_key: object) -> MarketplaceClient | None:
    """The active client of `site_key` if this process looked it up before and nothing
    changed since: no query, and no round trip while the process hears of changes
    (`usher.lib.client_cache`); None when unknown here."""
    return recall(("collector:client", site_key)) if isinstance(site_key, str) else None


def client_for_site_key(site_key: object) -> MarketplaceClient | None:
    """The active client a browser call's site key names, or None; remembered by this
    process until the client changes."""
    if not isinstance(site_key, str):
        return None
    return fetch_remembered(
        ("collector:client", site_key), lambda: client_by_site_key(site_key), lambda c: c.pk
    )


def _remembered_row(model: type[M], client_id: int, **lookup: str) -> M | None:
    """The client's row of `model` matching `lookup` (its slug, its external id), as
    this process remembers it; a query when it does not."""
    return fetch_remembered(
        ("collector", model.__name__, client_id, *lookup.items()),
        lambda: model.objects.filter(client_id=client_id, **lookup).first(),
        lambda row: row.client_id,
    )


# What a collected event may name: its attribute, the model and the field it names.
PAGE_LOOKUPS = (
    ("event", MarketplaceEvent, "slug"),
    ("organizer", MarketplaceOrganizer, "external_id"),
)


def _pages(
    client: MarketplaceClient, events: Sequence[CollectedEvent]
) -> tuple[dict[str, MarketplaceEvent], dict[str, MarketplaceOrganizer]]:
    """The event pages and organizer profiles the batch names, as this process
    remembers them (a query for each one it does not); a name of another marketplace
    (or of nothing) rejects the batch."""
    found: dict[str, dict] = {"event": {}, "organizer": {}}
    for index, event in enumerate(events):
        for attribute, model, field in PAGE_LOOKUPS:
            name = getattr(event, attribute)
            if not name or name in found[attribute]:
                continue
            row = _remembered_row(model, client.pk, **{field: name})
            if row is None:
                raise InvalidInput(
                    ["body", "events", index, attribute],
                    f"no {attribute} {name!r} in this marketplace",
                )
            found[attribute][name] = row
    return found["event"], found["organizer"]


def _touch(client: MarketplaceClient, row: dict[str, Any]) -> dict[str, Any] | None:
    """A landing with click ids or campaign tags; the same marks twice are one touch."""
    marks = {name: row[name] for name in AdClickAttribution.FIELD_NAMES}
    if not row["visitor_id"] or not any(marks.values()):
        return None
    digest = hashlib.sha256("\x1f".join(marks.values()).encode()).hexdigest()
    return {
        "client_id": client.pk,
        "visitor_id": row["visitor_id"],
        "touched_at": row["occurred_at"],
        "marketplace_event_id": row["marketplace_event_id"],
        "landing_url": row["page_url"],
        "touch_key": digest,
        **marks,
    }


def store_events(client: MarketplaceClient, batch: CollectBatch, context: RequestContext) -> int:
    """Validate references and store the batch in bulk; returns how many events it held."""
    pages, profiles = _pages(client, batch.events)
    user_agent = context.user_agent[:USER_AGENT_MAX_CHARS]
    rows = []
    for event in batch.events:
        occurred_at = _event_time(event.time, context.received_at)
        page_event = pages.get(event.event) if event.event else None
        profile = profiles.get(event.organizer) if event.organizer else None
        click, cookies, utm = event.click, event.cookies, event.utm
        rows.append(
            {
                "client_id": client.pk,
                "marketplace_event_id": getattr(page_event, "pk", None),
                "organizer_id": page_event.organizer_id
                if page_event
                else getattr(profile, "pk", None),
                "event_id": event.event_id,
                "name": event.name,
                "occurred_at": occurred_at,
                "visitor_id": event.visitor_id,
                "page_url": event.page_url,
                "ip_address": context.ip_address,
                "user_agent": user_agent,
                "value": event.value,
                "currency": event.currency or "",
                "content_ids": event.content_ids,
                "num_items": event.num_items,
                "order_external_id": event.order_id,
                "fbc": _fbc(event, occurred_at),
                "fbp": cookies.fbp,
                "gclid": click.gclid,
                "gbraid": click.gbraid,
                "wbraid": click.wbraid,
                "ttclid": click.ttclid,
                "ttp": cookies.ttp,
                "ga_client_id": cookies.ga_client_id,
                "utm_source": utm.source,
                "utm_medium": utm.medium,
                "utm_campaign": utm.campaign,
                "utm_content": utm.content,
                "utm_term": utm.term,
                "consent": event.consent.model_dump(exclude_none=True),
            }
        )
    touches = [touch for row in rows if (touch := _touch(client, row)) is not None]
    event_ids = [row["event_id"] for row in rows]
    # One statement, committed when it returns (outside a caller's transaction): a resent
    # event (same event_id) is stored once, the first copy wins; a touch seen before too.
    insert_ignoring_conflicts((TrackingEvent, rows), (VisitorTouch, touches))

    # robust: a broker outage must not turn stored events into a 500; the sweep
    # fans out whatever was not announced (TrackingEvent.fanned_out_at).
    def announce() -> None:  # named: Django logs a robust callback's __qualname__
        events_collected.send(sender=None, client_id=client.pk, event_ids=event_ids)

    transaction.on_commit(announce, robust=True)
    return len(rows)
