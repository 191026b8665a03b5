"""Meta custom audiences: customer lists, website (pixel rule) audiences, lookalikes.

docs/platforms.md, Meta: custom audiences: lists are created with `subtype=CUSTOM` and
`customer_file_source=USER_PROVIDED_ONLY` (Usher uploads what buyers gave the
marketplace); members go to `POST|DELETE /{audience}/users` at most 10,000 rows a call,
in one session per upload (same `session_id`, `batch_seq` counting up, `last_batch_flag`
on the last). Website audiences carry a `rule` over the pixel's events and take no
subtype. Lookalikes need a seed of 100 people; `ratio` is the percentage / 100.
"""

from __future__ import annotations

import secrets
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
from usher.platforms.meta.payloads import EVENT_NAMES, PLATFORM

MAX_USERS_PER_CALL = 10_000
# Meta's multi-key customer-file schema, in the order rows are sent (our field -> key).
SCHEMA: tuple[tuple[str, str], ...] = (
    ("email", "EMAIL"),
    ("phone", "PHONE"),
    ("first_name", "FN"),
    ("last_name", "LN"),
    ("city", "CT"),
    ("state", "ST"),
    ("zip", "ZIP"),
    ("country", "COUNTRY"),
    ("gender", "GEN"),
)
SECONDS_PER_DAY = 86_400
MAX_SESSION_ID = 2**53  # JSON-safe integer


class MetaAudiencesConnector(AudiencesConnector[dict[str, Any]]):
    """`account.account_id` is the ad account's number (with or without `act_`)."""

    platform = PLATFORM
    max_members_per_call = MAX_USERS_PER_CALL
    # Meta serves ads to audiences of at least 100 matched people, and seeds lookalikes
    # from 100 (docs/platforms.md, Meta: custom audiences, [V-3p]).
    min_members = 100
    min_lookalike_seed = 100

    def create_list(
        self, account: AudienceAccount, target: CustomerList, first: Sequence[Member]
    ) -> str:
        return self._create(
            account,
            {
                "name": target.name,
                "description": target.description,
                "subtype": "CUSTOM",
                "customer_file_source": "USER_PROVIDED_ONLY",
            },
        )

    def begin(
        self, account: AudienceAccount, audience_id: str, total: int, *, remove: bool
    ) -> dict[str, Any]:
        return {"session_id": secrets.randbelow(MAX_SESSION_ID) + 1, "estimated_num_total": total}

    def send(
        self,
        account: AudienceAccount,
        audience_id: str,
        session: dict[str, Any],
        batch: Sequence[Member],
        *,
        remove: bool,
        last: bool,
    ) -> None:
        session["batch_seq"] = session.get("batch_seq", 0) + 1
        body = {
            "payload": {
                "schema": [key for _, key in SCHEMA],
                "data": [[m.identifiers.get(name, "") for name, _ in SCHEMA] for m in batch],
            },
            "session": {**session, "last_batch_flag": last},
        }
        self._request(account, "DELETE" if remove else "POST", f"/{audience_id}/users", body)

    def create_pixel_audience(self, account: AudienceAccount, rule: PixelRule) -> str:
        return self._create(
            account,
            {"name": rule.name, "description": rule.description, "rule": website_rule(rule)},
        )

    def create_lookalike(self, account: AudienceAccount, spec: LookalikeSpec) -> str:
        return self._create(
            account,
            {
                "name": spec.name,
                "subtype": "LOOKALIKE",
                "origin_audience_id": spec.source_audience_id,
                "lookalike_spec": {"ratio": spec.percentage / 100, "country": spec.country},
            },
        )

    def _create(self, account: AudienceAccount, body: dict[str, Any]) -> str:
        number = account.account_id.removeprefix("act_")
        answer = self._request(account, "POST", f"/act_{number}/customaudiences", body)
        audience_id = answer.get("id") if isinstance(answer, dict) else None
        if not audience_id:
            raise PlatformError(
                ErrorKind.TRANSIENT, "Meta created no audience id", platform=PLATFORM
            )
        return str(audience_id)

    def _request(self, account: AudienceAccount, method: str, path: str, body: Any) -> Any:
        token = require_token(account)
        self.call(account)
        response = get_client(PLATFORM).request(
            method,
            f"/{settings.META_GRAPH_API_VERSION}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
        )
        return response.json


def website_rule(rule: PixelRule) -> dict[str, Any]:
    """Meta's audience rule: the pixel's events within the retention, on the event's
    pages, at least `min_actions` times; buyers (exclude_events) left out."""

    def clause(events: Sequence[str], with_count: bool) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [
            {"operator": "or", "filters": [_event_filter(e) for e in events]}
        ]
        if rule.url_contains:
            filters.append({"field": "url", "operator": "i_contains", "value": rule.url_contains})
        part: dict[str, Any] = {
            "event_sources": [{"id": rule.pixel_id, "type": "pixel"}],
            "retention_seconds": rule.retention_days * SECONDS_PER_DAY,
            "filter": {"operator": "and", "filters": filters},
        }
        if with_count and rule.min_actions > 1:
            part["aggregation"] = {"type": "count", "operator": ">=", "value": rule.min_actions}
        return part

    body: dict[str, Any] = {"inclusions": {"operator": "or", "rules": [clause(rule.events, True)]}}
    if rule.exclude_events:
        body["exclusions"] = {"operator": "or", "rules": [clause(rule.exclude_events, False)]}
    return body


def _event_filter(event: str) -> dict[str, str]:
    return {"field": "event", "operator": "=", "value": EVENT_NAMES[event]}
