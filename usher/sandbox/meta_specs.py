"""What a Meta campaign, ad set, creative or ad must hold (docs/platforms.md, Meta: campaigns).

Each `*_fields` function turns create parameters into the stored fields or raises
MetaProblem with the reason Meta would give.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from usher.sandbox.meta_catalog import catalog_of, product_set_of
from usher.sandbox.meta_common import (
    META,
    MetaProblem,
    enum_param,
    positive_int_param,
    required_str,
    truthy,
)
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import as_int, is_one_of

# Only outcome-based objectives can create campaigns since v17 (docs/platforms.md, Meta: campaigns);
# the legacy names are still in the SDK's enum, so they get their own refusal.
OBJECTIVES = frozenset(
    {
        "OUTCOME_SALES",
        "OUTCOME_TRAFFIC",
        "OUTCOME_AWARENESS",
        "OUTCOME_ENGAGEMENT",
        "OUTCOME_LEADS",
        "OUTCOME_APP_PROMOTION",
    }
)
LEGACY_OBJECTIVES = frozenset(
    {
        "CONVERSIONS",
        "LINK_CLICKS",
        "REACH",
        "BRAND_AWARENESS",
        "POST_ENGAGEMENT",
        "PAGE_LIKES",
        "VIDEO_VIEWS",
        "LEAD_GENERATION",
        "APP_INSTALLS",
        "MESSAGES",
        "PRODUCT_CATALOG_SALES",
        "STORE_VISITS",
        "EVENT_RESPONSES",
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
# Which optimisation goals each objective takes, after Meta's outcome-based objectives
# mapping [U: the mapping table was not read in full; these are the common pairs].
GOALS_BY_OBJECTIVE = {
    "OUTCOME_SALES": frozenset(
        {
            "OFFSITE_CONVERSIONS",
            "VALUE",
            "LINK_CLICKS",
            "LANDING_PAGE_VIEWS",
            "IMPRESSIONS",
            "REACH",
            "CONVERSATIONS",
        }
    ),
    "OUTCOME_TRAFFIC": frozenset(
        {"LINK_CLICKS", "LANDING_PAGE_VIEWS", "IMPRESSIONS", "REACH", "CONVERSATIONS"}
    ),
    "OUTCOME_AWARENESS": frozenset({"REACH", "IMPRESSIONS", "THRUPLAY", "AD_RECALL_LIFT"}),
    "OUTCOME_ENGAGEMENT": frozenset(
        {
            "POST_ENGAGEMENT",
            "THRUPLAY",
            "LINK_CLICKS",
            "LANDING_PAGE_VIEWS",
            "IMPRESSIONS",
            "REACH",
            "CONVERSATIONS",
            "OFFSITE_CONVERSIONS",
        }
    ),
    "OUTCOME_LEADS": frozenset(
        {
            "LEAD_GENERATION",
            "QUALITY_LEAD",
            "OFFSITE_CONVERSIONS",
            "LINK_CLICKS",
            "LANDING_PAGE_VIEWS",
            "CONVERSATIONS",
            "IMPRESSIONS",
            "REACH",
        }
    ),
    "OUTCOME_APP_PROMOTION": frozenset(
        {"APP_INSTALLS", "OFFSITE_CONVERSIONS", "VALUE", "LINK_CLICKS"}
    ),
}
OPTIMIZATION_GOALS = frozenset().union(*GOALS_BY_OBJECTIVE.values())
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
# With Advantage+ audience on, age is a suggestion: only age_min up to 25 stays a hard
# limit and age_max must stay 65 (subcode 1870189 [V-3p]).
ADVANTAGE_AUDIENCE_MAX_AGE_MIN = 25
COUNTRY = re.compile(r"^[A-Z]{2}$")
# The Digital Services Act makes ad sets that reach the EU name who benefits and who pays.
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
# GET /act_<id>/minimum_budgets, in minor units of EUR/USD-like currencies [U: Meta's
# values vary by currency; these are its documented USD figures: $1 for impressions,
# $5 for frequent events such as clicks, $40 for rare ones such as purchases].
DEFAULT_MINIMUM_BUDGETS = {
    "min_daily_budget_imp": 100,
    "min_daily_budget_video_views": 100,
    "min_daily_budget_high_freq": 500,
    "min_daily_budget_low_freq": 4000,
}
MINIMUM_BY_BILLING_EVENT = {
    "IMPRESSIONS": "min_daily_budget_imp",
    "THRUPLAY": "min_daily_budget_video_views",
    "LINK_CLICKS": "min_daily_budget_high_freq",
    "CLICKS": "min_daily_budget_high_freq",
    "POST_ENGAGEMENT": "min_daily_budget_high_freq",
    "PURCHASE": "min_daily_budget_low_freq",
}
BUDGET_TOO_LOW_SUBCODE = 1885272  # [U] the subcode integrations report for low budgets
ADVANTAGE_AUDIENCE_REQUIRED_SUBCODE = 1870227  # [V-3p]
ADVANTAGE_AUDIENCE_AGE_SUBCODE = 1870189  # [V-3p]
BUDGET_SET_TWICE_SUBCODE = 1885621  # [V-3p]
DAY_SECONDS = 86_400
# Product audiences look back at most 180 days.
MAX_PRODUCT_AUDIENCE_RETENTION_SECONDS = 180 * DAY_SECONDS


def budget_of(fields: dict[str, Any]) -> tuple[str, int] | None:
    for key in ("daily_budget", "lifetime_budget"):
        if fields.get(key):
            return key, fields[key]
    return None


def minimum_budgets(state: SandboxState, account: str) -> dict[str, Any]:
    """The account's `minimum_budgets` row: Meta's defaults, overridable per account."""
    registered = state.account(META, account)
    settings = registered.settings if registered else {}
    overrides = settings.get("minimum_budgets")
    row: dict[str, Any] = {"currency": settings.get("currency", "EUR"), **DEFAULT_MINIMUM_BUDGETS}
    if isinstance(overrides, dict):
        row.update({k: v for k, v in overrides.items() if k in DEFAULT_MINIMUM_BUDGETS})
    return row


def campaign_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": required_str(params, "name", "campaign")}
    objective = params.get("objective")
    if is_one_of(objective, LEGACY_OBJECTIVES):
        raise MetaProblem(
            "Objective Is Invalid",
            f"{objective} is a legacy objective and can no longer create campaigns. Use an "
            f"outcome-based objective: {', '.join(sorted(OBJECTIVES))}.",
            message=f"(#100) Param objective must be one of {{{', '.join(sorted(OBJECTIVES))}}}",
        )
    fields["objective"] = enum_param(objective, "objective", OBJECTIVES)
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
    if budget_of(fields):
        check_minimum(state, account, fields, "IMPRESSIONS", None)
    if "bid_strategy" in params:
        fields["bid_strategy"] = enum_param(params["bid_strategy"], "bid_strategy", BID_STRATEGIES)
    sharing = truthy(params.get("is_adset_budget_sharing_enabled"))
    if sharing is None and not budget_of(fields):
        # [V-3p] required since 2026 for campaigns whose ad sets hold the budgets.
        raise MetaProblem(
            "Budget Sharing Not Specified",
            "Must specify True or False in is_adset_budget_sharing_enabled field",
            message="Invalid parameter",
            blame=["is_adset_budget_sharing_enabled"],
        )
    if sharing is not None:
        fields["is_adset_budget_sharing_enabled"] = sharing
    fields["buying_type"] = "AUCTION"
    if "promoted_object" in params:
        fields["promoted_object"] = _campaign_promoted_object(
            state, params["promoted_object"], fields["objective"]
        )
    return fields


def _campaign_promoted_object(state: SandboxState, value: Any, objective: str) -> dict[str, Any]:
    """A catalog sales campaign promotes its product catalog (Advantage+ catalog ads)."""
    if not isinstance(value, dict):
        raise MetaProblem("Invalid promoted_object", "promoted_object must be an object.")
    catalog_id = value.get("product_catalog_id")
    if catalog_id is None:
        return value
    if catalog_of(state, str(catalog_id)) is None:
        raise MetaProblem(
            "Invalid Product Catalog",
            f"promoted_object.product_catalog_id {catalog_id!r} is not a product catalog "
            "you can use.",
            blame=["promoted_object", "product_catalog_id"],
        )
    if objective != "OUTCOME_SALES":
        raise MetaProblem(
            "Objective Cannot Promote A Catalog",
            f"A product catalog can be promoted by an OUTCOME_SALES campaign, not {objective}.",
            blame=["objective"],
        )
    return value


def _budgets(params: dict[str, Any]) -> dict[str, int]:
    given = {k: params[k] for k in ("daily_budget", "lifetime_budget") if params.get(k)}
    if len(given) > 1:
        raise MetaProblem(
            "Only One Budget Allowed", "Set either daily_budget or lifetime_budget, not both."
        )
    return {key: positive_int_param(value, key) for key, value in given.items()}


def check_minimum(
    state: SandboxState,
    account: str,
    fields: dict[str, Any],
    billing_event: str,
    schedule: tuple[Any, Any] | None,
) -> None:
    """Refuse a budget under the account's minimum (a lifetime budget: the daily minimum times its days)."""
    budget = budget_of(fields)
    if budget is None:
        return
    row = minimum_budgets(state, account)
    daily_minimum = int(row[MINIMUM_BY_BILLING_EVENT.get(billing_event, "min_daily_budget_imp")])
    key, amount = budget
    minimum = daily_minimum
    if key == "lifetime_budget" and schedule is not None:
        days = _schedule_days(*schedule)
        minimum = daily_minimum * days
    if amount < minimum:
        raise MetaProblem(
            "Your Budget Is Too Low",
            f"The {key} must be at least {minimum} ({row['currency']} minor units) for "
            f"{billing_event} billing; see GET /act_{account}/minimum_budgets.",
            subcode=BUDGET_TOO_LOW_SUBCODE,
            blame=[key],
        )


def _schedule_days(start: Any, end: Any) -> int:
    """Whole days an ad set runs (at least one), from Graph's ISO 8601 times."""
    try:
        first = datetime.fromisoformat(str(start)) if start else None
        last = datetime.fromisoformat(str(end))
    except ValueError as exc:
        raise MetaProblem(
            "Invalid Schedule", "start_time and end_time must be ISO 8601 times."
        ) from exc
    if first is None:
        return 1
    if first.tzinfo is None or last.tzinfo is None:
        raise MetaProblem("Invalid Schedule", "start_time and end_time need a UTC offset.")
    return max(1, math.ceil((last - first).total_seconds() / DAY_SECONDS))


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
    goal = enum_param(
        params.get("optimization_goal", "LINK_CLICKS"), "optimization_goal", OPTIMIZATION_GOALS
    )
    objective = campaign["fields"]["objective"]
    if goal not in GOALS_BY_OBJECTIVE.get(objective, frozenset()):
        raise MetaProblem(
            "Optimization Goal Not Available",
            f"{goal} cannot be used with a campaign whose objective is {objective}. Use one "
            f"of {', '.join(sorted(GOALS_BY_OBJECTIVE[objective]))}.",
            blame=["optimization_goal"],
        )
    fields["optimization_goal"] = goal
    fields.update(_budgets(params))
    if budget_of(campaign["fields"]) and budget_of(fields):
        raise MetaProblem(
            "Budget Set Twice",
            "The campaign has a budget (campaign budget optimisation); ad sets under it "
            "cannot have their own.",
            subcode=BUDGET_SET_TWICE_SUBCODE,
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
    check_minimum(
        state,
        account,
        fields,
        fields["billing_event"],
        (fields.get("start_time"), fields.get("end_time")),
    )
    fields.update(_dsa(params, fields["targeting"]))
    fields.update(_bidding(params))
    catalog_id = _promoted_catalog(campaign)
    if catalog_id:
        fields["promoted_object"] = _catalog_adset_promoted_object(
            state, params.get("promoted_object"), catalog_id
        )
    elif isinstance(params.get("promoted_object"), dict) and (
        "product_set_id" in params["promoted_object"]
    ):
        raise MetaProblem(
            "Campaign Promotes No Catalog",
            "An ad set can promote a product set only under a campaign whose "
            "promoted_object names the product catalog.",
            blame=["promoted_object", "product_set_id"],
        )
    elif fields["optimization_goal"] in CONVERSION_GOALS:
        fields["promoted_object"] = _promoted_object(params.get("promoted_object"))
    elif isinstance(params.get("promoted_object"), dict):
        fields["promoted_object"] = params["promoted_object"]
    _check_product_audiences(state, fields["targeting"], catalog_id)
    return fields


def _promoted_catalog(campaign: dict[str, Any]) -> str:
    promoted = campaign["fields"].get("promoted_object")
    return str(promoted.get("product_catalog_id") or "") if isinstance(promoted, dict) else ""


def _catalog_set(state: SandboxState, product_set_id: Any, catalog_id: str, where: str) -> None:
    """`product_set_id` must be a product set of the campaign's catalog."""
    found = product_set_of(state, str(product_set_id or ""))
    if found is None:
        raise MetaProblem(
            "Invalid Product Set", f"{where} {product_set_id!r} is not a product set."
        )
    if found["catalog_id"] != catalog_id:
        raise MetaProblem(
            "Product Set Not In Catalog",
            f"{where} {product_set_id!r} belongs to another catalog than the campaign's "
            f"promoted product catalog {catalog_id}.",
        )


def _catalog_adset_promoted_object(
    state: SandboxState, value: Any, catalog_id: str
) -> dict[str, Any]:
    """Under a catalog campaign the ad set promotes one of the catalog's product sets."""
    if not isinstance(value, dict) or not value.get("product_set_id"):
        raise MetaProblem(
            "Missing Product Set",
            "Ad sets of a catalog campaign need promoted_object.product_set_id.",
            blame=["promoted_object", "product_set_id"],
        )
    _catalog_set(state, value["product_set_id"], catalog_id, "promoted_object.product_set_id")
    enum_param(value.get("custom_event_type"), "custom_event_type", CUSTOM_EVENT_TYPES)
    return value


def _check_product_audiences(
    state: SandboxState, targeting: dict[str, Any], catalog_id: str
) -> None:
    """`product_audience_specs`: per product set of the campaign's catalog, who viewed
    or bought its items (`inclusions`, `exclusions` of {retention_seconds, rule})."""
    specs = targeting.get("product_audience_specs")
    if specs is None:
        return
    if not catalog_id:
        raise MetaProblem(
            "Campaign Promotes No Catalog",
            "targeting.product_audience_specs needs a campaign that promotes a product catalog.",
        )
    if not isinstance(specs, list) or not specs:
        raise MetaProblem(
            "Invalid product_audience_specs", "product_audience_specs must be a non-empty array."
        )
    for position, spec in enumerate(specs):
        where = f"product_audience_specs[{position}]"
        if not isinstance(spec, dict):
            raise MetaProblem("Invalid product_audience_specs", f"{where} must be an object.")
        _catalog_set(state, spec.get("product_set_id"), catalog_id, f"{where}.product_set_id")
        inclusions = spec.get("inclusions")
        if not isinstance(inclusions, list) or not inclusions:
            raise MetaProblem(
                "Invalid product_audience_specs", f"{where}.inclusions must be a non-empty array."
            )
        exclusions = spec.get("exclusions", [])
        if not isinstance(exclusions, list):
            raise MetaProblem(
                "Invalid product_audience_specs", f"{where}.exclusions must be an array."
            )
        for rule in [*inclusions, *exclusions]:
            seconds = as_int(rule.get("retention_seconds")) if isinstance(rule, dict) else None
            if (
                seconds is None
                or not 0 < seconds <= MAX_PRODUCT_AUDIENCE_RETENTION_SECONDS
                or not isinstance(rule.get("rule"), dict)
            ):
                raise MetaProblem(
                    "Invalid product_audience_specs",
                    f"{where}: each inclusion and exclusion needs retention_seconds (1 to "
                    f"{MAX_PRODUCT_AUDIENCE_RETENTION_SECONDS}) and a rule object.",
                )


def _dsa(params: dict[str, Any], targeting: dict[str, Any]) -> dict[str, str]:
    """Ad sets reaching the EU name their beneficiary and payor (DSA, since August 2023)."""
    countries = set(targeting["geo_locations"].get("countries") or [])
    found = {
        key: params[key]
        for key in ("dsa_beneficiary", "dsa_payor")
        if isinstance(params.get(key), str) and params[key].strip()
    }
    if countries & EU_COUNTRIES:
        for key, role in (("dsa_beneficiary", "beneficiary"), ("dsa_payor", "payor")):
            if key not in found:
                raise MetaProblem(
                    f"No {role.title()} Specified",
                    f"Ad sets that target the European Union must name a {role} "
                    f"({key}): who benefits from and who pays for the ads, as the "
                    "Digital Services Act requires.",
                    blame=[key],
                )
    return found


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
    age_min = as_int(targeting.get("age_min", low))
    age_max = as_int(targeting.get("age_max", high))
    if age_min is None or age_max is None or not low <= age_min <= age_max <= high:
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
    _advantage_audience(targeting, age_min, age_max)
    return targeting


def _advantage_audience(targeting: dict[str, Any], age_min: int, age_max: int) -> None:
    """From v23 every ad set says whether Advantage+ audience may widen its targeting."""
    automation = targeting.get("targeting_automation")
    flag = automation.get("advantage_audience") if isinstance(automation, dict) else None
    if as_int(flag) not in (0, 1):
        raise MetaProblem(
            "Advantage Audience Flag Required",
            "To create your ad set, you need to enable or disable the Advantage audience "
            "feature. Set targeting.targeting_automation.advantage_audience to 1 or 0.",
            subcode=ADVANTAGE_AUDIENCE_REQUIRED_SUBCODE,
            blame=["targeting", "targeting_automation", "advantage_audience"],
        )
    if as_int(flag) == 1 and (age_max < AGE_RANGE[1] or age_min > ADVANTAGE_AUDIENCE_MAX_AGE_MIN):
        raise MetaProblem(
            "Age Range Not Available With Advantage Audience",
            f"With Advantage audience on, age_max must be {AGE_RANGE[1]} and age_min at most "
            f"{ADVANTAGE_AUDIENCE_MAX_AGE_MIN}; turn it off (advantage_audience: 0) to keep a "
            "narrower age range.",
            subcode=ADVANTAGE_AUDIENCE_AGE_SUBCODE,
            blame=["targeting", "age_max"],
        )


def creative_fields(state: SandboxState, account: str, params: dict[str, Any]) -> dict[str, Any]:
    spec = params.get("object_story_spec")
    if not isinstance(spec, dict) or not spec.get("page_id"):
        raise MetaProblem(
            "Missing object_story_spec", "object_story_spec with a page_id is required."
        )
    if "template_data" in spec:
        return _template_creative_fields(state, params, spec)
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


def _template_creative_fields(
    state: SandboxState, params: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """A catalog ad's template: `template_data` (filled from each item) and the
    `product_set_id` whose items it shows."""
    if "link_data" in spec:
        raise MetaProblem("Invalid object_story_spec", "Use template_data or link_data, not both.")
    template = spec["template_data"]
    if not isinstance(template, dict) or not isinstance(template.get("link"), str):
        raise MetaProblem("Missing Link", "object_story_spec.template_data.link is required.")
    if product_set_of(state, str(params.get("product_set_id") or "")) is None:
        raise MetaProblem(
            "Missing Product Set",
            "A template creative (template_data) needs the product_set_id of the items it shows.",
            blame=["product_set_id"],
        )
    cta = template.get("call_to_action")
    if cta is not None:
        enum_param(
            cta.get("type") if isinstance(cta, dict) else cta, "call_to_action.type", CTA_TYPES
        )
    fields = {
        "name": params.get("name") or "Creative",
        "object_story_spec": spec,
        "product_set_id": str(params["product_set_id"]),
    }
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
    _check_catalog_creative(adset, found)
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


def _check_catalog_creative(adset: dict[str, Any], creative: dict[str, Any]) -> None:
    """A catalog ad set runs template creatives of its own product set, and only those."""
    promoted = adset["fields"].get("promoted_object")
    wanted = str(promoted.get("product_set_id") or "") if isinstance(promoted, dict) else ""
    shown = str(creative["fields"].get("product_set_id") or "")
    if wanted != shown:
        raise MetaProblem(
            "Product Set Mismatch",
            f"The creative shows product set {shown or 'none'}; its ad set promotes "
            f"{wanted or 'no product set'}. Catalog ad sets take template creatives of "
            "their product set.",
            blame=["creative"],
        )
