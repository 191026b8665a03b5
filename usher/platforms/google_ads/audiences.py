"""Google Ads audiences: Customer Match lists and rule-based remarketing lists.

Customer Match (docs/platforms.md, Google Ads: Customer Match): a CRM-based `UserList`
(CONTACT_INFO) created with the Ads API, and its members sent by one of two routes
(`GOOGLE_CUSTOMER_MATCH_API`):

- `data_manager` (default): Google's Data Manager API, `audienceMembers:ingest` and
  `:remove`, 10,000 members a call, each call final. Since April 2026 the Ads API
  refuses Customer Match from developers it has not allowlisted
  (`CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE`) and sends them here.
- `ads_api`: an offline user data job per upload, for developers still allowlisted:
  create the job with the buyers' consent, add operations (one per member, ~10,000 a
  call as Google advises), run it. Google applies the operations only when the job
  runs, so members count as sent only after `run`: a sync that fails before resends
  into a new job, and nothing reaches the list twice.

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
DATA_MANAGER_CONSENT = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
DATA_MANAGER = "data_manager"
DATA_MANAGER_CLIENT = "google_data_manager"  # the `usher.lib.http` client and base URL


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

    def __init__(self, *, members_api: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members_api = members_api or settings.GOOGLE_CUSTOMER_MATCH_API
        # Data Manager calls are final one by one; a job's operations only once it runs.
        self.commits_per_call = self.members_api == DATA_MANAGER

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
        """The offline user data job of this upload (no session on the Data Manager)."""
        if self.members_api == DATA_MANAGER:
            return ""
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
        if self.members_api == DATA_MANAGER:
            self._ingest(account, audience_id, batch, remove)
            return
        kind = "remove" if remove else "create"
        operations = [{kind: {"user_identifiers": user_identifiers(m)}} for m in batch]
        self._request(
            account,
            f"{session.split('/', 2)[2]}:addOperations",
            {"operations": operations, "enable_partial_failure": True},
        )

    def finish(self, account: AudienceAccount, session: str) -> None:
        if session:
            self._request(account, f"{session.split('/', 2)[2]}:run", {})

    def _ingest(
        self, account: AudienceAccount, list_id: str, batch: Sequence[Member], remove: bool
    ) -> None:
        body: dict[str, Any] = {
            "destinations": [
                {
                    "operatingAccount": {
                        "accountType": "GOOGLE_ADS",
                        "accountId": customer_id(account.account_id),
                    },
                    "productDestinationId": list_id,
                }
            ],
            "audienceMembers": [
                {"userData": {"userIdentifiers": data_manager_identifiers(m)}} for m in batch
            ],
            "encoding": "HEX",
        }
        if not remove:
            body["consent"] = DATA_MANAGER_CONSENT
            # The organizer accepts Customer Match's terms when connecting Google Ads.
            body["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
        refresh_token = require_token(account)

        def send(access_token: str) -> Any:
            self.call(account)
            return get_client(DATA_MANAGER_CLIENT).request(
                "POST",
                f"/v1/audienceMembers:{'remove' if remove else 'ingest'}",
                json=body,
                headers={"Authorization": f"Bearer {access_token}"},
                secrets=[access_token, refresh_token],
            )

        oauth.with_access_token(refresh_token, send)

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


def data_manager_identifiers(member: Member) -> list[dict[str, Any]]:
    """The Data Manager API's userIdentifiers for one member (same hashes, its names)."""
    renamed = {
        "hashed_email": "emailAddress",
        "hashed_phone_number": "phoneNumber",
    }
    found: list[dict[str, Any]] = []
    for identifier in user_identifiers(member):
        if "address_info" in identifier:
            address = identifier["address_info"]
            found.append(
                {
                    "address": {
                        "givenName": address["hashed_first_name"],
                        "familyName": address["hashed_last_name"],
                        "regionCode": address["country_code"],
                        **(
                            {"postalCode": address["postal_code"]}
                            if "postal_code" in address
                            else {}
                        ),
                    }
                }
            )
        else:
            ((key, value),) = identifier.items()
            found.append({renamed[key]: value})
    return found
