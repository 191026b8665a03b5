"""TikTok custom audiences: customer files (DMP) and lookalikes.

docs/platforms.md, TikTok: custom audiences: a customer file is uploaded first (multipart,
with its MD5), then an audience is created from file paths, and changed with `update` APPEND
/ REMOVE of further files. TikTok cannot create an empty audience, so the pending members
create it (several files in one call); APPEND/REMOVE/REPLACE fail when the audience would
end below 1,000 members, which is why Usher holds TikTok lists until they have 1,000. Files
hold one kind of hash: Usher uploads the buyers' email hashes (EMAIL_SHA256), the identifier
every buyer has. Website (pixel) audiences are "audiences by rules"
(`dmp/custom_audience/rule/create/`, `audience_type` PIXEL): the pixel as the event source,
one rule per event (a rule takes one event filter), the event's pages as a URL keyword,
buyers as an exclusion rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from usher.lib.http import get_client
from usher.platforms.audiences_common import (
    AudienceAccount,
    AudiencesConnector,
    CustomerList,
    LookalikeSpec,
    Member,
    PixelRule,
    require_token,
)
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_common import tiktok_location_id
from usher.platforms.tiktok.payloads import EVENT_NAMES, PLATFORM

MEMBERS_PER_FILE = 10_000  # no documented cap; small files keep a failed upload cheap
MAX_FILES_ON_CREATE = 50  # "fewer than 50 recommended" per create call
CALCULATE_TYPE = "EMAIL_SHA256"
MAX_RETENTION_DAYS = 365
# Lookalike size by the organizer's percentage: TikTok offers three sizes, not percents.
AUDIENCE_SIZES = ((3, "NARROW"), (6, "BALANCED"), (10, "BROAD"))
# A rule's look-back window in days; TikTok's longest website look-back is 180 [U].
MAX_LOOKBACK_DAYS = 180


class TikTokAudiencesConnector(AudiencesConnector[None]):
    """`account.account_id` is the advertiser id; `account.settings["location_ids"]`
    (TikTok's geo ids), else the lookalike's country, is where lookalikes are built."""

    platform = PLATFORM
    max_members_per_call = MEMBERS_PER_FILE
    min_members = 1000
    min_lookalike_seed = 100
    # Every update must leave 1,000 members, so a list starts whole: the pending adds,
    # in files of 10,000, up to TikTok's recommended 50 files.
    max_members_on_create = MEMBERS_PER_FILE * MAX_FILES_ON_CREATE
    identity_fields = ("email",)  # a file holds one kind of hash: the one every buyer has

    def create_list(
        self, account: AudienceAccount, target: CustomerList, first: Sequence[Member]
    ) -> str:
        paths = [
            self._upload_file(account, first[start : start + self.max_members_per_call])
            for start in range(0, len(first), self.max_members_per_call)
        ]
        answer = self._post(
            account,
            "dmp/custom_audience/create/",
            {
                "custom_audience_name": target.name[:128],
                "file_paths": paths,
                "calculate_type": CALCULATE_TYPE,
                "retention_in_days": min(target.retention_days, MAX_RETENTION_DAYS),
            },
        )
        return _id(answer, "custom_audience_id")

    def begin(
        self, account: AudienceAccount, audience_id: str, total: int, *, remove: bool
    ) -> None:
        return None

    def send(
        self,
        account: AudienceAccount,
        audience_id: str,
        session: None,
        batch: Sequence[Member],
        *,
        remove: bool,
        last: bool,
    ) -> None:
        path = self._upload_file(account, batch)
        self._post(
            account,
            "dmp/custom_audience/update/",
            {
                "custom_audience_id": audience_id,
                "file_paths": [path],
                "action": "REMOVE" if remove else "APPEND",
            },
        )

    def create_pixel_audience(self, account: AudienceAccount, rule: PixelRule) -> str:
        """A Website Traffic audience by rules. TikTok's rules count no repeats, so
        `min_actions` above 1 cannot be asked for: the audience takes everyone with one
        of the events (the organizer's count, shown beside it, still applies the minimum)."""
        answer = self._post(
            account,
            "dmp/custom_audience/rule/create/",
            {
                "custom_audience_name": rule.name[:128],
                "audience_type": "PIXEL",
                "rule_spec": website_rule_spec(rule),
            },
        )
        return _id(answer, "custom_audience_id")

    def create_lookalike(self, account: AudienceAccount, spec: LookalikeSpec) -> str:
        """In the code's `location_ids` when set, else in the organizer's country (the
        one Meta's lookalikes are built in: tracking codes do not take locations)."""
        locations = list(account.settings.get("location_ids") or []) or [
            tiktok_location_id(spec.country)
        ]
        size = next(name for limit, name in AUDIENCE_SIZES if spec.percentage <= limit)
        answer = self._post(
            account,
            "dmp/custom_audience/lookalike/create/",
            {
                "custom_audience_name": spec.name[:128],
                "lookalike_spec": {
                    "source_audience_id": spec.source_audience_id,
                    "audience_size": size,
                    "location_ids": locations,
                    "include_source": False,
                    "mobile_os": "ALL",
                    "placements": ["TIKTOK"],
                },
            },
        )
        return _id(answer, "custom_audience_id")

    def _upload_file(self, account: AudienceAccount, members: Sequence[Member]) -> str:
        lines = [m.identifiers["email"] for m in members if m.identifiers.get("email")]
        content = ("\n".join(lines) + "\n").encode()
        answer = self._request(
            account,
            "dmp/custom_audience/file/upload/",
            data={
                "advertiser_id": account.account_id,
                "calculate_type": CALCULATE_TYPE,
                "file_signature": hashlib.md5(content, usedforsecurity=False).hexdigest(),
            },
            files={"file": ("members.txt", content, "text/plain")},
        )
        return _id(answer, "file_path")

    def _post(self, account: AudienceAccount, path: str, body: dict[str, Any]) -> Any:
        return self._request(account, path, json={"advertiser_id": account.account_id, **body})

    def _request(self, account: AudienceAccount, path: str, **kwargs: Any) -> Any:
        token = require_token(account)
        self.call(account)
        response = get_client(PLATFORM).request(
            "POST",
            f"/open_api/{settings.TIKTOK_API_VERSION}/{path}",
            headers={"Access-Token": token},
            secrets=[token],
            **kwargs,
        )
        return response.json


def website_rule_spec(rule: PixelRule) -> dict[str, Any]:
    """TikTok's rule_spec: an inclusion rule per event (OR), each on the pixel, within the
    look-back, on pages whose URL contains the event's slug; buyers excluded likewise.
    Event values are "PIXEL " + the standard event in capitals with spaces ("PIXEL
    COMPLETE PAYMENT" is TikTok's documented example; the other names follow it [U])."""

    def rules(events: Sequence[str]) -> dict[str, Any]:
        return {
            "operator": "OR",
            "rules": [
                {
                    "event_source_ids": [rule.pixel_id],
                    "retention_days": min(rule.retention_days, MAX_LOOKBACK_DAYS),
                    "filter_set": {"operator": "OR", "filters": [event_filter(event)]},
                }
                for event in events
            ],
        }

    def event_filter(event: str) -> dict[str, Any]:
        condition: dict[str, Any] = {
            "field": "EVENT",
            "operator": "EQ",
            "value": pixel_event_value(event),
        }
        if rule.url_contains:
            condition["parameter_filters"] = [
                {"field": "URL", "operator": "CONTAINS", "value": rule.url_contains}
            ]
        return condition

    spec = {"inclusion_rule_set": rules(rule.events)}
    if rule.exclude_events:
        spec["exclusion_rule_set"] = rules(rule.exclude_events)
    return spec


def pixel_event_value(event: str) -> str:
    """`view_item` -> "PIXEL VIEW CONTENT": our event, as TikTok's rule filters name it."""
    standard = EVENT_NAMES[event]
    if standard == "Purchase":
        standard = "CompletePayment"  # the rules still name the purchase by its old name [U]
    words = "".join(f" {c}" if c.isupper() else c for c in standard).split()
    return "PIXEL " + " ".join(word.upper() for word in words)


def _id(answer: Any, key: str) -> str:
    data = answer.get("data") if isinstance(answer, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    if not value:
        raise PlatformError(
            ErrorKind.TRANSIENT, f"TikTok answered without {key}", platform=PLATFORM
        )
    return str(value)
