"""Audiences over the API: organizers list, read, create custom segments and refresh
their audiences; the marketplace forwards buyers' erasure requests."""

from datetime import datetime
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StringConstraints

from usher.audiences import services
from usher.audiences.erasure import forget_buyer
from usher.audiences.models import (
    AudiencePlatform,
    AudienceStatus,
    AudienceSyncLog,
    AudienceType,
    RefreshFrequency,
    RemarketingAudience,
)
from usher.audiences.tasks import refresh_audience_task
from usher.lib.errors import error_responses
from usher.lib.tenancy import get_for_organizer_or_404
from usher.marketplace.auth import ClientKeyAuth, OrganizerTokenAuth

audiences_router = Router(auth=OrganizerTokenAuth(), tags=["organizer audiences"])
erasure_router = Router(auth=ClientKeyAuth(), tags=["ingest"])

RECENT_SYNCS = 10


class AudienceOut(Schema):
    id: int
    name: str
    description: str
    platform: str
    audience_type: str
    event_id: int | None
    criteria: dict[str, Any]
    member_count: int = Field(description="Matchable people (lists) or visitors (pixel rules).")
    status: str
    status_reason: str = Field(description="Why the audience waits, when it does.")
    external_audience_id: str
    ad_account_id: str
    auto_refresh: bool
    refresh_frequency: str
    last_built_at: datetime | None
    last_synced_at: datetime | None
    expires_at: datetime | None
    created_at: datetime


class SyncLogOut(Schema):
    started_at: datetime
    finished_at: datetime | None
    status: str
    added_count: int
    removed_count: int
    message: str


class AudienceDetailOut(AudienceOut):
    recent_syncs: list[SyncLogOut]


class SegmentIn(Schema):
    platform: AudiencePlatform
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    event_id: int | None = None
    criteria: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "time_window_days (1-540) and custom_filters: min_spend, min_orders, "
            "max_days_since_last_order."
        ),
    )
    refresh_frequency: RefreshFrequency = RefreshFrequency.DAILY
    auto_refresh: bool = True
    expires_at: datetime | None = None
    ad_account_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")] = Field(
        "",
        description=(
            "The account to create it in (Meta ad account number, Google Ads customer id, "
            "TikTok advertiser id; digits only); default: your tracking code's."
        ),
    )


class RefreshOut(Schema):
    id: int
    queued: bool


class ErasureIn(Schema):
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = Field(
        None, description="ISO 3166-1 alpha-2, to read a national phone number."
    )


class ErasureOut(Schema):
    orders: int
    audience_members: int
    events: int
    touches: int
    delivery_logs: int = Field(description="Logged platform calls whose request was blanked.")


@audiences_router.get(
    "",
    response={200: list[AudienceOut], **error_responses(401)},
    summary="Your audiences, with size and sync status",
)
@paginate
def list_audiences(
    request: HttpRequest,
    platform: AudiencePlatform | None = None,
    status: AudienceStatus | None = None,
    audience_type: AudienceType | None = None,
):
    rows = RemarketingAudience.objects.for_organizer(request.auth)
    if platform is not None:
        rows = rows.filter(platform=platform)
    if status is not None:
        rows = rows.filter(status=status)
    if audience_type is not None:
        rows = rows.filter(audience_type=audience_type)
    return rows


@audiences_router.get(
    "/{audience_id}",
    response={200: AudienceDetailOut, **error_responses(401, 404)},
    summary="One audience and its recent syncs",
)
def get_audience(request: HttpRequest, audience_id: int):
    audience = get_for_organizer_or_404(RemarketingAudience, request.auth, pk=audience_id)
    audience.recent_syncs = list(AudienceSyncLog.objects.filter(audience=audience)[:RECENT_SYNCS])
    return audience


@audiences_router.post(
    "",
    response={201: AudienceOut, **error_responses(401)},
    summary="Create a custom segment of your buyers",
)
def create_segment(request: HttpRequest, payload: SegmentIn):
    data = services.SegmentInput(
        platform=payload.platform.value,
        name=payload.name,
        description=payload.description,
        event_id=payload.event_id,
        criteria=payload.criteria,
        refresh_frequency=payload.refresh_frequency.value,
        auto_refresh=payload.auto_refresh,
        expires_at=payload.expires_at,
        ad_account_id=payload.ad_account_id,
    )
    return Status(201, services.create_custom_segment(request.auth, data))


@audiences_router.post(
    "/{audience_id}/refresh",
    response={202: RefreshOut, **error_responses(401, 404)},
    summary="Rebuild and sync now",
)
def refresh_now(request: HttpRequest, audience_id: int):
    audience = get_for_organizer_or_404(RemarketingAudience, request.auth, pk=audience_id)
    queued = audience.status != AudienceStatus.EXPIRED
    if queued:
        transaction.on_commit(lambda: refresh_audience_task.delay(audience.pk))
    return Status(202, {"id": audience.pk, "queued": queued})


@erasure_router.post(
    "/erasure", response={200: ErasureOut, **error_responses(401)}, summary="Forget a buyer"
)
def erase_buyer(request: HttpRequest, payload: ErasureIn):
    """Removes the buyer from every audience (at the next sync, queued now) and deletes
    their browser events; their orders stay, without any personal data."""
    result = forget_buyer(request.auth, payload.email, payload.phone, payload.country)
    for audience_id in result.audience_ids:
        transaction.on_commit(
            lambda audience_id=audience_id: refresh_audience_task.delay(audience_id)
        )
    return {
        "orders": result.orders,
        "audience_members": result.audience_members,
        "events": result.events,
        "touches": result.touches,
        "delivery_logs": result.delivery_logs,
    }
