"""Google Ads audiences: Customer Match lists and rule-based remarketing lists.

Customer Match (PLATFORMS.md §6.3): a CRM-based `UserList` (CONTACT_INFO), filled by an
offline user data job per upload: create the job with the buyers' consent, add
operations (one per member, at most 20 identifiers each; ~10,000 members per call, as
Google advises), then run it. Google applies the operations only when the job runs, so
members count as sent only after `run` (`commits_per_call = False`): a sync that fails
before it resends into a new job, and nothing reaches the list twice.

Since April 2026 Google refuses Customer Match through the Ads API for developers not
already allowlisted (`CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE`, a permanent error the
audience shows as its reason); the Data Manager API is Google's route for them and fits
behind this same connector (create the list here, ingest members there).

Similar audiences are retired: Google has no lookalikes (`min_lookalike_seed = None`);
Usher gives the buyers' list to campaigns as an optimized-targeting signal instead.
Visitor audiences are rule-based user lists over the Google tag's page URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from usher.lib.http import get_client
from usher.platforms.audiences_common import (
    AudienceAccount,
    AudiencesConnector,
    CustomerList,
    Member,
    PixelRule,
    require_token,
)
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.google_ads import oauth
from usher.platforms.google_ads.payloads import PLATFORM, customer_id

MEMBERS_PER_CALL = 10_000
MAX_MEMBERSHIP_DAYS = 540
# Usher uploads only buyers who granted both (the audiences app filters on consent).
CONSENT = {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}


class GoogleAdsAudiencesConnector(AudiencesConnector[str]):
    """`account.account_id` is the Ads customer id; `account.access_token` the OAuth
    refresh token; `account.settings` holds `developer_token` and, when acting through a
    manager account, `login_customer_id`."""

    platform = PLATFORM
    max_members_per_call = MEMBERS_PER_CALL
    # Google documents no single minimum [U]; lists serve on Display/YouTube from 1,000
    # active members, so Usher waits for 1,000.
    min_members = 1000
    min_lookalike_seed = None
    commits_per_call = False

    def create_list(
        self, account: AudienceAccount, target: CustomerList, first: Sequence[Member]
    ) -> str:
        return self._create_user_list(
            account,
            {
                "name": target.name,
                "description": target.description,
                "membership_life_span": min(target.retention_days, MAX_MEMBERSHIP_DAYS),
                "crm_based_user_list": {
                    "upload_key_type": "CONTACT_INFO",
                    "data_source_type": "FIRST_PARTY",
                },
            },
        )

    def begin(self, account: AudienceAccount, audience_id: str, total: int, *, remove: bool) -> str:
        cid = customer_id(account.account_id)
        answer = self._request(
            account,
            "offlineUserDataJobs:create",
            {
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customer_match_user_list_metadata": {
                        "user_list": f"customers/{cid}/userLists/{audience_id}",
                        "consent": CONSENT,
                    },
                }
            },
        )
        name = answer.get("resourceName") if isinstance(answer, dict) else None
        if not name:
            raise PlatformError(ErrorKind.TRANSIENT, "Google created no job", platform=PLATFORM)
        return str(name)

    def send(
        self,
        account: AudienceAccount,
        audience_id: str,
        session: str,
        batch: Sequence[Member],
        *,
        remove: bool,
        last: bool,
    ) -> None:
        kind = "remove" if remove else "create"
        operations = [{kind: {"user_identifiers": user_identifiers(m)}} for m in batch]
        self._request(
            account,
            f"{session.split('/', 2)[2]}:addOperations",
            {"operations": operations, "enable_partial_failure": True},
        )

    def finish(self, account: AudienceAccount, session: str) -> None:
        self._request(account, f"{session.split('/', 2)[2]}:run", {})

    def create_pixel_audience(self, account: AudienceAccount, rule: PixelRule) -> str:
        def operand(events: Sequence[str]) -> dict[str, Any]:
            items = (
                [
                    {
                        "name": "url__",
                        "string_rule_item": {"operator": "CONTAINS", "value": rule.url_contains},
                    }
                ]
                if rule.url_contains
                else []
            )
            groups = [
                {
                    "rule_items": [
                        *items,
                        {
                            "name": "event",
                            "string_rule_item": {"operator": "EQUALS", "value": event},
                        },
                    ]
                }
                for event in events
            ]
            return {
                "rule": {"rule_item_groups": groups},
                "lookback_window_days": rule.retention_days,
            }

        flexible: dict[str, Any] = {
            "inclusive_rule_operator": "AND",
            "inclusive_operands": [operand(rule.events)],
        }
        if rule.exclude_events:
            flexible["exclusive_operands"] = [operand(rule.exclude_events)]
        return self._create_user_list(
            account,
            {
                "name": rule.name,
                "description": rule.description,
                "membership_life_span": min(rule.retention_days, MAX_MEMBERSHIP_DAYS),
                "rule_based_user_list": {
                    "prepopulation_status": "REQUESTED",
                    "flexible_rule_user_list": flexible,
                },
            },
        )

    def _create_user_list(self, account: AudienceAccount, fields: dict[str, Any]) -> str:
        answer = self._request(account, "userLists:mutate", {"operations": [{"create": fields}]})
        results = answer.get("results") if isinstance(answer, dict) else None
        name = results[0].get("resourceName") if results else None
        if not name:
            raise PlatformError(
                ErrorKind.TRANSIENT, "Google created no user list", platform=PLATFORM
            )
        return str(name).rsplit("/", 1)[-1]

    def _request(self, account: AudienceAccount, path: str, body: dict[str, Any]) -> Any:
        refresh_token = require_token(account)
        developer_token = str(account.settings.get("developer_token") or "")
        headers = {"developer-token": developer_token}
        login = customer_id(str(account.settings.get("login_customer_id") or ""))
        if login:
            headers["login-customer-id"] = login
        cid = customer_id(account.account_id)

        def send(access_token: str) -> Any:
            self.call(account)
            response = get_client(PLATFORM).request(
                "POST",
                f"/{settings.GOOGLE_ADS_API_VERSION}/customers/{cid}/{path}",
                json=body,
                headers={**headers, "Authorization": f"Bearer {access_token}"},
                secrets=[developer_token, access_token, refresh_token],
            )
            return response.json

        return oauth.with_access_token(refresh_token, send)


def user_identifiers(member: Member) -> list[dict[str, Any]]:
    """Google's UserIdentifier list for one member (hashed email/phone, name + address)."""
    ids = member.identifiers
    found: list[dict[str, Any]] = []
    if ids.get("email"):
        found.append({"hashed_email": ids["email"]})
    if ids.get("phone"):
        found.append({"hashed_phone_number": ids["phone"]})
    if ids.get("first_name") and ids.get("last_name") and ids.get("country"):
        address = {
            "hashed_first_name": ids["first_name"],
            "hashed_last_name": ids["last_name"],
            "country_code": ids["country"],
        }
        if ids.get("zip"):
            address["postal_code"] = ids["zip"]
        found.append({"address_info": address})
    return found
