"""Forgetting a buyer (an erasure request the marketplace forwards): out of every
customer list, and out of the event store.

The marketplace sends the buyer's email and/or phone; Usher never kept them in clear,
so it hashes them the way each platform and API were hashed at ingest and finds the
buyer's orders and audience members by those hashes. In one transaction: the orders
keep their business facts (amount, event, date) but lose every personal field; the
browser events and landings of the buyer's visitor ids are deleted; the logged bodies of
the platform calls that carried their conversions are blanked; audience members are
marked for removal. The removals then go out with a
sync of each affected audience; the member rows, the last copy of the hashes, are
deleted as soon as the platform confirms. Rule-based pixel audiences live on the
platforms' side: the platforms honour erasure for their own pixel data.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from usher.audiences.models import AudienceMember, MemberState
from usher.conversions.services import erase_logged_requests
from usher.events.models import TrackingEvent, VisitorTouch
from usher.lib.errors import InvalidInput
from usher.marketplace.models import AdClickAttribution, MarketplaceClient, Order
from usher.platforms.normalize import RULES, normalize_user_data

IDENTITY_FIELDS = ("email", "phone")


@dataclass(frozen=True)
class ErasureResult:
    orders: int
    audience_members: int
    events: int
    touches: int
    delivery_logs: int
    audience_ids: tuple[int, ...]


def forget_buyer(
    client: MarketplaceClient, email: str | None, phone: str | None, country: str | None = None
) -> ErasureResult:
    """Erase the buyer with this email and/or phone from `client`'s data."""
    variants = _hash_variants(email, phone, country)
    if not variants:
        raise InvalidInput(("body",), "give a valid email or phone of the buyer to forget")
    matches = Q()
    for (platform, api), values in variants.items():
        for name, value in values.items():
            matches |= Q(**{f"hashed_user_data__{api}__{platform}__{name}": value})
    keys = {value for values in variants.values() for value in values.values()}
    with transaction.atomic():
        orders = Order.objects.select_for_update().filter(matches, client=client)
        found = list(orders.values_list("id", "external_id", "visitor_id"))
        order_ids = [row[0] for row in found]
        visitors = {row[2] for row in found if row[2]}
        buyers_events = TrackingEvent.objects.filter(
            Q(visitor_id__in=visitors) | Q(order_external_id__in=[row[1] for row in found]),
            client=client,
        )
        delivery_logs = erase_logged_requests(
            client.pk, order_ids, buyers_events.values_list("id", flat=True)
        )
        events, _ = buyers_events.delete()
        touches, _ = VisitorTouch.objects.filter(client=client, visitor_id__in=visitors).delete()
        Order.objects.filter(pk__in=order_ids).update(
            hashed_user_data={},
            customer_country="",
            visitor_id="",
            fbp="",
            ttp="",
            client_ip=None,
            user_agent="",
            consent={},
            **dict.fromkeys(AdClickAttribution.FIELD_NAMES, ""),
        )
        members = AudienceMember.objects.filter(audience__client=client, member_key__in=keys)
        audience_ids = tuple(sorted(set(members.values_list("audience_id", flat=True))))
        # All marked for removal, even those never sent: a sync may be sending them now,
        # and removing someone a list does not hold is harmless.
        leaving = members.update(state=MemberState.PENDING_REMOVE)
    return ErasureResult(
        orders=len(order_ids),
        audience_members=leaving,
        events=events,
        touches=touches,
        delivery_logs=delivery_logs,
        audience_ids=audience_ids,
    )


def _hash_variants(
    email: str | None, phone: str | None, country: str | None
) -> dict[tuple[str, str], dict[str, str]]:
    """The buyer's email/phone hashes in every (platform, api) form ingest stored."""
    raw = {"email": email, "phone": phone, "country": country}
    variants = {}
    for platform, api in RULES:
        values = {
            name: value
            for name, value in normalize_user_data(platform, raw, api).items()
            if name in IDENTITY_FIELDS
        }
        if values:
            variants[(platform, api)] = values
    return variants
