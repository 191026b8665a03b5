"""Meta Marketing API: campaign → ad set → creative → ad, and steering them.

Requests follow what Meta accepts in 2026 (docs/platforms.md, Meta: campaigns): ODAX objectives
(`OUTCOME_SALES` with the pixel's PURCHASE as promoted object), `special_ad_categories`
always sent, budgets on the ad set in the currency's minor units, so the campaign says
`is_adset_budget_sharing_enabled`; `targeting_automation.advantage_audience` always
explicit; DSA beneficiary and payor on ad sets that may reach the EU.

Publishing is idempotent: every object's name starts with the spec's reference
(`campaigns_common.object_name`) and each step first looks for an object of that name
(one paged list call per kind), so a retry after a timeout or a crash finds what the
lost attempt created. Objects are created under a PAUSED campaign, which is switched on
last: a half-published campaign never spends.

A spec with a `catalog` publishes as an Advantage+ catalog ads campaign: a product set
of the catalog filtered on the events' retailer ids (`POST /{catalog_id}/product_sets`,
found again by its name like the other objects), the campaign's
`promoted_object.product_catalog_id`, the ad set's `promoted_object` {product_set_id,
custom_event_type PURCHASE} with `product_audience_specs` targeting (who viewed an item
of the set or put it in their cart, not who bought), and template creatives
(`object_story_spec.template_data` with `{{product.name}}`, the creative's
`product_set_id`), so each person sees the event they looked at.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from django.conf import settings

from usher.lib.http import PlatformResponse
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import (
    AdAccount,
    AdState,
    BidStrategy,
    CampaignSpec,
    CampaignState,
    CampaignType,
    CatalogSpec,
    CreativeSpec,
    DeliveryStatus,
    Objective,
    PublishedCampaign,
    ReviewStatus,
    TargetingSpec,
)
from usher.platforms.campaigns_common import (
    CallKind,
    ad_label,
    is_named_for,
    management_request,
    minimum_daily_budget,
    object_name,
    one_budget,
    require_token,
    setting,
    targets_eu,
    to_minor_units,
    unexpected,
)

PLATFORM = "meta"
LIST_PAGE_SIZE = 200
MAX_LIST_PAGES = 50  # 10,000 objects of one kind: far beyond any account Usher manages
OBJECTIVES = {
    Objective.CONVERSIONS: "OUTCOME_SALES",
    Objective.TRAFFIC: "OUTCOME_TRAFFIC",
    Objective.AWARENESS: "OUTCOME_AWARENESS",
}
OPTIMIZATION_GOALS = {
    Objective.CONVERSIONS: "OFFSITE_CONVERSIONS",
    Objective.TRAFFIC: "LINK_CLICKS",
    Objective.AWARENESS: "REACH",
}
BID_STRATEGIES = {
    BidStrategy.LOWEST_COST: "LOWEST_COST_WITHOUT_CAP",
    BidStrategy.COST_CAP: "COST_CAP",
    BidStrategy.BID_CAP: "LOWEST_COST_WITH_BID_CAP",
    BidStrategy.MIN_ROAS: "LOWEST_COST_WITH_MIN_ROAS",
}
ROAS_FLOOR_SCALE = 10_000  # Meta's roas_average_floor: 1.5x is 15000
# Kinds that must reach exactly the audience Usher chose; Advantage+ audience may
# widen prospecting and lookalike delivery beyond the suggestions.
EXACT_AUDIENCE_TYPES = frozenset({CampaignType.RETARGETING, CampaignType.DYNAMIC_REMARKETING})
ADVANTAGE_AGE_MAX = 65
ADVANTAGE_AGE_MIN_LIMIT = 25
EFFECTIVE_STATUSES = {
    "ACTIVE": DeliveryStatus.ACTIVE,
    "PAUSED": DeliveryStatus.PAUSED,
    "CAMPAIGN_PAUSED": DeliveryStatus.PAUSED,
    "ADSET_PAUSED": DeliveryStatus.PAUSED,
    "PENDING_REVIEW": DeliveryStatus.PENDING_REVIEW,
    "IN_PROCESS": DeliveryStatus.PENDING_REVIEW,
    "PREAPPROVED": DeliveryStatus.PENDING_REVIEW,
    "DISAPPROVED": DeliveryStatus.DISAPPROVED,
    "WITH_ISSUES": DeliveryStatus.WITH_ISSUES,
    "PENDING_BILLING_INFO": DeliveryStatus.WITH_ISSUES,
    "DELETED": DeliveryStatus.DELETED,
    "ARCHIVED": DeliveryStatus.ENDED,
}
SECONDS_PER_DAY = 86_400
# Product audience rules: the pixel events that bring someone in (viewed an event's page,
# put tickets in the cart) and the one that takes them out (bought).
CATALOG_INCLUSION_EVENTS = ("ViewContent", "AddToCart")
CATALOG_EXCLUSION_EVENT = "Purchase"
# Template fields Meta fills from each item of the catalog.
TEMPLATE_NAME = "{{product.name}}"
TEMPLATE_DESCRIPTION = "{{product.description}}"
TEMPLATE_MESSAGE = "{{product.name}}: tickets on sale"
# Per-currency daily minimums for ad sets optimizing for purchases (conservative
# values of `GET /act_<id>/minimum_budgets`, which varies by account and goal).
MINIMUM_DAILY_BUDGETS = {"EUR": Decimal("5"), "USD": Decimal("5"), "GBP": Decimal("5")} | {
    "RON": Decimal("25"),
    "HUF": Decimal("2000"),
    "PLN": Decimal("25"),
}


def account_path(account: AdAccount) -> str:
    """`act_<id>` whichever way the account id was stored."""
    raw = account.account_id.strip()
    return raw if raw.startswith("act_") else f"act_{raw}"


# --- Pure request builders ---


def campaign_body(spec: CampaignSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": object_name(spec.reference, spec.name),
        "objective": OBJECTIVES[spec.objective],
        "status": "PAUSED",
        "special_ad_categories": [],
        # Budgets live on the ad set (one per campaign), so none is shared.
        "is_adset_budget_sharing_enabled": False,
    }
    if spec.catalog is not None:
        body["promoted_object"] = {"product_catalog_id": spec.catalog.catalog_id}
    return body


def product_set_name(spec: CampaignSpec) -> str:
    return object_name(spec.reference, f"{spec.name} events")


def product_set_filter(catalog: CatalogSpec) -> dict[str, Any]:
    """The set's rule on the items' retailer ids (the content ids): one event or several."""
    ids = list(catalog.content_ids)
    rule = {"eq": ids[0]} if len(ids) == 1 else {"is_any": ids}
    return {"retailer_id": rule}


def product_audience_specs(catalog: CatalogSpec, product_set_id: str) -> list[dict[str, Any]]:
    """Who the catalog ad set reaches: viewers and cart abandoners of the set's items in
    the retention window, minus who bought in it."""
    seconds = catalog.retention_days * SECONDS_PER_DAY
    return [
        {
            "product_set_id": product_set_id,
            "inclusions": [
                {"retention_seconds": seconds, "rule": {"event": {"eq": event}}}
                for event in CATALOG_INCLUSION_EVENTS
            ],
            "exclusions": [
                {"retention_seconds": seconds, "rule": {"event": {"eq": CATALOG_EXCLUSION_EVENT}}}
            ],
        }
    ]


def targeting_body(targeting: TargetingSpec, campaign_type: CampaignType) -> dict[str, Any]:
    geo: dict[str, Any] = {}
    if targeting.countries:
        geo["countries"] = [country.upper() for country in targeting.countries]
    if targeting.locations:
        geo["custom_locations"] = [
            {
                "latitude": location.latitude,
                "longitude": location.longitude,
                "radius": location.radius_km,
                "distance_unit": "kilometer",
            }
            for location in targeting.locations
        ]
    body: dict[str, Any] = {"geo_locations": geo}
    if targeting.age_min is not None:
        body["age_min"] = targeting.age_min
    if targeting.age_max is not None:
        body["age_max"] = targeting.age_max
    if targeting.include_audience_ids:
        body["custom_audiences"] = [{"id": i} for i in targeting.include_audience_ids]
    if targeting.exclude_audience_ids:
        body["excluded_custom_audiences"] = [{"id": i} for i in targeting.exclude_audience_ids]
    # Free-text interests are not sent: Meta wants interest ids from its Targeting
    # Search. Prospecting relies on Advantage+ audience around the venue instead.
    # Advantage+ audience treats ages as suggestions and only takes age_max 65 and
    # age_min up to 25 (#9b); a narrower range is a hard limit, so it must be off.
    narrow_ages = (targeting.age_max not in (None, ADVANTAGE_AGE_MAX)) or (
        targeting.age_min is not None and targeting.age_min > ADVANTAGE_AGE_MIN_LIMIT
    )
    exact = (
        campaign_type in EXACT_AUDIENCE_TYPES or bool(targeting.include_audience_ids) or narrow_ages
    )
    body["targeting_automation"] = {"advantage_audience": 0 if exact else 1}
    return body


def adset_body(
    account: AdAccount,
    spec: CampaignSpec,
    campaign_id: str,
    pixel_id: str | None,
    product_set_id: str = "",
) -> dict[str, Any]:
    """The ad set; a catalog spec's ad set promotes `product_set_id` (empty in the draft
    built to validate the spec before any call)."""
    body: dict[str, Any] = {
        "name": object_name(spec.reference, f"{spec.name} ad set"),
        "campaign_id": campaign_id,
        "status": "ACTIVE",
        "billing_event": "IMPRESSIONS",
        "optimization_goal": OPTIMIZATION_GOALS[spec.objective],
        "bid_strategy": BID_STRATEGIES[spec.bid_strategy],
        "targeting": targeting_body(spec.targeting, spec.campaign_type),
        "start_time": spec.start_time.isoformat(),
    }
    if spec.end_time is not None:
        body["end_time"] = spec.end_time.isoformat()
    if spec.daily_budget is not None:
        body["daily_budget"] = to_minor_units(spec.daily_budget, account.currency)
    else:
        assert spec.lifetime_budget is not None  # CampaignSpec guarantees one budget
        body["lifetime_budget"] = to_minor_units(spec.lifetime_budget, account.currency)
    if spec.bid_amount is not None:
        body["bid_amount"] = to_minor_units(spec.bid_amount, account.currency)
    if spec.roas_floor is not None:
        body["optimization_goal"] = "VALUE"  # a ROAS floor optimizes for purchase value
        body["bid_constraints"] = {"roas_average_floor": int(spec.roas_floor * ROAS_FLOOR_SCALE)}
    if spec.catalog is not None:
        # The product audience replaces the cart abandoners' custom audience: it is the
        # same people, per item, which is what lets Meta show each their event.
        body["targeting"].pop("custom_audiences", None)
        body["targeting"]["product_audience_specs"] = product_audience_specs(
            spec.catalog, product_set_id
        )
        body["promoted_object"] = {
            "product_set_id": product_set_id,
            "custom_event_type": "PURCHASE",
        }
    elif spec.objective == Objective.CONVERSIONS:
        if not pixel_id:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "a conversions campaign needs the Meta pixel id (spec.conversion_id or the "
                "account's pixel_id setting)",
                platform=PLATFORM,
            )
        body["promoted_object"] = {"pixel_id": pixel_id, "custom_event_type": "PURCHASE"}
    beneficiary = spec.dsa_beneficiary or account.settings.get("dsa_beneficiary")
    payor = spec.dsa_payor or account.settings.get("dsa_payor") or beneficiary
    if targets_eu(spec.targeting.countries):
        if not beneficiary:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "ads that may reach the EU need a DSA beneficiary (spec.dsa_beneficiary or "
                "the account's dsa_beneficiary setting)",
                platform=PLATFORM,
            )
        body["dsa_beneficiary"] = beneficiary
        body["dsa_payor"] = payor
    return body


def creative_body(
    spec: CampaignSpec, creative: CreativeSpec, page_id: str, product_set_id: str = ""
) -> dict[str, Any]:
    if spec.catalog is not None:
        return template_creative_body(spec, creative, page_id, product_set_id)
    link_data: dict[str, Any] = {
        "link": creative.landing_url,
        "message": creative.description,
        "name": creative.headline,
        "call_to_action": {
            "type": creative.call_to_action,
            "value": {"link": creative.landing_url},
        },
    }
    if creative.image_url:
        link_data["picture"] = creative.image_url
    return {
        "name": ad_label(spec.reference, creative.reference),
        "object_story_spec": {"page_id": page_id, "link_data": link_data},
    }


def template_creative_body(
    spec: CampaignSpec, creative: CreativeSpec, page_id: str, product_set_id: str
) -> dict[str, Any]:
    """A catalog ad's template: Meta fills name, description, image and link from the
    item each person looked at. The variant's own text names the event, so it is the
    message only when the set holds that one event; the landing URL's tags (UTM and
    Usher's campaign id) go on every item's link as `url_tags`, once."""
    assert spec.catalog is not None
    single = len(spec.catalog.content_ids) == 1
    landing = urlsplit(creative.landing_url)
    template_data = {
        "message": creative.headline if single else TEMPLATE_MESSAGE,
        "name": TEMPLATE_NAME,
        "description": TEMPLATE_DESCRIPTION,
        "link": urlunsplit(landing._replace(query="")),
        "call_to_action": {"type": creative.call_to_action},
    }
    body: dict[str, Any] = {
        "name": ad_label(spec.reference, creative.reference),
        "product_set_id": product_set_id,
        "object_story_spec": {"page_id": page_id, "template_data": template_data},
    }
    if landing.query:
        body["url_tags"] = landing.query
    return body


def ad_body(
    spec: CampaignSpec, creative: CreativeSpec, adset_id: str, creative_id: str
) -> dict[str, Any]:
    return {
        "name": ad_label(spec.reference, creative.reference),
        "adset_id": adset_id,
        "creative": {"creative_id": creative_id},
        "status": "ACTIVE",
    }


def delivery_status(effective_status: Any) -> DeliveryStatus:
    return EFFECTIVE_STATUSES.get(str(effective_status or ""), DeliveryStatus.WITH_ISSUES)


def review_of(ad: dict[str, Any]) -> tuple[ReviewStatus, str | None]:
    """Review status and Meta's reasons (`ad_review_feedback.global`, `issues_info`)."""
    status = str(ad.get("effective_status") or "")
    feedback = ad.get("ad_review_feedback")
    reasons: list[str] = []
    if isinstance(feedback, dict):
        for scope in feedback.values():
            if isinstance(scope, dict):
                reasons.extend(f"{key}: {value}" for key, value in scope.items())
    for issue in ad.get("issues_info") or []:
        if isinstance(issue, dict) and issue.get("error_message"):
            reasons.append(str(issue["error_message"]))
    text = "; ".join(reasons) or None
    if status == "DISAPPROVED":
        return ReviewStatus.DISAPPROVED, text
    if status in ("PENDING_REVIEW", "IN_PROCESS"):
        return ReviewStatus.PENDING, text
    return ReviewStatus.APPROVED, text


# --- The connector ---


class MetaCampaignsConnector:
    """`CampaignsConnector` for Meta; `account.account_id` is the ad account (`act_…`).

    Settings used: `page_id` (the Facebook page the ads run as; required),
    `pixel_id` (when the spec has no `conversion_id`), `dsa_beneficiary` / `dsa_payor`.
    """

    platform: ClassVar[str] = PLATFORM
    # A day may spend 75% over the daily budget, a calendar week at most 7 daily budgets.
    daily_overdelivery_factor: ClassVar[Decimal] = Decimal("1.75")
    weekly_overdelivery_factor: ClassVar[Decimal | None] = Decimal("7")
    # An ad set never spends past its lifetime budget; its budget type is fixed.
    lifetime_budget_hard_cap: ClassVar[bool] = True
    budget_type_locked_once_live: ClassVar[bool] = True
    catalog_campaigns: ClassVar[bool] = True
    # An ad set's budget may change 4 times an hour; a fifth is error 17.
    budget_changes_per_hour: ClassVar[int] = 4

    def minimum_daily_budget(self, currency: str) -> Decimal:
        return minimum_daily_budget(MINIMUM_DAILY_BUDGETS, currency, PLATFORM)

    def publish(self, account: AdAccount, spec: CampaignSpec) -> PublishedCampaign:
        token = require_token(account)
        page_id = setting(account, "page_id", "the page ads run as")
        pixel_id = spec.conversion_id or account.settings.get("pixel_id")
        adset_body(account, spec, "", pixel_id)  # a spec Meta would refuse fails before any call
        product_set_id = ""
        if spec.catalog is not None:
            product_set_id = self._product_set(account, token, spec, spec.catalog)
        campaign_id = self._find(account, token, "campaigns", spec.reference)
        if campaign_id is None:
            campaign_id = self._create(account, token, "campaigns", campaign_body(spec))
        adset_id = self._find(account, token, "adsets", spec.reference, campaign_id=campaign_id)
        if adset_id is None:
            adset_id = self._create(
                account,
                token,
                "adsets",
                adset_body(account, spec, campaign_id, pixel_id, product_set_id),
            )
        ads = self._ads_by_name(account, token, adset_id)
        published: dict[str, str] = {}
        for creative in spec.creatives:
            name = ad_label(spec.reference, creative.reference)
            if name not in ads:
                creative_id = self._find_creative(account, token, name) or self._create(
                    account,
                    token,
                    "adcreatives",
                    creative_body(spec, creative, page_id, product_set_id),
                )
                ads[name] = self._create(
                    account, token, "ads", ad_body(spec, creative, adset_id, creative_id)
                )
            published[creative.reference] = ads[name]
        self._post(account, token, CallKind.PUBLISH, campaign_id, {"status": "ACTIVE"})
        return PublishedCampaign(campaign_id=campaign_id, ad_group_id=adset_id, ads=published)

    def set_status(self, account: AdAccount, published: PublishedCampaign, active: bool) -> None:
        token = require_token(account)
        status = "ACTIVE" if active else "PAUSED"
        self._post(account, token, CallKind.WRITE, published.campaign_id, {"status": status})

    def set_ad_status(self, account: AdAccount, ad_id: str, active: bool) -> None:
        token = require_token(account)
        self._post(
            account, token, CallKind.WRITE, ad_id, {"status": "ACTIVE" if active else "PAUSED"}
        )

    def set_budget(
        self,
        account: AdAccount,
        published: PublishedCampaign,
        *,
        daily_budget: Decimal | None = None,
        lifetime_budget: Decimal | None = None,
    ) -> None:
        """Change the ad set's budget. Meta allows about 4 changes per ad set per hour;
        the fifth answers error 17, raised as RATE_LIMITED."""
        kind, amount = one_budget(daily_budget, lifetime_budget)
        token = require_token(account)
        self._post(
            account,
            token,
            CallKind.WRITE,
            published.ad_group_id,
            {f"{kind}_budget": to_minor_units(amount, account.currency)},
        )

    def read_state(self, account: AdAccount, published: PublishedCampaign) -> CampaignState:
        token = require_token(account)
        campaign = self._get(
            account, token, published.campaign_id, "id,status,effective_status"
        ).json
        adset = self._get(
            account, token, published.ad_group_id, "id,effective_status,learning_stage_info"
        ).json
        ads = self._list(
            account,
            token,
            "ads",
            "id,name,effective_status,ad_review_feedback,issues_info",
            [{"field": "adset.id", "operator": "IN", "value": [published.ad_group_id]}],
            CallKind.READ,
        )
        wanted = set(published.ads.values())
        ad_states = []
        for ad in ads:
            if str(ad.get("id")) not in wanted:
                continue
            review, feedback = review_of(ad)
            ad_states.append(
                AdState(
                    str(ad["id"]), delivery_status(ad.get("effective_status")), review, feedback
                )
            )
        learning = adset.get("learning_stage_info") if isinstance(adset, dict) else None
        raw = str(campaign.get("effective_status") or "") if isinstance(campaign, dict) else ""
        return CampaignState(
            campaign_id=published.campaign_id,
            status=delivery_status(raw),
            ads=ad_states,
            learning_phase=str(learning.get("status")) if isinstance(learning, dict) else None,
            raw_status=raw,
        )

    # --- calls ---

    def _find(
        self,
        account: AdAccount,
        token: str,
        edge: str,
        reference: str,
        *,
        campaign_id: str | None = None,
    ) -> str | None:
        """The id of this reference's object on `edge`, or None (deleted ones excluded)."""
        filtering: list[dict[str, Any]] = [
            {"field": "name", "operator": "CONTAIN", "value": reference}
        ]
        if campaign_id:
            filtering.append({"field": "campaign.id", "operator": "EQUAL", "value": campaign_id})
        fields = "id,name,campaign_id" if campaign_id else "id,name"
        for item in self._list(account, token, edge, fields, filtering):
            # Meta's CONTAIN is a substring match; the name's prefix decides.
            if is_named_for(item.get("name"), reference) and (
                campaign_id is None or str(item.get("campaign_id")) == campaign_id
            ):
                return str(item["id"])
        return None

    def _product_set(
        self, account: AdAccount, token: str, spec: CampaignSpec, catalog: CatalogSpec
    ) -> str:
        """The campaign's product set in the catalog: the one an earlier attempt made
        (by name), else a new one filtered on the events' retailer ids."""
        path = f"{catalog.catalog_id}/product_sets"
        params = {"fields": "id,name", "limit": LIST_PAGE_SIZE}
        for item in self._pages(account, token, CallKind.CATALOG, path, params):
            if is_named_for(item.get("name"), spec.reference):
                return str(item["id"])
        body = {"name": product_set_name(spec), "filter": product_set_filter(catalog)}
        created = self._call(account, token, CallKind.CATALOG, "POST", path, json=body).json
        if not isinstance(created, dict) or not created.get("id"):
            raise unexpected(PLATFORM, "product set created without an id")
        return str(created["id"])

    def _find_creative(self, account: AdAccount, token: str, name: str) -> str | None:
        filtering = [{"field": "name", "operator": "EQUAL", "value": name}]
        for item in self._list(account, token, "adcreatives", "id,name", filtering):
            if item.get("name") == name:
                return str(item["id"])
        return None

    def _ads_by_name(self, account: AdAccount, token: str, adset_id: str) -> dict[str, str]:
        filtering = [{"field": "adset.id", "operator": "IN", "value": [adset_id]}]
        return {
            str(item.get("name")): str(item["id"])
            for item in self._list(account, token, "ads", "id,name,adset_id", filtering)
            if str(item.get("adset_id")) == adset_id
        }

    def _list(
        self,
        account: AdAccount,
        token: str,
        edge: str,
        fields: str,
        filtering: list[dict[str, Any]],
        kind: CallKind = CallKind.PUBLISH,
    ) -> list[dict[str, Any]]:
        """Every object of `edge` that matches."""
        params: dict[str, Any] = {
            "fields": fields,
            "filtering": json.dumps(filtering),
            "limit": LIST_PAGE_SIZE,
        }
        return self._pages(account, token, kind, f"{account_path(account)}/{edge}", params)

    def _pages(
        self, account: AdAccount, token: str, kind: CallKind, path: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Every object a list call answers, following Graph's `after` cursors."""
        found: list[dict[str, Any]] = []
        for _ in range(MAX_LIST_PAGES):
            answer = self._call(account, token, kind, "GET", path, params=params).json
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise unexpected(PLATFORM, f"{path} list without data")
            found.extend(item for item in answer["data"] if isinstance(item, dict) and "id" in item)
            after = next_cursor(answer)
            if after is None:
                return found
            params = params | {"after": after}
        return found

    def _create(self, account: AdAccount, token: str, edge: str, body: dict[str, Any]) -> str:
        answer = self._call(
            account, token, CallKind.PUBLISH, "POST", f"{account_path(account)}/{edge}", json=body
        ).json
        if not isinstance(answer, dict) or not answer.get("id"):
            raise unexpected(PLATFORM, f"{edge} create without id")
        return str(answer["id"])

    def _post(
        self, account: AdAccount, token: str, kind: CallKind, object_id: str, body: dict[str, Any]
    ) -> None:
        self._call(account, token, kind, "POST", object_id, json=body)

    def _get(self, account: AdAccount, token: str, object_id: str, fields: str) -> PlatformResponse:
        return self._call(
            account, token, CallKind.READ, "GET", object_id, params={"fields": fields}
        )

    def _call(
        self, account: AdAccount, token: str, kind: CallKind, method: str, path: str, **kwargs: Any
    ) -> PlatformResponse:
        return management_request(
            account,
            kind,
            method,
            f"/{settings.META_GRAPH_API_VERSION}/{path}",
            # A header, not the access_token parameter: it stays out of URLs and bodies.
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
            **kwargs,
        )


def next_cursor(answer: dict[str, Any]) -> str | None:
    """Graph's `after` cursor when there is a next page (`paging.next` present), else None."""
    paging = answer.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    if isinstance(cursors, dict) and cursors.get("after"):
        return str(cursors["after"])
    after = parse_qs(urlsplit(str(paging["next"])).query).get("after")
    return after[0] if after else None
