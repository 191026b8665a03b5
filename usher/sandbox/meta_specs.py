"""What a Meta campaign, ad set, creative or ad must hold (PLATFORMS.md §5).

Each `*_fields` function turns create parameters into the stored fields or raises
MetaProblem with the reason Meta would give.
"""

from __future__ import annotations

import re
from typing import Any

from usher.sandbox.meta_common import (
    META,
    MetaProblem,
    enum_param,
    positive_int_param,
    required_str,
)
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import as_int

OBJECTIVES = frozenset(
    {
        "OUTCOME_SALES",
        "OUTCOME_TRAFFIC",
        "OUTCOME_AWARENESS",
        "OUTCOME_ENGAGEMENT",
        "OUTCOME_LEADS",
        "OUTCOME_APP_PROMOTION",
        # legacy values still in the enum
        "CONVERSIONS",
        "LINK_CLICKS",
        "REACH",
        "BRAND_AWARENESS",
    }
)
SPECIAL_AD_CATEGORIES = frozenset(
    {
        "NONE",
        "CREDIT",
        "EMPLOYMENT",
        "HOUSING",
        "ISSUES_ELECTIONS_POLITICS",
        "ONLINE_GAMBLING_AND_GAMING",
        "FINANCIAL_PRODUCTS_SERVICES",
    }
)
CREATE_STATUSES = frozenset({"ACTIVE", "PAUSED"})
STATUSES = frozenset({"ACTIVE", "PAUSED", "DELETED", "ARCHIVED"})
BID_STRATEGIES = frozenset(
    {"LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP", "LOWEST_COST_WITH_MIN_ROAS"}
)
CAPPED_BID_STRATEGIES = frozenset({"LOWEST_COST_WITH_BID_CAP", "COST_CAP"})
BILLING_EVENTS = frozenset(
    {"IMPRESSIONS", "LINK_CLICKS", "CLICKS", "THRUPLAY", "PURCHASE", "POST_ENGAGEMENT"}
)
OPTIMIZATION_GOALS = frozenset(
    {
        "OFFSITE_CONVERSIONS",
        "VALUE",
        "LINK_CLICKS",
        "LANDING_PAGE_VIEWS",
        "IMPRESSIONS",
        "REACH",
        "THRUPLAY",
        "POST_ENGAGEMENT",
        "LEAD_GENERATION",
        "CONVERSATIONS",
    }
)
CONVERSION_GOALS = frozenset({"OFFSITE_CONVERSIONS", "VALUE"})
CUSTOM_EVENT_TYPES = frozenset(
    {
        "PURCHASE",
        "ADD_TO_CART",
        "INITIATED_CHECKOUT",
        "ADD_PAYMENT_INFO",
        "ADD_TO_WISHLIST",
        "COMPLETE_REGISTRATION",
        "CONTENT_VIEW",
        "LEAD",
        "SEARCH",
        "OTHER",
    }
)
CTA_TYPES = frozenset(
    {
        "BUY_TICKETS",
        "BOOK_NOW",
        "LEARN_MORE",
        "SHOP_NOW",
        "SIGN_UP",
        "BUY_NOW",
        "GET_OFFER",
        "ORDER_NOW",
        "SEE_MORE",
        "NO_BUTTON",
    }
)
LOCATION_KEYS = ("countries", "regions", "cities", "zips", "custom_locations", "geo_markets")
PUBLISHER_PLATFORMS = frozenset({"facebook", "instagram", "audience_network", "messenger"})
# Meta's age bounds are unverified [U]; 13-65 is what Ads Manager offers.
AGE_RANGE = (13, 65)
COUNTRY = re.compile(r"^[A-Z]{2}$")


def budget_of(fields: dict[str, Any]) -> tuple[str, int] | None:
    for key in ("daily_budget", "lifetime_budget"):
        if fields.get(key):
            return key, fields[key]
    return None


def campaign_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": required_str(params, "name", "campaign")}
    fields["objective"] = enum_param(params.get("objective"), "objective", OBJECTIVES)
    categories = params.get("special_ad_categories")
    if not isinstance(categories, list):
        raise MetaProblem(
            "Missing special_ad_categories",
            "special_ad_categories is required, even if empty ([]).",
            message="(#100) The parameter special_ad_categories is required",
        )
    for category in categories:
        enum_param(category, "special_ad_categories", SPECIAL_AD_CATEGORIES)
    fields["special_ad_categories"] = categories
    fields["status"] = enum_param(params.get("status", "ACTIVE"), "status", CREATE_STATUSES)
    fields.update(_budgets(params))
    if "bid_strategy" in params:
        fields["bid_strategy"] = enum_param(params["bid_strategy"], "bid_strategy", BID_STRATEGIES)
    if "is_adset_budget_sharing_enabled" in params:
        fields["is_adset_budget_sharing_enabled"] = params["is_adset_budget_sharing_enabled"] in (
            True,
            "true",
            "1",
        )
    fields["buying_type"] = "AUCTION"
    return fields


def _budgets(params: dict[str, Any]) -> dict[str, int]:
    given = {k: params[k] for k in ("daily_budget", "lifetime_budget") if params.get(k)}
    if len(given) > 1:
        raise MetaProblem(
            "Only One Budget Allowed", "Set either daily_budget or lifetime_budget, not both."
        )
    return {key: positive_int_param(value, key) for key, value in given.items()}


def adset_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": required_str(params, "name", "ad set")}
    campaign_id = str(params.get("campaign_id") or "")
    campaign = state.get_object(META, campaign_id)
    if not campaign or campaign["type"] != "campaign" or campaign["account"] != account:
        raise MetaProblem(
            "Invalid Campaign", f"campaign_id {campaign_id!r} is not a campaign of this ad account."
        )
    fields["campaign_id"] = campaign_id
    fields["status"] = enum_param(params.get("status", "ACTIVE"), "status", CREATE_STATUSES)
    fields["targeting"] = check_targeting(state, account, params.get("targeting"))
    fields["billing_event"] = enum_param(
        params.get("billing_event"), "billing_event", BILLING_EVENTS
    )
    goal = params.get("optimization_goal", "LINK_CLICKS")
    fields["optimization_goal"] = enum_param(goal, "optimization_goal", OPTIMIZATION_GOALS)
    fields.update(_budgets(params))
    if budget_of(campaign["fields"]) and budget_of(fields):
        raise MetaProblem(
            "Budget Set Twice",
            "The campaign has a budget (campaign budget optimisation); ad sets under it "
            "cannot have their own.",
            subcode=1885621,
        )
    if not budget_of(campaign["fields"]) and not budget_of(fields):
        raise MetaProblem(
            "Missing Budget", "Set daily_budget or lifetime_budget on the ad set or its campaign."
        )
    for key in ("start_time", "end_time"):
        if params.get(key):
            fields[key] = params[key]
    if fields.get("lifetime_budget") and not fields.get("end_time"):
        raise MetaProblem("Missing End Time", "An ad set with a lifetime_budget needs an end_time.")
    fields.update(_bidding(params))
    if fields["optimization_goal"] in CONVERSION_GOALS:
        fields["promoted_object"] = _promoted_object(params.get("promoted_object"))
    elif isinstance(params.get("promoted_object"), dict):
        fields["promoted_object"] = params["promoted_object"]
    return fields


def _bidding(params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    strategy = params.get("bid_strategy")
    if strategy is None:
        return fields
    fields["bid_strategy"] = enum_param(strategy, "bid_strategy", BID_STRATEGIES)
    if strategy in CAPPED_BID_STRATEGIES:
        fields["bid_amount"] = positive_int_param(params.get("bid_amount"), "bid_amount")
    if strategy == "LOWEST_COST_WITH_MIN_ROAS":
        constraints = params.get("bid_constraints")
        if (
            not isinstance(constraints, dict)
            or as_int(constraints.get("roas_average_floor")) is None
        ):
            raise MetaProblem(
                "Missing ROAS Floor",
                "LOWEST_COST_WITH_MIN_ROAS needs bid_constraints.roas_average_floor.",
            )
        fields["bid_constraints"] = constraints
    return fields


def _promoted_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value.get("pixel_id"):
        raise MetaProblem(
            "Missing promoted_object",
            "Conversion optimisation needs promoted_object with pixel_id and custom_event_type.",
        )
    enum_param(value.get("custom_event_type"), "custom_event_type", CUSTOM_EVENT_TYPES)
    return value


def check_targeting(state: SandboxState, account: str, targeting: Any) -> dict[str, Any]:
    if not isinstance(targeting, dict):
        raise MetaProblem("Missing targeting", "targeting is required and must be an object.")
    geo = targeting.get("geo_locations")
    if not isinstance(geo, dict) or not any(geo.get(key) for key in LOCATION_KEYS):
        raise MetaProblem(
            "Missing Location", "targeting.geo_locations needs at least one location."
        )
    for country in geo.get("countries") or []:
        if not isinstance(country, str) or not COUNTRY.match(country):
            raise MetaProblem(
                "Invalid Country", f"{country!r} is not an ISO 3166-1 alpha-2 country code."
            )
    low, high = AGE_RANGE
    age_min = targeting.get("age_min", low)
    age_max = targeting.get("age_max", high)
    if (
        as_int(age_min) is None
        or as_int(age_max) is None
        or not low <= as_int(age_min) <= as_int(age_max) <= high
    ):
        raise MetaProblem(
            "Invalid Age Range", f"age_min and age_max must satisfy {low} <= min <= max <= {high}."
        )
    for key in ("genders", "custom_audiences", "excluded_custom_audiences", "publisher_platforms"):
        if key in targeting and not isinstance(targeting[key], list):
            raise MetaProblem(f"Invalid {key}", f"targeting.{key} must be an array.")
    if any(gender not in (1, 2) for gender in targeting.get("genders") or []):
        raise MetaProblem("Invalid genders", "genders holds 1 (men) and/or 2 (women).")
    for key in ("custom_audiences", "excluded_custom_audiences"):
        for item in targeting.get(key) or []:
            audience_id = str(item.get("id") if isinstance(item, dict) else item)
            audience = state.get_object(META, audience_id)
            if (
                not audience
                or audience["type"] != "customaudience"
                or audience["account"] != account
            ):
                raise MetaProblem(
                    "Invalid Custom Audience",
                    f"{key}: {audience_id!r} is not a custom audience of this ad account.",
                )
    for platform in targeting.get("publisher_platforms") or []:
        enum_param(platform, "publisher_platforms", PUBLISHER_PLATFORMS)
    return targeting


def creative_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    spec = params.get("object_story_spec")
    if not isinstance(spec, dict) or not spec.get("page_id"):
        raise MetaProblem(
            "Missing object_story_spec", "object_story_spec with a page_id is required."
        )
    link_data = spec.get("link_data")
    if not isinstance(link_data, dict) or not isinstance(link_data.get("link"), str):
        raise MetaProblem("Missing Link", "object_story_spec.link_data.link is required.")
    image_hash = link_data.get("image_hash")
    if image_hash and not any(
        img["fields"]["hash"] == image_hash for img in state.objects_of(META, account, "adimage")
    ):
        raise MetaProblem(
            "Invalid Image", f"image_hash {image_hash!r} was not uploaded to this ad account."
        )
    cta = link_data.get("call_to_action")
    if cta is not None:
        enum_param(
            cta.get("type") if isinstance(cta, dict) else cta, "call_to_action.type", CTA_TYPES
        )
    fields = {"name": params.get("name") or "Creative", "object_story_spec": spec}
    if params.get("url_tags"):
        fields["url_tags"] = params["url_tags"]
    return fields


def ad_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": required_str(params, "name", "ad")}
    adset_id = str(params.get("adset_id") or "")
    adset = state.get_object(META, adset_id)
    if not adset or adset["type"] != "adset" or adset["account"] != account:
        raise MetaProblem(
            "Invalid Ad Set", f"adset_id {adset_id!r} is not an ad set of this ad account."
        )
    creative = params.get("creative")
    creative_id = str(creative.get("creative_id") if isinstance(creative, dict) else "")
    found = state.get_object(META, creative_id)
    if not found or found["type"] != "adcreative" or found["account"] != account:
        raise MetaProblem(
            "Invalid Creative",
            'creative must be {"creative_id": "<id of a creative of this account>"}.',
        )
    fields.update(
        adset_id=adset_id,
        campaign_id=adset["fields"]["campaign_id"],
        creative={"id": creative_id},
        status=enum_param(params.get("status", "ACTIVE"), "status", CREATE_STATUSES),
    )
    for key in ("tracking_specs", "url_tags"):
        if key in params:
            fields[key] = params[key]
    return fields
