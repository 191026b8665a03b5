"""Building an audience: run its builder, record the difference, decide if it can sync.

For customer lists the builder's set is compared with the stored members: newcomers
are added as `pending_add`, members who left (out of the window, refunded, erased,
consent withdrawn) become `pending_remove` if the platform has them and are dropped if
it never did. The next sync sends exactly these. Visitor audiences and lookalikes have
no stored members: the platform fills them; their size is computed for the minimums.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from usher.audiences.builders import BUYER_TYPES, VISITOR_TYPES, buyer_query, visitor_query
from usher.audiences.criteria import Criteria
from usher.audiences.models import (
    AudienceMember,
    AudienceStatus,
    AudienceType,
    MemberState,
    RemarketingAudience,
)
from usher.platforms.registry import get_audiences_connector

UPDATE_CHUNK_ROWS = 5000  # ids per UPDATE/DELETE ... IN (...): within SQLite's variable cap


@dataclass(frozen=True)
class BuildResult:
    size: int
    added: int = 0
    removed: int = 0


def build_audience(audience: RemarketingAudience, now: datetime) -> BuildResult:
    """Recompute `audience` and store its size, status and (lists) pending changes."""
    criteria = Criteria.from_json(audience.criteria, ("criteria",))
    connector = get_audiences_connector(audience.platform)
    expired = audience.expires_at is not None and audience.expires_at <= now
    with transaction.atomic():
        if audience.audience_type in BUYER_TYPES:
            desired = (
                {}
                if expired
                else dict(buyer_query(audience, criteria, now, connector.identity_fields))
            )
            result = apply_membership(audience, desired)
            minimum = connector.min_members
        elif audience.audience_type in VISITOR_TYPES:
            result = BuildResult(
                size=0 if expired else visitor_query(audience, criteria, now).count()
            )
            minimum = connector.min_members
        else:
            result, minimum = _lookalike_size(audience, criteria, connector.min_lookalike_seed)
        audience.member_count = result.size
        audience.last_built_at = now
        audience.status, audience.status_reason = _status_after_build(
            audience, result.size, minimum, expired
        )
        audience.save(
            update_fields=["member_count", "last_built_at", "status", "status_reason", "updated_at"]
        )
    return result


def _status_after_build(
    audience: RemarketingAudience, size: int, minimum: int | None, expired: bool
) -> tuple[str, str]:
    platform = audience.get_platform_display()
    if expired:
        # Members still on the platform leave at the next sync, which ends in EXPIRED.
        return AudienceStatus.READY, "Expired: its members are being removed from the platform."
    if minimum is None:
        return AudienceStatus.BUILDING, f"{platform} has no lookalike audiences."
    if audience.audience_type in VISITOR_TYPES:
        # The platform fills pixel audiences itself; the minimum only delays serving.
        note = (
            f"{size} visitors so far; {platform} serves it from {minimum}."
            if size < minimum
            else ""
        )
        return AudienceStatus.READY, note
    if size < minimum:
        what = (
            "people in the source" if audience.audience_type == AudienceType.LOOKALIKE else "buyers"
        )
        reason = f"{size} matchable {what}; {platform} needs at least {minimum}."
        # Not yet on the platform: wait. Already there: keep it in step (leavers must
        # leave), and say why it does not serve.
        status = AudienceStatus.READY if audience.external_audience_id else AudienceStatus.BUILDING
        return status, reason
    return AudienceStatus.READY, ""


def _lookalike_size(
    audience: RemarketingAudience, criteria: Criteria, seed_minimum: int | None
) -> tuple[BuildResult, int | None]:
    source = (
        RemarketingAudience.objects.filter(
            pk=criteria.lookalike_source_id, organizer_id=audience.organizer_id
        )
        .only("member_count")
        .first()
    )
    return BuildResult(size=source.member_count if source else 0), seed_minimum


def apply_membership(
    audience: RemarketingAudience, desired: dict[str, dict[str, str]]
) -> BuildResult:
    """Turn the desired set into pending changes against the stored members."""
    stored = dict(
        AudienceMember.objects.filter(audience=audience).values_list("member_key", "state")
    )
    new = [
        AudienceMember(audience=audience, member_key=key, identifiers=identifiers or {})
        for key, identifiers in desired.items()
        if key not in stored
    ]
    AudienceMember.objects.bulk_create(new, batch_size=UPDATE_CHUNK_ROWS, ignore_conflicts=True)
    gone = [key for key in stored if key not in desired]
    leaving = [key for key in gone if stored[key] != MemberState.PENDING_ADD]
    never_sent = [key for key in gone if stored[key] == MemberState.PENDING_ADD]
    back = [key for key in desired if stored.get(key) == MemberState.PENDING_REMOVE]
    _set_state(audience, leaving, MemberState.PENDING_REMOVE)
    _set_state(audience, back, MemberState.SYNCED)
    for chunk in _chunks(never_sent):
        AudienceMember.objects.filter(audience=audience, member_key__in=chunk).delete()
    return BuildResult(size=len(desired), added=len(new), removed=len(leaving))


def _set_state(audience: RemarketingAudience, keys: list[str], state: str) -> None:
    for chunk in _chunks(keys):
        AudienceMember.objects.filter(audience=audience, member_key__in=chunk).update(state=state)


def _chunks(keys: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(keys), UPDATE_CHUNK_ROWS):
        yield keys[start : start + UPDATE_CHUNK_ROWS]
