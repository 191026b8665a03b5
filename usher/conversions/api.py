"""The organizer's view of server-side delivery: per code, what was delivered and what
failed (and why), plus the recent failures themselves."""

from dataclasses import asdict
from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.services import NO_DELIVERIES, status_for_codes
from usher.lib.errors import error_responses
from usher.marketplace.auth import OrganizerTokenAuth
from usher.tracking.models import EventTrackingCode

conversions_router = Router(auth=OrganizerTokenAuth(), tags=["conversions"])


class CodeStatusOut(Schema):
    code_id: int
    provider: str
    tag_id: str
    # Two different things were both called `event_id`; each name now says which.
    marketplace_event_id: int | None = Field(
        description="The code's event (one of yours); null for your default code."
    )
    delivered: int
    pending: int
    rejected: int
    dead: int
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None


class DeliveryOut(Schema):
    id: int
    code_id: int | None
    provider: str
    conversion_event_id: str = Field(
        description=(
            "The conversion's id shared with the browser pixels (`order-<id>` for a "
            "purchase), which the platforms deduplicate on."
        )
    )
    event_name: str
    status: str
    attempts: int
    last_error: str
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @staticmethod
    def resolve_code_id(row: ConversionDelivery) -> int | None:
        return row.organizer_code_id

    @staticmethod
    def resolve_conversion_event_id(row: ConversionDelivery) -> str:
        return row.event_id


@conversions_router.get(
    "/status",
    response={200: list[CodeStatusOut], **error_responses(401)},
    summary="Server-side delivery status per code",
)
def delivery_status(request: HttpRequest):
    codes = list(EventTrackingCode.objects.for_organizer(request.auth))
    statuses = status_for_codes(code.pk for code in codes)
    return [
        {
            "code_id": code.pk,
            "provider": code.provider,
            "tag_id": code.tag_id,
            "marketplace_event_id": code.event_id,
            **asdict(statuses.get(code.pk, NO_DELIVERIES)),
        }
        for code in codes
    ]


@conversions_router.get(
    "/deliveries",
    response={200: list[DeliveryOut], **error_responses(401)},
    summary="The organizer's deliveries, newest first",
)
@paginate
def list_deliveries(
    request: HttpRequest, status: DeliveryStatus | None = None, code_id: int | None = None
):
    rows = ConversionDelivery.objects.for_organizer(request.auth).filter(
        organizer_code__isnull=False
    )
    if status:
        rows = rows.filter(status=status)
    if code_id is not None:
        rows = rows.filter(organizer_code_id=code_id)
    return rows.order_by("-created_at")
