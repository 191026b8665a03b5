"""Google Ads campaign management: budget → campaign (+ criteria) → ad group → ads.

Usher runs Search campaigns with responsive search ads: they need no image assets, and
ticket buyers search for the event by name. Requests follow Google Ads API v25 in 2026
(docs/platforms.md, Google Ads: campaigns and budgets): every campaign declares
`containsEuPoliticalAdvertising` (an undeclared one blocks all campaign mutates of the
account since April 2026), budgets are non-shared, in micros and a multiple of the
currency's smallest unit.

Publishing is idempotent: names start with the spec's reference (unique per account,
which Google enforces for budgets and campaigns), each step first looks for its object
with GAQL, and each step's objects are created in one all-or-nothing mutate. The
campaign is created PAUSED and enabled last. Ads are known by their AdGroupAd id
(`<ad group id>~<ad id>`), which is what pausing one needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from usher.lib.timezones import zone_named
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
)
from usher.platforms.campaigns_common import (
    CallKind,
    ad_label,
    google_geo_target,
    int_or_zero,
    is_named_for,
    minimum_daily_budget,
    object_name,
    one_budget,
    round_down_to_cents,
    to_micros,
    unexpected,
)
from usher.platforms.google_ads.api import GoogleAdsApi, gaql_string, last_id
from usher.platforms.google_ads.payloads import PLATFORM

HEADLINE_MAX_CHARS = 30
DESCRIPTION_MAX_CHARS = 90
MIN_HEADLINES = 3
KEYWORD_MAX_WORDS = 10
KEYWORD_MAX_CHARS = 80
MIN_DESCRIPTIONS = 2
# Filler lines so every responsive search ad has Google's minimum of 3 headlines and
# 2 descriptions when a creative brings one of each.
FILLER_HEADLINES = ("Buy Tickets Online", "Official Tickets", "Tickets on Sale Now")
FILLER_DESCRIPTIONS = ("Secure your tickets online in a few minutes.",)
DATE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # in the account's time zone
SECONDS_PER_DAY = 86_400
MINIMUM_DAILY_BUDGETS = {"EUR": Decimal("1"), "USD": Decimal("1"), "GBP": Decimal("1")} | {
    "RON": Decimal("5"),
    "HUF": Decimal("400"),
    "PLN": Decimal("5"),
}
STATUSES = {
    "ENABLED": DeliveryStatus.ACTIVE,
    "PAUSED": DeliveryStatus.PAUSED,
    "REMOVED": DeliveryStatus.DELETED,
}
APPROVALS = {
    "APPROVED": ReviewStatus.APPROVED,
    "APPROVED_LIMITED": ReviewStatus.APPROVED,
    "AREA_OF_INTEREST_ONLY": ReviewStatus.APPROVED,
    "DISAPPROVED": ReviewStatus.DISAPPROVED,
}
LEARNING_STATUSES = frozenset(
    {"LEARNING_NEW", "LEARNING_SETTING_CHANGE", "LEARNING_BUDGET_CHANGE"}
    | {"LEARNING_COMPOSITION_CHANGE", "LEARNING_CONVERSION_TYPE_CHANGE"}
    | {"LEARNING_CONVERSION_SETTING_CHANGE"}
)


# --- Pure request builders ---


def budget_micros(spec: CampaignSpec, currency: str, now: datetime) -> int:
    """The daily amount in micros. A lifetime budget is spread evenly over the days
    left in the flight (rounded down), since Google's campaign total budgets are not
    open to every campaign type; Google's monthly cap (30.4 daily budgets) then holds."""
    if spec.daily_budget is not None:
        return to_micros(spec.daily_budget, currency)
    assert spec.lifetime_budget is not None and spec.end_time is not None
    return to_micros(daily_share(spec.lifetime_budget, spec.end_time, now), currency)


def daily_share(lifetime: Decimal, end_time: datetime, now: datetime) -> Decimal:
    days = max(1, -(-int((end_time - now).total_seconds()) // SECONDS_PER_DAY))
    return round_down_to_cents(lifetime / days)


def budget_operation(name: str, micros: int) -> dict[str, Any]:
    return {
        "create": {
            "name": name,
            "amountMicros": str(micros),
            "deliveryMethod": "STANDARD",
            "explicitlyShared": False,
            "period": "DAILY",
        }
    }


def bidding(spec: CampaignSpec, currency: str) -> dict[str, Any]:
    if spec.bid_strategy == BidStrategy.MIN_ROAS:
        assert spec.roas_floor is not None
        return {"maximizeConversionValue": {"targetRoas": float(spec.roas_floor)}}
    if spec.objective != Objective.CONVERSIONS:
        ceiling = {}
        if spec.bid_amount is not None:
            ceiling = {"cpcBidCeilingMicros": str(to_micros(spec.bid_amount, currency))}
        return {"targetSpend": ceiling}  # "maximize clicks"
    if spec.bid_amount is not None:
        return {
            "maximizeConversions": {"targetCpaMicros": str(to_micros(spec.bid_amount, currency))}
        }
    return {"maximizeConversions": {}}


def local_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(zone_named(timezone)).strftime(DATE_TIME_FORMAT)


def campaign_operation(
    spec: CampaignSpec, account: AdAccount, budget_resource: str
) -> dict[str, Any]:
    campaign: dict[str, Any] = {
        "name": object_name(spec.reference, spec.name),
        "advertisingChannelType": "SEARCH",
        "status": "PAUSED",
        "campaignBudget": budget_resource,
        "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
        "networkSettings": {
            "targetGoogleSearch": True,
            "targetSearchNetwork": False,
            "targetContentNetwork": False,
            "targetPartnerSearchNetwork": False,
        },
        "startDateTime": local_time(spec.start_time, account.timezone),
        **bidding(spec, account.currency),
    }
    if spec.end_time is not None:
        campaign["endDateTime"] = local_time(spec.end_time, account.timezone)
    return {"create": campaign}


def campaign_criteria(spec: CampaignSpec, campaign: str, user_list: Any) -> list[dict[str, Any]]:
    """Where (countries, points with a radius) and whom to leave out (negative lists)."""
    criteria: list[dict[str, Any]] = [
        {"campaign": campaign, "location": {"geoTargetConstant": google_geo_target(country)}}
        for country in spec.targeting.countries
    ]
    criteria += [
        {
            "campaign": campaign,
            "proximity": {
                "geoPoint": {
                    "latitudeInMicroDegrees": round(location.latitude * 1_000_000),
                    "longitudeInMicroDegrees": round(location.longitude * 1_000_000),
                },
                "radius": location.radius_km,
                "radiusUnits": "KILOMETERS",
            },
        }
        for location in spec.targeting.locations
    ]
    criteria += [
        {"campaign": campaign, "negative": True, "userList": {"userList": user_list(audience)}}
        for audience in spec.targeting.exclude_audience_ids
    ]
    return [{"create": criterion} for criterion in criteria]


def keyword_text(text: str) -> str:
    """Google's keyword limits: at most 10 words and 80 characters."""
    return " ".join(text.split()[:KEYWORD_MAX_WORDS])[:KEYWORD_MAX_CHARS].strip()


def ad_group_criteria(spec: CampaignSpec, ad_group: str, user_list: Any) -> list[dict[str, Any]]:
    """Keywords (the interests, else the headlines) and the audiences to reach."""
    words = spec.targeting.interests or [creative.headline for creative in spec.creatives]
    keywords = list(dict.fromkeys(keyword_text(word) for word in words if word.strip()))
    criteria: list[dict[str, Any]] = [
        {"adGroup": ad_group, "status": "ENABLED", "keyword": {"text": word, "matchType": "BROAD"}}
        for word in keywords
    ]
    criteria += [
        {"adGroup": ad_group, "status": "ENABLED", "userList": {"userList": user_list(audience)}}
        for audience in spec.targeting.include_audience_ids
    ]
    return [{"create": criterion} for criterion in criteria]


def _lines(first: str, fillers: tuple[str, ...], limit: int, count: int) -> list[dict[str, str]]:
    lines = list(dict.fromkeys(text[:limit].strip() for text in (first, *fillers) if text.strip()))
    return [{"text": text} for text in lines[: max(count, len(lines))]]


def ad_operation(spec: CampaignSpec, creative: CreativeSpec, ad_group: str) -> dict[str, Any]:
    return {
        "create": {
            "adGroup": ad_group,
            "status": "ENABLED",
            "ad": {
                "name": ad_label(spec.reference, creative.reference),
                "finalUrls": [creative.landing_url],
                "responsiveSearchAd": {
                    "headlines": _lines(
                        creative.headline, FILLER_HEADLINES, HEADLINE_MAX_CHARS, MIN_HEADLINES
                    ),
                    "descriptions": _lines(
                        creative.description,
                        FILLER_DESCRIPTIONS,
                        DESCRIPTION_MAX_CHARS,
                        MIN_DESCRIPTIONS,
                    ),
                },
            },
        }
    }


def status_update(resource: str, active: bool) -> dict[str, Any]:
    return {
        "update": {"resourceName": resource, "status": "ENABLED" if active else "PAUSED"},
        "updateMask": "status",
    }


def review_of(ad_group_ad: dict[str, Any]) -> tuple[ReviewStatus, str | None]:
    summary = ad_group_ad.get("policySummary") or {}
    approval = str(summary.get("approvalStatus") or "")
    topics = [
        str(entry.get("topic"))
        for entry in summary.get("policyTopicEntries") or []
        if isinstance(entry, dict) and entry.get("topic")
    ]
    feedback = ", ".join(topics) or None
    # Anything not yet decided (REVIEW_IN_PROGRESS, UNDER_APPEAL, UNKNOWN) is pending.
    return APPROVALS.get(approval, ReviewStatus.PENDING), feedback


# --- The connector ---


class GoogleAdsCampaignsConnector:
    """`CampaignsConnector` for Google Ads; `account.account_id` is the customer id.

    Settings used: `refresh_token` (the OAuth refresh token; `account.access_token` is
    read when it is absent), `login_customer_id` (manager account) and
    `developer_token` (else Usher's).
    """

    platform: ClassVar[str] = PLATFORM
    # Google may spend up to twice the average daily budget on a day, never more than
    # 30.4 daily budgets in a month; it states no weekly cap.
    daily_overdelivery_factor: ClassVar[Decimal] = Decimal("2.0")
    weekly_overdelivery_factor: ClassVar[Decimal | None] = None
    # A lifetime amount becomes a daily budget here, which may over-deliver.
    lifetime_budget_hard_cap: ClassVar[bool] = False
    budget_type_locked_once_live: ClassVar[bool] = False
    # Google serves a campaign only until its end date, which may move: spend control
    # rolls it forward day by day (`set_end_time`), so a daily budget exposes its
    # over-delivery until then, not until the end of the flight.
    end_time_bounds_daily_budget: ClassVar[bool] = True

    def __init__(self, clock: Any = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def minimum_daily_budget(self, currency: str) -> Decimal:
        return minimum_daily_budget(MINIMUM_DAILY_BUDGETS, currency, PLATFORM)

    def publish(self, account: AdAccount, spec: CampaignSpec) -> PublishedCampaign:
        api = GoogleAdsApi(account)
        micros = budget_micros(spec, account.currency, self._clock())
        for country in spec.targeting.countries:
            google_geo_target(country)  # an unknown country fails before anything exists

        def user_list(audience_id: str) -> str:
            return api.resource("userLists", audience_id)

        campaign = self._find_campaign(api, spec.reference)
        if campaign is None:
            budget = (
                self._find_budget(api, spec.reference)
                or api.mutate(
                    "campaignBudgets",
                    [budget_operation(object_name(spec.reference, "budget"), micros)],
                    CallKind.PUBLISH,
                )[0]
            )
            created = api.mutate(
                "campaigns", [campaign_operation(spec, account, budget)], CallKind.PUBLISH
            )[0]
            campaign = {"resourceName": created, "campaignBudget": budget}
        campaign_resource = str(campaign["resourceName"])
        campaign_id = last_id(campaign_resource)
        if not self._has_rows(api, "campaign_criterion", "campaign", campaign_id):
            operations = campaign_criteria(spec, campaign_resource, user_list)
            if operations:
                api.mutate("campaignCriteria", operations, CallKind.PUBLISH)
        ad_group = self._find_ad_group(api, campaign_id, spec.reference)
        if ad_group is None:
            ad_group = api.mutate(
                "adGroups",
                [
                    {
                        "create": {
                            "name": object_name(spec.reference, "ad group"),
                            "campaign": campaign_resource,
                            "status": "ENABLED",
                            "type": "SEARCH_STANDARD",
                        }
                    }
                ],
                CallKind.PUBLISH,
            )[0]
        ad_group_id = last_id(ad_group)
        if not self._has_rows(api, "ad_group_criterion", "ad_group", ad_group_id):
            api.mutate(
                "adGroupCriteria", ad_group_criteria(spec, ad_group, user_list), CallKind.PUBLISH
            )
        ads = self._ads_by_name(api, ad_group_id)
        missing = [
            creative
            for creative in spec.creatives
            if ad_label(spec.reference, creative.reference) not in ads
        ]
        if missing:
            created_ads = api.mutate(
                "adGroupAds",
                [ad_operation(spec, creative, ad_group) for creative in missing],
                CallKind.PUBLISH,
            )
            for creative, resource in zip(missing, created_ads, strict=True):
                ads[ad_label(spec.reference, creative.reference)] = last_id(resource)
        api.mutate("campaigns", [status_update(campaign_resource, True)], CallKind.PUBLISH)
        return PublishedCampaign(
            campaign_id=campaign_id,
            ad_group_id=ad_group_id,
            budget_id=last_id(campaign["campaignBudget"]),
            ads={
                creative.reference: ads[ad_label(spec.reference, creative.reference)]
                for creative in spec.creatives
            },
        )

    def set_status(self, account: AdAccount, published: PublishedCampaign, active: bool) -> None:
        api = GoogleAdsApi(account)
        resource = api.resource("campaigns", published.campaign_id)
        api.mutate("campaigns", [status_update(resource, active)], CallKind.WRITE)

    def set_ad_status(self, account: AdAccount, ad_id: str, active: bool) -> None:
        """`ad_id` is the AdGroupAd id `<ad group id>~<ad id>` that publish returned."""
        api = GoogleAdsApi(account)
        resource = api.resource("adGroupAds", ad_id)
        api.mutate("adGroupAds", [status_update(resource, active)], CallKind.WRITE)

    def set_budget(
        self,
        account: AdAccount,
        published: PublishedCampaign,
        *,
        daily_budget: Decimal | None = None,
        lifetime_budget: Decimal | None = None,
    ) -> None:
        """Change the campaign budget's daily amount; a lifetime amount is spread over
        the days left until the campaign's end (read back from Google)."""
        kind, amount = one_budget(daily_budget, lifetime_budget)
        if not published.budget_id:
            raise ValueError("a Google Ads campaign is published with its budget id")
        api = GoogleAdsApi(account)
        if kind == "lifetime":
            amount = daily_share(amount, self._end_time(api, published), self._clock())
        micros = to_micros(amount, account.currency)
        api.mutate(
            "campaignBudgets",
            [
                {
                    "update": {
                        "resourceName": api.resource("campaignBudgets", published.budget_id),
                        "amountMicros": str(micros),
                    },
                    "updateMask": "amountMicros",
                }
            ],
            CallKind.WRITE,
        )

    def set_end_time(
        self, account: AdAccount, published: PublishedCampaign, end_time: datetime
    ) -> None:
        """Move the campaign's end date time (the account's local time, to the second)."""
        api = GoogleAdsApi(account)
        api.mutate(
            "campaigns",
            [
                {
                    "update": {
                        "resourceName": api.resource("campaigns", published.campaign_id),
                        "endDateTime": local_time(end_time, account.timezone),
                    },
                    "updateMask": "endDateTime",
                }
            ],
            CallKind.WRITE,
        )

    def read_state(self, account: AdAccount, published: PublishedCampaign) -> CampaignState:
        api = GoogleAdsApi(account)
        rows = api.search(
            "SELECT campaign.id, campaign.status, campaign.bidding_strategy_system_status "
            f"FROM campaign WHERE campaign.id = {int_or_zero(published.campaign_id)}",
            CallKind.READ,
        )
        if not rows:
            raise unexpected(PLATFORM, f"campaign {published.campaign_id} not found")
        campaign = rows[0].get("campaign", {})
        ad_rows = api.search(
            "SELECT ad_group_ad.resource_name, ad_group_ad.status, "
            "ad_group_ad.policy_summary.approval_status, "
            "ad_group_ad.policy_summary.review_status, "
            "ad_group_ad.policy_summary.policy_topic_entries "
            f"FROM ad_group_ad WHERE ad_group.id = {int_or_zero(published.ad_group_id)}",
            CallKind.READ,
        )
        wanted = set(published.ads.values())
        ads = []
        for row in ad_rows:
            ad = row.get("adGroupAd", {})
            ad_id = last_id(ad.get("resourceName"))
            if ad_id not in wanted:
                continue
            review, feedback = review_of(ad)
            status = STATUSES.get(str(ad.get("status")), DeliveryStatus.WITH_ISSUES)
            if review == ReviewStatus.DISAPPROVED:
                status = DeliveryStatus.DISAPPROVED
            ads.append(AdState(ad_id, status, review, feedback))
        learning = str(campaign.get("biddingStrategySystemStatus") or "") or None
        raw = str(campaign.get("status") or "")
        return CampaignState(
            campaign_id=published.campaign_id,
            status=STATUSES.get(raw, DeliveryStatus.WITH_ISSUES),
            ads=ads,
            learning_phase=learning,
            raw_status=raw,
        )

    # --- lookups ---

    def _find_campaign(self, api: GoogleAdsApi, reference: str) -> dict[str, Any] | None:
        rows = api.search(
            "SELECT campaign.resource_name, campaign.name, campaign.campaign_budget FROM campaign "
            f"WHERE campaign.name LIKE {gaql_string(object_name(reference, '%'))} "
            "AND campaign.status != 'REMOVED'",
            CallKind.PUBLISH,
        )
        for row in rows:
            campaign = row.get("campaign", {})
            if is_named_for(campaign.get("name"), reference) and campaign.get("campaignBudget"):
                return campaign
        return None

    def _find_budget(self, api: GoogleAdsApi, reference: str) -> str | None:
        name = object_name(reference, "budget")
        rows = api.search(
            "SELECT campaign_budget.resource_name, campaign_budget.name FROM campaign_budget "
            f"WHERE campaign_budget.name = {gaql_string(name)} "
            "AND campaign_budget.status != 'REMOVED'",
            CallKind.PUBLISH,
        )
        return next(
            (
                str(row["campaignBudget"]["resourceName"])
                for row in rows
                if row.get("campaignBudget", {}).get("name") == name
            ),
            None,
        )

    def _find_ad_group(self, api: GoogleAdsApi, campaign_id: str, reference: str) -> str | None:
        rows = api.search(
            "SELECT ad_group.resource_name, ad_group.name FROM ad_group "
            f"WHERE campaign.id = {int_or_zero(campaign_id)} AND ad_group.status != 'REMOVED'",
            CallKind.PUBLISH,
        )
        return next(
            (
                str(row["adGroup"]["resourceName"])
                for row in rows
                if is_named_for(row.get("adGroup", {}).get("name"), reference)
            ),
            None,
        )

    def _has_rows(self, api: GoogleAdsApi, resource: str, parent: str, parent_id: str) -> bool:
        rows = api.search(
            f"SELECT {resource}.resource_name FROM {resource} "
            f"WHERE {parent}.id = {int_or_zero(parent_id)} LIMIT 1",
            CallKind.PUBLISH,
        )
        return bool(rows)

    def _ads_by_name(self, api: GoogleAdsApi, ad_group_id: str) -> dict[str, str]:
        rows = api.search(
            "SELECT ad_group_ad.resource_name, ad_group_ad.ad.name FROM ad_group_ad "
            f"WHERE ad_group.id = {int_or_zero(ad_group_id)} AND ad_group_ad.status != 'REMOVED'",
            CallKind.PUBLISH,
        )
        return {
            str(row["adGroupAd"].get("ad", {}).get("name")): last_id(
                row["adGroupAd"].get("resourceName")
            )
            for row in rows
            if isinstance(row.get("adGroupAd"), dict)
        }

    def _end_time(self, api: GoogleAdsApi, published: PublishedCampaign) -> datetime:
        rows = api.search(
            "SELECT campaign.end_date_time FROM campaign "
            f"WHERE campaign.id = {int_or_zero(published.campaign_id)}",
            CallKind.WRITE,
        )
        text = str((rows[0].get("campaign", {}) if rows else {}).get("endDateTime") or "")
        try:
            ends = datetime.strptime(text, DATE_TIME_FORMAT)
        except ValueError:
            raise ValueError("a lifetime budget needs a campaign with an end date") from None
        return ends.replace(tzinfo=zone_named(api.account.timezone))
