"""The Google Ads REST calls campaign management and reporting share: GAQL search with
paging, and `{collection}:mutate`.

Every call is signed with an access token for the account's OAuth refresh token
(oauth.py), carries Usher's developer token and, when the account sits under a
manager account, `login-customer-id`; each takes a management-call token first
(`campaigns_common.take_management_call`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from usher.lib.http import get_client
from usher.lib.ratelimit import TokenBucket
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import AdAccount
from usher.platforms.campaigns_common import (
    CallKind,
    require_token,
    take_management_call,
    unexpected,
)
from usher.platforms.google_ads import oauth
from usher.platforms.google_ads.payloads import PLATFORM, customer_id

MAX_SEARCH_PAGES = 100  # pages hold 10,000 rows: a million rows is beyond any one read
SECONDS_PER_DAY = 86_400
HOURS_PER_DAY = 24


def developer_bucket(developer_token: str) -> TokenBucket:
    """Google's daily operations quota belongs to the developer token, shared by every
    account Usher manages: a search is one operation, a mutate one per operation.
    The bucket refills over 24 hours and holds an hour's worth for bursts."""
    per_day = float(settings.GOOGLE_ADS_DAILY_OPERATIONS)
    digest = hashlib.sha256(developer_token.encode()).hexdigest()[:16]
    return TokenBucket(
        f"mgmt:google_ads:developer:{digest}",
        rate_per_second=per_day / SECONDS_PER_DAY,
        capacity=per_day / HOURS_PER_DAY,
    )


class GoogleAdsApi:
    """One account's Google Ads API, as the campaigns and insights connectors use it."""

    def __init__(self, account: AdAccount) -> None:
        self.account = account
        # The contract keeps Google's OAuth refresh token in settings; a bare
        # access_token field holding it is accepted too.
        self.refresh_token = str(account.settings.get("refresh_token") or "") or require_token(
            account
        )
        self.customer_id = customer_id(account.account_id)
        if len(self.customer_id) != 10:
            raise PlatformError(
                ErrorKind.PERMANENT,
                f"a Google Ads customer id has 10 digits, not {account.account_id!r}",
                platform=PLATFORM,
            )
        defaults = settings.PLATFORM_DESTINATION_SETTINGS.get(PLATFORM, {})
        self.developer_token = str(
            account.settings.get("developer_token") or defaults.get("developer_token") or ""
        )
        if not self.developer_token:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "no Google Ads developer token (GOOGLE_ADS_DEVELOPER_TOKEN)",
                platform=PLATFORM,
            )
        self.login_customer_id = customer_id(
            account.settings.get("login_customer_id") or defaults.get("login_customer_id") or ""
        )

    def resource(self, collection: str, object_id: str) -> str:
        return f"customers/{self.customer_id}/{collection}/{object_id}"

    def search(self, query: str, kind: CallKind) -> list[dict[str, Any]]:
        """Every row of a GAQL query, following `nextPageToken`."""
        rows: list[dict[str, Any]] = []
        body: dict[str, Any] = {"query": query}
        for _ in range(MAX_SEARCH_PAGES):
            answer = self._post("googleAds:search", body, kind)
            results = answer.get("results", [])
            if not isinstance(results, list):
                raise unexpected(PLATFORM, "search results are not a list")
            rows.extend(row for row in results if isinstance(row, dict))
            token = answer.get("nextPageToken")
            if not token:
                return rows
            body = {"query": query, "pageToken": token}
        return rows

    def mutate(
        self, collection: str, operations: list[dict[str, Any]], kind: CallKind
    ) -> list[str]:
        """Apply `operations` all-or-nothing; the resource names, in operation order."""
        answer = self._post(
            f"{collection}:mutate", {"operations": operations}, kind, len(operations)
        )
        results = answer.get("results")
        names = [
            str(result.get("resourceName") or "")
            for result in (results if isinstance(results, list) else [])
            if isinstance(result, dict)
        ]
        if len(names) != len(operations) or not all(names):
            raise unexpected(PLATFORM, f"{collection} mutate without a resource name per operation")
        return names

    def _post(
        self, method: str, body: dict[str, Any], kind: CallKind, operations: int = 1
    ) -> dict[str, Any]:
        take_management_call(PLATFORM, self.customer_id, kind)
        wait = developer_bucket(self.developer_token).take(operations)
        if wait > 0:
            raise PlatformError(
                ErrorKind.RATE_LIMITED,
                "the Google Ads developer token's daily operations are used up",
                platform=PLATFORM,
                retry_after_seconds=wait,
            )
        path = f"/{settings.GOOGLE_ADS_API_VERSION}/customers/{self.customer_id}/{method}"
        headers = {"developer-token": self.developer_token}
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id

        def send(access_token: str) -> Any:
            return (
                get_client(PLATFORM)
                .request(
                    "POST",
                    path,
                    json=body,
                    headers={**headers, "Authorization": f"Bearer {access_token}"},
                    secrets=[self.developer_token, self.refresh_token, access_token],
                )
                .json
            )

        answer = oauth.with_access_token(self.refresh_token, send)
        if not isinstance(answer, dict):
            raise unexpected(PLATFORM, f"{method} answered no JSON object")
        return answer


def last_id(resource_name: Any) -> str:
    """`customers/1/adGroupAds/22~33` -> `22~33`."""
    return str(resource_name or "").rsplit("/", 1)[-1]


def gaql_string(value: str) -> str:
    """A GAQL string literal (single quotes, backslash escapes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
