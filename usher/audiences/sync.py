"""Syncing an audience to its platform: create it there if need be, then send only the
pending changes, through the platform's connector.

A sync holds a per-audience lock (two workers never sync one audience at once) and
writes one `AudienceSyncLog`. Members are marked sent as the connector confirms them,
so a sync that fails half-way (throttled, platform down, worker killed) resumes with
what is still pending. Permanent failures (a refused credential, a platform refusing
the list) leave the audience waiting with the platform's reason shown; transient ones
are raised for the task to retry later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from usher.audiences.builders import BUYER_TYPES, VISITOR_TYPES
from usher.audiences.criteria import Criteria
from usher.audiences.models import (
    AudienceMember,
    AudienceStatus,
    AudienceSyncLog,
    MemberState,
    RemarketingAudience,
    SyncStatus,
)
from usher.audiences.services import ACCOUNT_SETTING
from usher.marketplace.models import MarketplaceEvent
from usher.platforms.audiences_common import (
    AudienceAccount,
    AudiencesConnector,
    CustomerList,
    LookalikeSpec,
    Member,
    PixelRule,
)
from usher.platforms.base import PlatformError
from usher.platforms.registry import get_audiences_connector
from usher.tracking.models import EventTrackingCode
from usher.tracking.providers import get_spec

logger = logging.getLogger(__name__)

SYNC_LOCK_SECONDS = 30 * 60  # longer than any sync; a killed worker's lock lapses
MEMBER_FETCH_ROWS = 10_000


class AudienceWaiting(Exception):
    """The audience cannot sync yet; the message says why (shown to the organizer)."""


@contextmanager
def audience_lock(audience_id: int) -> Iterator[bool]:
    """Whether this worker holds the audience: builds and syncs of one audience never
    overlap (a build must not drop a member a sync is sending)."""
    key = f"audience-sync:{audience_id}"
    acquired = cache.add(key, 1, timeout=SYNC_LOCK_SECONDS)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def sync_audience(audience_id: int, now: datetime) -> AudienceSyncLog | None:
    """Sync one audience; None when another worker holds it right now."""
    with audience_lock(audience_id) as acquired:
        return sync_locked(audience_id, now) if acquired else None


def sync_locked(audience_id: int, now: datetime) -> AudienceSyncLog:
    """Sync one audience whose lock the caller holds."""
    audience = RemarketingAudience.objects.select_related("organizer", "event").get(pk=audience_id)
    return _sync(audience, now)


def _sync(audience: RemarketingAudience, now: datetime) -> AudienceSyncLog:
    log = AudienceSyncLog.objects.create(audience=audience)
    connector = get_audiences_connector(audience.platform)
    expired = audience.expires_at is not None and audience.expires_at <= now
    try:
        if audience.status == AudienceStatus.BUILDING:
            raise AudienceWaiting(audience.status_reason or "The audience is not built yet.")
        account, pixel_id = audience_account(audience)
        _set_status(audience, AudienceStatus.SYNCING, audience.status_reason)
        progress = _Progress(audience, log)
        if audience.audience_type in BUYER_TYPES:
            _push_members(connector, account, audience, progress)
        elif not audience.external_audience_id and not expired:
            external_id = _create_on_platform(connector, account, audience, pixel_id)
            progress.created(external_id)
    except AudienceWaiting as waiting:
        _finish(log, SyncStatus.WAITING, str(waiting))
        if audience.status == AudienceStatus.SYNCING:
            audience.status = AudienceStatus.READY
        _set_status(audience, audience.status, str(waiting)[:500])
        return log
    except PlatformError as error:
        _finish(log, SyncStatus.FAILED, str(error))
        # Back to READY so the next run tries again; a permanent refusal is the reason.
        _set_status(audience, AudienceStatus.READY, error.message[:500] if error.permanent else "")
        if not error.permanent:
            raise
        return log
    except Exception as exc:  # a bug inside Usher: recorded, never left "syncing"
        _finish(log, SyncStatus.FAILED, f"internal error: {type(exc).__name__}")
        _set_status(audience, AudienceStatus.READY, "")
        raise
    final = AudienceStatus.EXPIRED if expired else AudienceStatus.ACTIVE
    audience.last_synced_at = now
    audience.save(update_fields=["last_synced_at", "updated_at"])
    _set_status(audience, final, audience.status_reason)  # the build's note, if any
    _finish(log, SyncStatus.SUCCEEDED, "")
    return log


def _push_members(
    connector: AudiencesConnector,
    account: AudienceAccount,
    audience: RemarketingAudience,
    progress: _Progress,
) -> None:
    adds = _pending(audience, MemberState.PENDING_ADD)
    removes = _pending(audience, MemberState.PENDING_REMOVE)
    if not audience.external_audience_id and not adds:
        return  # nothing to create a list with yet (and nothing could be on it)
    if audience.external_audience_id and not adds and not removes:
        return
    target = CustomerList(
        name=audience.name,
        description=audience.description,
        retention_days=Criteria.from_json(audience.criteria, ("criteria",)).time_window_days,
        external_id=audience.external_audience_id,
    )
    connector.push_members(account, target, adds, removes, progress)


def _pending(audience: RemarketingAudience, state: str) -> list[Member]:
    rows = (
        AudienceMember.objects.filter(audience=audience, state=state)
        .order_by("id")
        .values_list("member_key", "identifiers")
        .iterator(chunk_size=MEMBER_FETCH_ROWS)
    )
    return [Member(key, identifiers) for key, identifiers in rows]


def _create_on_platform(
    connector: AudiencesConnector,
    account: AudienceAccount,
    audience: RemarketingAudience,
    pixel_id: str,
) -> str:
    criteria = Criteria.from_json(audience.criteria, ("criteria",))
    if audience.audience_type in VISITOR_TYPES:
        return connector.create_pixel_audience(
            account,
            PixelRule(
                name=audience.name,
                description=audience.description,
                pixel_id=pixel_id,
                events=criteria.source_events,
                retention_days=criteria.time_window_days,
                url_contains=audience.event.slug if audience.event else "",
                min_actions=criteria.min_actions,
                exclude_events=("purchase",) if criteria.exclude_purchasers else (),
            ),
        )
    source = RemarketingAudience.objects.filter(
        pk=criteria.lookalike_source_id, organizer_id=audience.organizer_id
    ).first()
    if source is None or not source.external_audience_id or source.status != AudienceStatus.ACTIVE:
        raise AudienceWaiting("The source audience is not on the platform yet.")
    country = _organizer_country(audience)
    if not country:
        raise AudienceWaiting(
            "None of the organizer's events has a country to build a lookalike in."
        )
    return connector.create_lookalike(
        account,
        LookalikeSpec(
            name=audience.name,
            source_audience_id=source.external_audience_id,
            percentage=criteria.lookalike_percentage or 1,
            country=country,
        ),
    )


def audience_account(audience: RemarketingAudience) -> tuple[AudienceAccount, str]:
    """The account and credential to manage `audience` with, and the pixel id, from
    the organizer's tracking code for the platform (the event's own, else the default)."""
    secret_name = get_spec(audience.platform).secret
    codes = (
        EventTrackingCode.objects.for_organizer(audience.organizer)
        .filter(provider=audience.platform, enabled=True)
        .filter(Q(event__isnull=True) | Q(event_id=audience.event_id))
    )
    # The event's own code wins over the default whichever way the database sorts NULLs.
    ranked = sorted(codes, key=lambda code: code.event_id is None)
    code = next((c for c in ranked if secret_name and c.has_secret(secret_name)), None)
    platform = audience.get_platform_display()
    if code is None:
        raise AudienceWaiting(f"No {platform} tracking code with a credential for this organizer.")
    account_id = audience.ad_account_id or str(
        code.settings.get(ACCOUNT_SETTING[audience.platform], "")
    )
    if not account_id:
        raise AudienceWaiting(f"No {platform} ad account is set for this audience.")
    # Usher-wide settings (Google's developer token) and the code's own (TikTok's locations).
    extra = {
        "location_ids": code.settings.get("location_ids", []),
        **settings.PLATFORM_DESTINATION_SETTINGS.get(audience.platform, {}),
    }
    account = AudienceAccount(
        platform=audience.platform,
        account_id=account_id,
        access_token=code.get_secret(secret_name) or "",
        settings=extra,
    )
    return account, code.tag_id


def _organizer_country(audience: RemarketingAudience) -> str:
    event = audience.event or (
        MarketplaceEvent.objects.filter(organizer_id=audience.organizer_id)
        .exclude(country="")
        .order_by("-starts_at")
        .first()
    )
    return event.country if event else ""


class _Progress:
    """Persists what the connector reports, as it reports it."""

    def __init__(self, audience: RemarketingAudience, log: AudienceSyncLog) -> None:
        self.audience = audience
        self.log = log

    def created(self, external_id: str) -> None:
        self.audience.external_audience_id = external_id
        self.audience.save(update_fields=["external_audience_id", "updated_at"])

    def committed(self, keys: Sequence[str], *, removed: bool) -> None:
        rows = AudienceMember.objects.filter(audience=self.audience, member_key__in=list(keys))
        if removed:
            count, _ = rows.filter(state=MemberState.PENDING_REMOVE).delete()
            self.log.removed_count += count
        else:
            self.log.added_count += rows.filter(state=MemberState.PENDING_ADD).update(
                state=MemberState.SYNCED
            )
        self.log.batches_count += 1
        self.log.save(update_fields=["added_count", "removed_count", "batches_count"])


def _set_status(audience: RemarketingAudience, status: str, reason: str) -> None:
    audience.status = status
    audience.status_reason = reason
    audience.save(update_fields=["status", "status_reason", "updated_at"])


def _finish(log: AudienceSyncLog, status: str, message: str) -> None:
    log.status = status
    log.message = message[:2000]
    log.finished_at = timezone.now()
    log.save()
