"""TikTok campaign management: campaign → ad group → ads (creatives uploaded by URL).

Requests follow the Business API v1.3 as TikTok accepts it in 2026 (docs/platforms.md,
TikTok: campaigns and budgets): the budget sits on the ad group (`budget_mode`, `budget` in
the currency's major units and `pacing` are then required), the campaign has none
(`BUDGET_MODE_INFINITE`), conversions optimize for the pixel's Complete Payment. TikTok
targets countries (location ids), not points with a radius.

Publishing is idempotent: names start with the spec's reference and each step lists
the account's objects first (one paged call). All ads of a campaign are created in one
`ad/create` call, which TikTok applies as a whole. The campaign is created disabled
and enabled last.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any, ClassVar

from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import (
    AdAccount,
    AdState,
    BidStrategy,
    CampaignSpec,
    CampaignState,
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
    minimum_daily_budget,
    object_name,
    one_budget,
    round_down_to_cents,
    setting,
    tiktok_location_id,
    unexpected,
)
from usher.platforms.tiktok.api import TikTokApi
from usher.platforms.tiktok.payloads import PLATFORM

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # UTC+0, as TikTok's schedule times are
OBJECTIVES = {
    Objective.CONVERSIONS: "WEB_CONVERSIONS",
    Objective.TRAFFIC: "TRAFFIC",
    Objective.AWARENESS: "REACH",
}
# optimization goal, billing event
GOALS = {
    Objective.CONVERSIONS: ("CONVERT", "OCPM"),
    Objective.TRAFFIC: ("CLICK", "CPC"),
    Objective.AWARENESS: ("REACH", "CPM"),
}
COMPLETE_PAYMENT_EVENT = "SHOPPING"  # TikTok's optimization event for Complete Payment
CALLS_TO_ACTION = {
    "BUY_TICKETS": "GET_TICKETS_NOW",
    "BOOK_NOW": "BOOK_NOW",
    "SHOP_NOW": "SHOP_NOW",
    "BUY_NOW": "SHOP_NOW",
    "ORDER_NOW": "ORDER_NOW",
    "SIGN_UP": "SIGN_UP",
}
AGE_GROUPS = (
    ("AGE_13_17", 13, 17),
    ("AGE_18_24", 18, 24),
    ("AGE_25_34", 25, 34),
    ("AGE_35_44", 35, 44),
    ("AGE_45_54", 45, 54),
    ("AGE_55_100", 55, 100),
)
# Daily minimums: $20 per ad group (docs/platforms.md, TikTok: campaigns and budgets), in a
# few account currencies.
MINIMUM_DAILY_BUDGETS = {"USD": Decimal("20"), "EUR": Decimal("20"), "GBP": Decimal("20")} | {
    "RON": Decimal("100"),
    "HUF": Decimal("8000"),
    "PLN": Decimal("90"),
}
OPERATION_STATUSES = {"ENABLE": DeliveryStatus.ACTIVE, "DISABLE": DeliveryStatus.PAUSED}
DISAPPROVED_WORDS = ("REVIEW_FAIL", "NOT_APPROVE", "REJECT", "AUDIT_DENY")


# --- Pure request builders ---


def age_groups(targeting: TargetingSpec) -> list[str]:
    """TikTok's age brackets overlapping [age_min, age_max]; empty means all ages."""
    if targeting.age_min is None and targeting.age_max is None:
        return []
    low = targeting.age_min or 13
    high = targeting.age_max or 100
    return [name for name, first, last in AGE_GROUPS if first <= high and last >= low]


def campaign_body(spec: CampaignSpec) -> dict[str, Any]:
    return {
        "campaign_name": object_name(spec.reference, spec.name),
        "objective_type": OBJECTIVES[spec.objective],
        "budget_mode": "BUDGET_MODE_INFINITE",  # the ad group holds the budget
        "operation_status": "DISABLE",
    }


def budget_fields(daily: Decimal | None, lifetime: Decimal | None) -> dict[str, Any]:
    if daily is not None:
        return {"budget_mode": "BUDGET_MODE_DAY", "budget": float(round_down_to_cents(daily))}
    assert lifetime is not None
    return {"budget_mode": "BUDGET_MODE_TOTAL", "budget": float(round_down_to_cents(lifetime))}


def adgroup_body(
    account: AdAccount, spec: CampaignSpec, campaign_id: str, pixel_id: str | None
) -> dict[str, Any]:
    if not spec.targeting.countries:
        raise PlatformError(
            ErrorKind.PERMANENT,
            "TikTok ad groups target countries; the spec names none",
            platform=PLATFORM,
        )
    goal, billing = GOALS[spec.objective]
    body: dict[str, Any] = {
        "campaign_id": campaign_id,
        "adgroup_name": object_name(spec.reference, "ad group"),
        "promotion_type": "WEBSITE",
        "placement_type": "PLACEMENT_TYPE_NORMAL",
        "placements": ["PLACEMENT_TIKTOK"],
        "location_ids": [tiktok_location_id(country) for country in spec.targeting.countries],
        "schedule_type": "SCHEDULE_START_END" if spec.end_time else "SCHEDULE_FROM_NOW",
        "schedule_start_time": spec.start_time.astimezone(UTC).strftime(TIME_FORMAT),
        "optimization_goal": goal,
        "billing_event": billing,
        "pacing": "PACING_MODE_SMOOTH",
        "bid_type": "BID_TYPE_NO_BID",
        "operation_status": "ENABLE",
        **budget_fields(spec.daily_budget, spec.lifetime_budget),
    }
    if spec.end_time is not None:
        body["schedule_end_time"] = spec.end_time.astimezone(UTC).strftime(TIME_FORMAT)
    if groups := age_groups(spec.targeting):
        body["age_groups"] = groups
    if spec.targeting.languages:
        body["languages"] = list(spec.targeting.languages)
    if spec.targeting.include_audience_ids:
        body["audience_ids"] = list(spec.targeting.include_audience_ids)
    if spec.targeting.exclude_audience_ids:
        body["excluded_audience_ids"] = list(spec.targeting.exclude_audience_ids)
    if spec.bid_strategy == BidStrategy.COST_CAP and spec.bid_amount is not None:
        body |= {"bid_type": "BID_TYPE_CUSTOM", "conversion_bid_price": float(spec.bid_amount)}
    elif spec.bid_strategy == BidStrategy.BID_CAP and spec.bid_amount is not None:
        body |= {"bid_type": "BID_TYPE_CUSTOM", "bid_price": float(spec.bid_amount)}
    elif spec.bid_strategy == BidStrategy.MIN_ROAS and spec.roas_floor is not None:
        body |= {
            "optimization_goal": "VALUE",
            "deep_bid_type": "VO_MIN_ROAS",
            "roas_bid": float(spec.roas_floor),
        }
    if body["optimization_goal"] in ("CONVERT", "VALUE"):
        if not pixel_id:
            raise PlatformError(
                ErrorKind.PERMANENT,
                "a conversions ad group needs the TikTok pixel id (spec.conversion_id or the "
                "account's pixel_id setting)",
                platform=PLATFORM,
            )
        body |= {"pixel_id": pixel_id, "optimization_event": COMPLETE_PAYMENT_EVENT}
    return body


def creative_body(
    spec: CampaignSpec, creative: CreativeSpec, identity_id: str, material: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ad_name": ad_label(spec.reference, creative.reference),
        "ad_format": "SINGLE_VIDEO" if "video_id" in material else "SINGLE_IMAGE",
        "ad_text": creative.description[:100],
        "landing_page_url": creative.landing_url,
        "call_to_action": CALLS_TO_ACTION.get(creative.call_to_action, "LEARN_MORE"),
        "identity_type": "CUSTOMIZED_USER",
        "identity_id": identity_id,
        **material,
    }


def delivery_status(item: dict[str, Any]) -> tuple[DeliveryStatus, ReviewStatus, str | None]:
    """From `operation_status` and `secondary_status` (AD_STATUS_IN_REVIEW,
    AD_STATUS_REVIEW_FAIL, AD_STATUS_PARTIAL_AUDIT_DELIVERY_OK, AD_STATUS_DELIVERY_OK...).
    A paused ad reads as paused whatever its review says; the review is kept apart."""
    secondary = str(item.get("secondary_status") or "")
    operation = str(item.get("operation_status") or "")
    feedback = None
    if any(word in secondary for word in DISAPPROVED_WORDS):
        review, feedback = ReviewStatus.DISAPPROVED, secondary
    elif "IN_REVIEW" in secondary or secondary.endswith("_REVIEW"):
        review = ReviewStatus.PENDING
    else:
        review = ReviewStatus.APPROVED
    if operation == "DELETE" or "DELETE" in secondary:
        status = DeliveryStatus.DELETED
    elif operation == "DISABLE":
        status = DeliveryStatus.PAUSED
    elif review == ReviewStatus.DISAPPROVED:
        status = DeliveryStatus.DISAPPROVED
    elif review == ReviewStatus.PENDING:
        status = DeliveryStatus.PENDING_REVIEW
    elif "PARTIAL" in secondary:
        status = DeliveryStatus.WITH_ISSUES
    else:
        status = OPERATION_STATUSES.get(operation, DeliveryStatus.WITH_ISSUES)
    return status, review, feedback


# --- The connector ---


class TikTokCampaignsConnector:
    """`CampaignsConnector` for TikTok; `account.account_id` is the advertiser id.

    Settings used: `identity_id` (the custom identity ads run as; required),
    `pixel_id` (when the spec has no `conversion_id`).
    """

    platform: ClassVar[str] = PLATFORM
    # TikTok may exceed a daily budget by up to 25% on a day [U: TikTok's help centre;
    # docs/platforms.md, TikTok: campaigns and budgets]; no weekly cap is stated.
    daily_overdelivery_factor: ClassVar[Decimal] = Decimal("1.25")
    weekly_overdelivery_factor: ClassVar[Decimal | None] = None
    # BUDGET_MODE_TOTAL is a cap; a live ad group keeps its budget type (#9b).
    lifetime_budget_hard_cap: ClassVar[bool] = True
    budget_type_locked_once_live: ClassVar[bool] = True

    def minimum_daily_budget(self, currency: str) -> Decimal:
        return minimum_daily_budget(MINIMUM_DAILY_BUDGETS, currency, PLATFORM)

    def publish(self, account: AdAccount, spec: CampaignSpec) -> PublishedCampaign:
        api = TikTokApi(account)
        identity_id = setting(account, "identity_id", "the identity ads run as")
        pixel_id = spec.conversion_id or account.settings.get("pixel_id")
        for creative in spec.creatives:
            if not (creative.image_url or creative.video_url):
                raise PlatformError(
                    ErrorKind.PERMANENT,
                    f"TikTok ads need an image or a video (creative {creative.reference})",
                    platform=PLATFORM,
                )
        adgroup_draft = adgroup_body(account, spec, "", pixel_id)  # fails before any call
        campaign_id = self._find(api, "campaign", spec.reference, {})
        if campaign_id is None:
            campaign_id = self._created_id(
                api.post("campaign/create", campaign_body(spec), CallKind.PUBLISH), "campaign_id"
            )
        adgroup_id = self._find(api, "adgroup", spec.reference, {"campaign_ids": [campaign_id]})
        if adgroup_id is None:
            adgroup_id = self._created_id(
                api.post(
                    "adgroup/create", adgroup_draft | {"campaign_id": campaign_id}, CallKind.PUBLISH
                ),
                "adgroup_id",
            )
        ads = self._ads_by_name(api, adgroup_id)
        missing = [
            creative
            for creative in spec.creatives
            if ad_label(spec.reference, creative.reference) not in ads
        ]
        if missing:
            creatives = [
                creative_body(spec, creative, identity_id, self._material(api, creative))
                for creative in missing
            ]
            answer = api.post(
                "ad/create", {"adgroup_id": adgroup_id, "creatives": creatives}, CallKind.PUBLISH
            )
            ad_ids = answer.get("ad_ids")
            if not isinstance(ad_ids, list) or len(ad_ids) != len(missing):
                raise unexpected(PLATFORM, "ad/create without one ad id per creative")
            for creative, ad_id in zip(missing, ad_ids, strict=True):
                ads[ad_label(spec.reference, creative.reference)] = str(ad_id)
        self._set_status(api, "campaign", [campaign_id], True, CallKind.PUBLISH)
        return PublishedCampaign(
            campaign_id=campaign_id,
            ad_group_id=adgroup_id,
            ads={
                creative.reference: ads[ad_label(spec.reference, creative.reference)]
                for creative in spec.creatives
            },
        )

    def set_status(self, account: AdAccount, published: PublishedCampaign, active: bool) -> None:
        self._set_status(TikTokApi(account), "campaign", [published.campaign_id], active)

    def set_ad_status(self, account: AdAccount, ad_id: str, active: bool) -> None:
        self._set_status(TikTokApi(account), "ad", [ad_id], active)

    def set_budget(
        self,
        account: AdAccount,
        published: PublishedCampaign,
        *,
        daily_budget: Decimal | None = None,
        lifetime_budget: Decimal | None = None,
    ) -> None:
        """Change the ad group's budget amount. TikTok cannot change a live budget's type,
        so the amount must be of the kind the campaign was published with."""
        _, amount = one_budget(daily_budget, lifetime_budget)
        TikTokApi(account).post(
            "adgroup/update",
            {"adgroup_id": published.ad_group_id, "budget": float(round_down_to_cents(amount))},
            CallKind.WRITE,
        )

    def read_state(self, account: AdAccount, published: PublishedCampaign) -> CampaignState:
        api = TikTokApi(account)
        campaigns = api.pages(
            "campaign/get", {"filtering": {"campaign_ids": [published.campaign_id]}}, CallKind.READ
        )
        campaign = next(
            (c for c in campaigns if str(c.get("campaign_id")) == published.campaign_id), None
        )
        if campaign is None:
            raise unexpected(PLATFORM, f"campaign {published.campaign_id} not found")
        wanted = list(published.ads.values())
        ads = []
        for item in api.pages("ad/get", {"filtering": {"ad_ids": wanted}}, CallKind.READ):
            ad_id = str(item.get("ad_id"))
            if ad_id in wanted:
                status, review, feedback = delivery_status(item)
                ads.append(AdState(ad_id, status, review, feedback))
        status, _, _ = delivery_status(campaign)
        return CampaignState(
            campaign_id=published.campaign_id,
            status=status,
            ads=ads,
            raw_status=str(campaign.get("secondary_status") or campaign.get("operation_status")),
        )

    # --- calls ---

    def _find(
        self, api: TikTokApi, kind: str, reference: str, filtering: dict[str, Any]
    ) -> str | None:
        # TikTok's name filter is a fuzzy match; the name's prefix decides.
        items = api.pages(
            f"{kind}/get", {"filtering": filtering | {f"{kind}_name": reference}}, CallKind.PUBLISH
        )
        parents = {str(i) for i in filtering.get("campaign_ids", [])}
        for item in items:
            if item.get("operation_status") == "DELETE":
                continue
            if parents and str(item.get("campaign_id")) not in parents:
                continue
            if is_named_for(item.get(f"{kind}_name"), reference):
                return str(item[f"{kind}_id"])
        return None

    def _ads_by_name(self, api: TikTokApi, adgroup_id: str) -> dict[str, str]:
        items = api.pages("ad/get", {"filtering": {"adgroup_ids": [adgroup_id]}}, CallKind.PUBLISH)
        return {
            str(item.get("ad_name")): str(item["ad_id"])
            for item in items
            if str(item.get("adgroup_id")) == adgroup_id
            and item.get("operation_status") != "DELETE"
        }

    def _material(self, api: TikTokApi, creative: CreativeSpec) -> dict[str, Any]:
        """Upload the creative's video or image by URL; the id the ad references."""
        kind, url = (
            ("video", creative.video_url) if creative.video_url else ("image", creative.image_url)
        )
        answer = api.post(
            f"file/{kind}/ad/upload",
            {"upload_type": "UPLOAD_BY_URL", f"{kind}_url": url},
            CallKind.PUBLISH,
        )
        material_id = answer.get(f"{kind}_id")
        if not material_id:
            raise unexpected(PLATFORM, f"{kind} upload without an id")
        return {"video_id": material_id} if kind == "video" else {"image_ids": [material_id]}

    def _set_status(
        self,
        api: TikTokApi,
        kind: str,
        ids: list[str],
        active: bool,
        call_kind: CallKind = CallKind.WRITE,
    ) -> None:
        api.post(
            f"{kind}/status/update",
            {f"{kind}_ids": ids, "operation_status": "ENABLE" if active else "DISABLE"},
            call_kind,
        )

    @staticmethod
    def _created_id(data: dict[str, Any], key: str) -> str:
        if not data.get(key):
            raise unexpected(PLATFORM, f"create without {key}")
        return str(data[key])
