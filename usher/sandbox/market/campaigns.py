"""Campaign objects written straight into the sandbox's state, for in-process runs.

The simulate CLI, the benchmark and tests need campaigns without going through each
platform's HTTP validation (which Usher's own connectors exercise). These helpers
write the same objects the platform endpoints store (Meta cents and ACTIVE/PAUSED,
Google micros and resource names, TikTok major units and ENABLE/DISABLE): one
campaign with one ad set / ad group and one ad per creative, its budget on the
campaign, its landing URL carrying UTM tags the way Usher sets them (Meta `url_tags`,
Google `final_url_suffix`, TikTok in the landing URL). Budgets are rounded down to
what the platform accepts (whole cents; Google in multiples of 10,000 micros), so a
plan never overspends by rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode

from usher.sandbox.google_common import GOOGLE_ID_BASE
from usher.sandbox.meta_common import META_OBJECT_ID_BASE, now_iso
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_common import TIKTOK_ID_BASE

DEFAULT_ACCOUNTS = {
    "meta": "100000000000001",
    "google_ads": "1000000001",
    "tiktok": "7000000000000000001",
}
DEFAULT_LANDING_URL = "https://tickets.example/events/simulated-event/"
UTM_SOURCES = {"meta": "facebook", "google_ads": "google", "tiktok": "tiktok"}
CENT = Decimal("0.01")
TIKTOK_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CampaignRef:
    """Ids of one simulated campaign's objects; `ads` maps creative name to ad id."""

    platform: str
    account: str
    campaign_id: str
    group_id: str
    budget_id: str
    ads: dict[str, str]


@dataclass(frozen=True)
class _Plan:
    account: str
    name: str
    budget: Decimal
    creatives: tuple[str, ...]
    landing_url: str


def _cents(amount: float | Decimal) -> Decimal:
    value = Decimal(str(amount)).quantize(CENT, rounding=ROUND_DOWN)
    if value <= 0:
        raise ValueError("a budget must be at least 0.01")
    return value


def utm_query(platform: str, campaign_name: str, creative: str) -> str:
    return urlencode(
        {
            "utm_source": UTM_SOURCES[platform],
            "utm_medium": "paid",
            "utm_campaign": campaign_name,
            "utm_content": creative,
        }
    )


def create_campaign(
    state: SandboxState,
    platform: str,
    name: str,
    daily_budget: float | Decimal,
    creatives: list[str],
    landing_url: str = DEFAULT_LANDING_URL,
    account: str | None = None,
) -> CampaignRef:
    """One live campaign with a daily budget and one live ad per creative."""
    if not creatives:
        raise ValueError("a campaign needs at least one creative")
    account = account or DEFAULT_ACCOUNTS[platform]
    builder = {"meta": _meta, "google_ads": _google, "tiktok": _tiktok}[platform]
    with state.lock:
        return builder(
            state, _Plan(account, name, _cents(daily_budget), tuple(creatives), landing_url)
        )


def _put(state: SandboxState, platform: str, key: str, obj: dict[str, Any]) -> None:
    obj.setdefault("created_at", state.now())
    state.put_object(platform, key, obj)


def _meta(state: SandboxState, plan: _Plan) -> CampaignRef:
    account, name, budget, landing_url = plan.account, plan.name, plan.budget, plan.landing_url

    def new_id() -> str:
        return state.next_id("meta", META_OBJECT_ID_BASE)

    stamp = now_iso(state.now())
    common = {"created_time": stamp, "updated_time": stamp}
    campaign_id, adset_id = new_id(), new_id()
    _put(state, "meta", campaign_id, {
        "id": campaign_id, "type": "campaign", "account": account,
        "fields": {
            "name": name, "objective": "OUTCOME_SALES", "special_ad_categories": [],
            "status": "ACTIVE", "daily_budget": int(budget * 100), "buying_type": "AUCTION",
            **common,
        },
    })  # fmt: skip
    _put(state, "meta", adset_id, {
        "id": adset_id, "type": "adset", "account": account,
        "fields": {
            "name": f"{name} · ad set", "campaign_id": campaign_id, "status": "ACTIVE",
            "targeting": {"geo_locations": {"countries": ["RO"]}},
            "billing_event": "IMPRESSIONS", "optimization_goal": "OFFSITE_CONVERSIONS",
            **common,
        },
    })  # fmt: skip
    ads = {}
    for creative in plan.creatives:
        creative_id, ad_id = new_id(), new_id()
        _put(state, "meta", creative_id, {
            "id": creative_id, "type": "adcreative", "account": account,
            "fields": {
                "name": creative,
                "object_story_spec": {"page_id": "1", "link_data": {"link": landing_url}},
                "url_tags": utm_query("meta", name, creative), **common,
            },
        })  # fmt: skip
        _put(state, "meta", ad_id, {
            "id": ad_id, "type": "ad", "account": account,
            "fields": {
                "name": f"{name} · {creative}", "adset_id": adset_id, "campaign_id": campaign_id,
                "creative": {"id": creative_id}, "status": "ACTIVE", **common,
            },
        })  # fmt: skip
        ads[creative] = ad_id
    return CampaignRef("meta", account, campaign_id, adset_id, campaign_id, ads)


def _google(state: SandboxState, plan: _Plan) -> CampaignRef:
    account, name, budget, landing_url = plan.account, plan.name, plan.budget, plan.landing_url

    def new_id() -> str:
        return state.next_id("google_ads", GOOGLE_ID_BASE)

    def store(collection: str, resource: str, object_id: str, fields: dict[str, Any]) -> str:
        resource_name = f"customers/{account}/{collection}/{object_id}"
        fields.update(id=object_id, resource_name=resource_name)
        _put(state, "google_ads", f"{collection}:{account}:{object_id}", {
            "id": object_id, "type": resource, "account": account,
            "resource_name": resource_name, "fields": fields,
        })  # fmt: skip
        return resource_name

    budget_id, campaign_id, group_id = new_id(), new_id(), new_id()
    budget_name = store("campaignBudgets", "campaign_budget", budget_id, {
        "name": f"{name} · budget", "amount_micros": str(int(budget * 1_000_000)),
        "delivery_method": "STANDARD", "period": "DAILY", "explicitly_shared": False,
        "status": "ENABLED",
    })  # fmt: skip
    campaign_name = store("campaigns", "campaign", campaign_id, {
        "name": name, "advertising_channel_type": "SEARCH", "status": "ENABLED",
        "campaign_budget": budget_name, "maximize_conversions": {},
        "contains_eu_political_advertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
    })  # fmt: skip
    group_name = store("adGroups", "ad_group", group_id, {
        "name": f"{name} · ad group", "campaign": campaign_name, "status": "ENABLED",
    })  # fmt: skip
    ads = {}
    for creative in plan.creatives:
        ad_id = f"{group_id}~{new_id()}"
        store("adGroupAds", "ad_group_ad", ad_id, {
            "ad_group": group_name, "status": "ENABLED",
            "ad": {
                "name": creative, "final_urls": [landing_url],
                "final_url_suffix": utm_query("google_ads", name, creative),
            },
        })  # fmt: skip
        ads[creative] = ad_id
    return CampaignRef("google_ads", account, campaign_id, group_id, budget_id, ads)


def _tiktok(state: SandboxState, plan: _Plan) -> CampaignRef:
    account, name, budget, landing_url = plan.account, plan.name, plan.budget, plan.landing_url

    def store(kind: str, fields: dict[str, Any]) -> str:
        object_id = state.next_id("tiktok", TIKTOK_ID_BASE)
        stamp = datetime.fromtimestamp(state.now(), UTC).strftime(TIKTOK_TIME_FORMAT)
        fields.update({
            f"{kind}_id": object_id, "advertiser_id": account,
            "create_time": stamp, "modify_time": stamp, "operation_status": "ENABLE",
        })  # fmt: skip
        _put(state, "tiktok", object_id, {
            "id": object_id, "type": kind, "account": account, "fields": fields,
        })  # fmt: skip
        return object_id

    campaign_id = store("campaign", {
        "campaign_name": name, "objective_type": "WEB_CONVERSIONS",
        "budget_mode": "BUDGET_MODE_DAY", "budget": float(budget),
    })  # fmt: skip
    start = datetime.fromtimestamp(state.now(), UTC).strftime(TIKTOK_TIME_FORMAT)
    group_id = store("adgroup", {
        "campaign_id": campaign_id, "adgroup_name": f"{name} · ad group",
        "placement_type": "PLACEMENT_TYPE_AUTOMATIC", "location_ids": ["798549"],
        "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": start,
        "optimization_goal": "CONVERT", "billing_event": "OCPM",
        "budget_mode": "BUDGET_MODE_INFINITE",
    })  # fmt: skip
    ads = {}
    for creative in plan.creatives:
        separator = "&" if "?" in landing_url else "?"
        ads[creative] = store("ad", {
            "adgroup_id": group_id, "campaign_id": campaign_id,
            "ad_name": f"{name} · {creative}", "ad_text": name,
            "landing_page_url": f"{landing_url}{separator}{utm_query('tiktok', name, creative)}",
            "video_id": "v10000000000000000001",
        })  # fmt: skip
    return CampaignRef("tiktok", account, campaign_id, group_id, campaign_id, ads)


def set_daily_budget(state: SandboxState, ref: CampaignRef, amount: float | Decimal) -> None:
    """Change the campaign's daily budget (counts from the next whole hour)."""
    budget = _cents(amount)
    with state.lock:
        if ref.platform == "meta":
            _fields(state, ref, ref.campaign_id)["daily_budget"] = int(budget * 100)
        elif ref.platform == "google_ads":
            key = f"campaignBudgets:{ref.account}:{ref.budget_id}"
            _fields(state, ref, key)["amount_micros"] = str(int(budget * 1_000_000))
        else:
            _fields(state, ref, ref.campaign_id)["budget"] = float(budget)
        state.dirty = True


ACTIVE = {
    "meta": ("ACTIVE", "PAUSED"),
    "google_ads": ("ENABLED", "PAUSED"),
    "tiktok": ("ENABLE", "DISABLE"),
}
STATUS_FIELD = {"meta": "status", "google_ads": "status", "tiktok": "operation_status"}


def set_campaign_active(state: SandboxState, ref: CampaignRef, active: bool) -> None:
    """Pause or resume the whole campaign."""
    key = (
        f"campaigns:{ref.account}:{ref.campaign_id}"
        if ref.platform == "google_ads"
        else ref.campaign_id
    )
    _set_status(state, ref, key, active)


def set_ad_active(state: SandboxState, ref: CampaignRef, creative: str, active: bool) -> None:
    """Pause or resume the ad of one creative."""
    ad_id = ref.ads[creative]
    key = f"adGroupAds:{ref.account}:{ad_id}" if ref.platform == "google_ads" else ad_id
    _set_status(state, ref, key, active)


def _set_status(state: SandboxState, ref: CampaignRef, key: str, active: bool) -> None:
    on, off = ACTIVE[ref.platform]
    with state.lock:
        _fields(state, ref, key)[STATUS_FIELD[ref.platform]] = on if active else off
        state.dirty = True


def _fields(state: SandboxState, ref: CampaignRef, key: str) -> dict[str, Any]:
    found = state.get_object(ref.platform, key)
    if found is None:
        raise KeyError(f"no {ref.platform} object {key}")
    return found["fields"]
