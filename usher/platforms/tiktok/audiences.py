"""TikTok custom audiences: customer files (DMP) and lookalikes.

docs/platforms.md, TikTok: custom audiences: a customer file is uploaded first (multipart,
with its MD5), then an audience is created from file paths, and changed with `update` APPEND
/ REMOVE of further files. TikTok cannot create an empty audience, so the pending members
create it (several files in one call); APPEND/REMOVE/REPLACE fail when the audience would
end below 1,000 members, which is why Usher holds TikTok lists until they have 1,000. Files
hold one kind of hash: Usher uploads the buyers' email hashes (EMAIL_SHA256), the identifier
every buyer has. Website (pixel) audiences are not offered by TikTok's public API used here:
they are created in TikTok Ads Manager, and Usher says so on the audience.
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
from usher.platforms.tiktok.payloads import PLATFORM

MEMBERS_PER_FILE = 10_000  # no documented cap; small files keep a failed upload cheap
MAX_FILES_ON_CREATE = 50  # "fewer than 50 recommended" per create call
CALCULATE_TYPE = "EMAIL_SHA256"
MAX_RETENTION_DAYS = 365
# Lookalike size by the organizer's percentage: TikTok offers three sizes, not percents.
AUDIENCE_SIZES = ((3, "NARROW"), (6, "BALANCED"), (10, "BROAD"))


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
        raise PlatformError(
            ErrorKind.PERMANENT,
            "TikTok website audiences are created in TikTok Ads Manager, not through the API",
            platform=PLATFORM,
        )

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


def _id(answer: Any, key: str) -> str:
    data = answer.get("data") if isinstance(answer, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    if not value:
        raise PlatformError(
            ErrorKind.TRANSIENT, f"TikTok answered without {key}", platform=PLATFORM
        )
    return str(value)
