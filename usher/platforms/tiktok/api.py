"""The TikTok Business API calls campaign management and reporting share.

TikTok answers HTTP 200 with `{"code", "message", "data"}`; `usher.lib.http` turns a
non-zero code into a `PlatformError`, so what arrives here succeeded. GET endpoints
take JSON-valued parameters (`filtering`, `dimensions`) as JSON strings; lists are
paged with `page` / `page_size` and `page_info.total_page`.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from usher.platforms.campaigns_base import AdAccount
from usher.platforms.campaigns_common import (
    CallKind,
    management_request,
    require_token,
    unexpected,
)
from usher.platforms.tiktok.payloads import PLATFORM

PAGE_SIZE = 1000  # TikTok's largest page for lists and reports
MAX_PAGES = 100


class TikTokApi:
    """One advertiser's Business API, as the campaigns and insights connectors use it."""

    def __init__(self, account: AdAccount) -> None:
        self.account = account
        self.token = require_token(account)
        self.advertiser_id = account.account_id

    def post(self, endpoint: str, body: dict[str, Any], kind: CallKind) -> dict[str, Any]:
        return self._call(
            "POST", endpoint, kind, json={"advertiser_id": self.advertiser_id, **body}
        )

    def get(self, endpoint: str, params: dict[str, Any], kind: CallKind) -> dict[str, Any]:
        encoded = {
            key: json.dumps(value) if isinstance(value, list | dict) else value
            for key, value in params.items()
        }
        return self._call(
            "GET", endpoint, kind, params={"advertiser_id": self.advertiser_id, **encoded}
        )

    def pages(self, endpoint: str, params: dict[str, Any], kind: CallKind) -> list[dict[str, Any]]:
        """Every item of a paged list or report."""
        items: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            data = self.get(endpoint, {**params, "page": page, "page_size": PAGE_SIZE}, kind)
            found = data.get("list")
            if not isinstance(found, list):
                raise unexpected(PLATFORM, f"{endpoint} without a list")
            items.extend(item for item in found if isinstance(item, dict))
            info = data.get("page_info") if isinstance(data.get("page_info"), dict) else {}
            if page >= int(info.get("total_page") or 1):
                break
        return items

    def _call(self, method: str, endpoint: str, kind: CallKind, **kwargs: Any) -> dict[str, Any]:
        answer = management_request(
            self.account,
            kind,
            method,
            # The trailing slash is part of TikTok's paths: without it the API answers 404.
            f"/open_api/{settings.TIKTOK_API_VERSION}/{endpoint}/",
            headers={"Access-Token": self.token},
            secrets=[self.token],
            **kwargs,
        ).json
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise unexpected(PLATFORM, f"{endpoint} answered without data")
        return data
