"""Request and response schemas of the ingest and organizer APIs.

Validation happens here, before anything touches the database: a bad field answers 422
naming it. Limits (lengths, ranges) mirror the model columns so no write can fail later.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import (
    BeforeValidator,
    Field,
    IPvAnyAddress,
    StringConstraints,
    model_validator,
)

from usher.lib.validation import UtcDatetime
from usher.marketplace.models import (
    EVENT_DESCRIPTION_MAX_CHARS,
    EventStatus,
    OrderStatus,
    OrganizerStatus,
)

ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^\S+$")
]
# An organizer's id is a path segment of its tracking-config URL and profile page: a `/`
# (even sent as %2F, which servers decode) could never be routed there.
OrganizerExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\s/]+$"),
]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


# Pydantic checks `pattern` before `to_upper`, so codes are upper-cased first.
Currency = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]
Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://\S+$")
]
Token = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
# A ticket price: the model's 12 digits with 2 decimals, never negative.
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


# One batch is one transaction; past this the core should split its upload.
INGEST_MAX_BATCH_ITEMS = 500
MAX_TICKETS_PER_ORDER = 100_000
MAX_TICKETS_LEFT = 10_000_000
# An order holds one line per ticket type; a page of ticket types is far below this.
MAX_LINES_PER_ORDER = 50


class OrganizerIn(Schema):
    external_id: OrganizerExternalId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = ""
    website: Url | None = None
    status: OrganizerStatus = OrganizerStatus.ACTIVE


class EventIn(Schema):
    external_id: ExternalId
    organizer_external_id: ExternalId
    slug: Slug = Field(min_length=1)
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    venue: ShortText = ""
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""
    country: Country | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    genre: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] = ""
    public_url: Url | None = None
    currency: Currency | None = Field(None, description="Defaults to the client's currency.")
    status: EventStatus = EventStatus.DRAFT
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=EVENT_DESCRIPTION_MAX_CHARS)
    ] = ""
    image_url: Url | None = Field(None, description="The event's poster, for catalog ads.")
    price_min: Price | None = Field(None, description="The cheapest ticket on sale.")
    price_max: Price | None = Field(None, description="The dearest ticket on sale.")
    tickets_left: Annotated[int, Field(ge=0, le=MAX_TICKETS_LEFT)] | None = Field(
        None, description="Tickets still on sale; 0 is sold out, absent is unknown."
    )

    @model_validator(mode="after")
    def ends_after_start(self) -> EventIn:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at must not be before starts_at")
        return self

    @model_validator(mode="after")
    def price_range_ordered(self) -> EventIn:
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_max < self.price_min
        ):
            raise ValueError("price_max must not be below price_min")
        return self


class CustomerIn(Schema):
    """The buyer's data. Normalized and hashed on the way in; the plaintext is dropped."""

    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    zip: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Country | None = None
    external_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    gender: Annotated[str, StringConstraints(max_length=20)] | None = None
    date_of_birth: Annotated[str, StringConstraints(max_length=20)] | None = None


class ConsentIn(Schema):
    """The visitor's choices (Google Consent Mode v2 names); absent means not granted."""

    ad_storage: bool | None = None
    analytics_storage: bool | None = None
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None


class AttributionIn(Schema):
    """What the checkout page saw: visitor id, click ids, platform cookies and UTM."""

    visitor_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    fbclid: Annotated[str, StringConstraints(strip_whitespace=True, max_length=450)] = ""
    fbc: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    fbp: Token = ""
    gclid: Token = ""
    gbraid: Token = ""
    wbraid: Token = ""
    ttclid: Token = ""
    ttp: Token = ""
    utm_source: Token = ""
    utm_medium: Token = ""
    utm_campaign: Token = ""
    utm_content: Token = ""
    utm_term: Token = ""
    client_ip: IPvAnyAddress | None = Field(None, description="The buyer's IP at checkout.")
    user_agent: Annotated[str, StringConstraints(max_length=500)] = Field(
        "", description="The buyer's browser user agent at checkout."
    )
    consent: ConsentIn | None = None


class OrderLineIn(Schema):
    """One ticket line: a ticket type of the event, how many, at what unit price."""

    ticket_type_id: ExternalId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: int = Field(ge=1, le=MAX_TICKETS_PER_ORDER)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class OrderIn(Schema):
    external_id: ExternalId
    event_external_id: ExternalId
    value: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: Currency
    tickets_count: int = Field(
        1,
        ge=1,
        le=MAX_TICKETS_PER_ORDER,
        description="Defaults to the lines' quantities when lines are sent, else 1.",
    )
    status: OrderStatus = OrderStatus.PAID
    placed_at: UtcDatetime
    customer: CustomerIn | None = None
    attribution: AttributionIn | None = None
    lines: list[OrderLineIn] | None = Field(
        None,
        max_length=MAX_LINES_PER_ORDER,
        description=(
            "The order's ticket lines, one per ticket type; omitted keeps the stored ones, "
            "an empty list removes them."
        ),
    )

    @model_validator(mode="after")
    def lines_match_tickets_count(self) -> OrderIn:
        if not self.lines:
            return self
        types = [line.ticket_type_id for line in self.lines]
        if len(set(types)) != len(types):
            raise ValueError("lines: each ticket_type_id may appear once")
        quantity = sum(line.quantity for line in self.lines)
        if "tickets_count" not in self.model_fields_set:
            if quantity > MAX_TICKETS_PER_ORDER:
                raise ValueError(f"lines: at most {MAX_TICKETS_PER_ORDER} tickets in all")
            self.tickets_count = quantity
        elif self.tickets_count != quantity:
            raise ValueError(
                f"tickets_count ({self.tickets_count}) must equal the lines' quantities "
                f"({quantity})"
            )
        return self


class OrganizerBatchIn(Schema):
    items: list[OrganizerIn] = Field(min_length=1, max_length=INGEST_MAX_BATCH_ITEMS)


class EventBatchIn(Schema):
    items: list[EventIn] = Field(min_length=1, max_length=INGEST_MAX_BATCH_ITEMS)


class OrderBatchIn(Schema):
    items: list[OrderIn] = Field(min_length=1, max_length=INGEST_MAX_BATCH_ITEMS)


class UpsertOut(Schema):
    id: int
    external_id: str
    created: bool
    changed: bool


class BatchOut(Schema):
    results: list[UpsertOut]
    created: int
    changed: int
    unchanged: int


class OrganizerOut(Schema):
    id: int
    external_id: str
    name: str
    email: str
    website: str
    status: str


class EventOut(Schema):
    id: int
    external_id: str
    slug: str
    name: str
    starts_at: datetime
    ends_at: datetime | None
    venue: str
    city: str
    country: str
    category: str
    genre: str
    public_url: str
    currency: str
    status: str
    description: str
    image_url: str
    price_min: Decimal | None
    price_max: Decimal | None
    tickets_left: int | None


class OrderOut(Schema):
    id: int
    external_id: str
    event_id: int
    value: Decimal
    currency: str
    tickets_count: int
    status: str
    placed_at: datetime
