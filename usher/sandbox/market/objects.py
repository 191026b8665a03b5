"""What of the sandbox's campaign objects can deliver, as plain delivery units.

Each platform keeps its objects in its own shape (Meta cents and ACTIVE/PAUSED, Google
micros and resource names, TikTok major units and ENABLE/DISABLE). This module reads
them into one neutral form once per simulated hour: a `DeliveryUnit` is one budget
(a campaign's, an ad set's / ad group's, or a shared Google budget) with the live ads
it pays for, each ad carrying its segment, creative, landing URL and its share of the
budget. A campaign maps to the segment of its platform whose `campaign_type` appears
as a bracketed tag in its name (`Rock Night [retargeting]`); an ad is the scenario
creative whose name appears in the ad's name or in what it shows (its creative's name,
headline or text), else the first one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from usher.sandbox.behaviour import ad_is_served
from usher.sandbox.market.scenario import Scenario, Segment
from usher.sandbox.metrics import account_zone
from usher.sandbox.state import SandboxState

log = logging.getLogger("usher.sandbox.market")

TAG = re.compile(r"\[([a-z_]+)\]")
META_CENTS_PER_UNIT = 100  # Meta budgets are in the currency's minor unit
MICROS_PER_UNIT = 1_000_000
PARSE_CACHE_SIZE = 4096
# TikTok's schedule times (UTC) and Google's (the customer's time zone) are written alike.
WALL_CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"
# Rollup levels per platform, ad first, account last: the keys reports are read by.
LEVELS = {
    "meta": ("ad", "adset", "campaign", "account"),
    "google_ads": ("ad_group_ad", "ad_group", "campaign", "customer"),
    "tiktok": ("ad", "adgroup", "campaign", "advertiser"),
}
# The query parameter each platform appends to a clicked ad's landing URL.
CLICK_ID_PARAMS = {"meta": "fbclid", "google_ads": "gclid", "tiktok": "ttclid"}


@dataclass(frozen=True)
class AdSlot:
    """One live ad: where its delivery is booked and what it stands for in the scenario."""

    platform: str
    account: str
    ad_id: str
    group_id: str  # Meta ad set, Google ad group, TikTok ad group
    campaign_id: str
    segment: int
    creative: int
    weight: float  # share of its unit's spend
    landing_url: str

    @property
    def rollup(self) -> tuple[tuple[str, str], ...]:
        """(object type, id) from the ad up to the account."""
        ad, group, campaign, account = LEVELS[self.platform]
        return (
            (ad, self.ad_id),
            (group, self.group_id),
            (campaign, self.campaign_id),
            (account, self.account),
        )


@dataclass(frozen=True)
class DeliveryUnit:
    """One budget and the live ads it pays for, as in force at the start of an hour."""

    key: str
    platform: str
    daily_budget: float | None  # currency units
    lifetime_budget: float | None
    end_time: datetime | None  # when a lifetime budget must be spent by
    ads: tuple[AdSlot, ...]
    cap_key: str | None = None  # budgets sharing one daily cap (their campaign's)
    cap_daily: float | None = None


def segment_of(scenario: Scenario, platform: str, name: Any, warned: set[str]) -> Segment | None:
    """The segment a campaign name's bracketed tag points to; logs an untagged one once."""
    tags = TAG.findall(str(name or ""))
    for tag in tags:
        segment = scenario.segment_for(platform, tag)
        if segment is not None:
            return segment
    key = f"{platform}:{name}"
    if key not in warned:
        warned.add(key)
        log.info(
            "campaign %r on %s has no segment tag of the scenario: it delivers nothing",
            name,
            platform,
        )
    return None


def creative_of(segment: Segment, *names: Any) -> int:
    """The creative whose name is in one of `names` (longest match wins), else 0."""
    return _creative_index(segment, tuple(str(name or "").lower() for name in names))


@lru_cache(maxsize=PARSE_CACHE_SIZE)  # asked for every ad every simulated hour
def _creative_index(segment: Segment, names: tuple[str, ...]) -> int:
    best, best_length = 0, -1
    for lowered in names:
        for index, creative in enumerate(segment.creatives):
            if creative.name.lower() in lowered and len(creative.name) > best_length:
                best, best_length = index, len(creative.name)
    return best


def _google_ad_creative(segment: Segment, ad: dict[str, Any], group: dict[str, Any]) -> int:
    """By the ad's name, its ad group's, or a responsive search ad's headline texts."""
    lines = (ad.get("responsive_search_ad") or {}).get("headlines") or []
    texts = [line.get("text") for line in lines if isinstance(line, dict)]
    return creative_of(segment, ad.get("name"), group.get("name"), *texts)


def _with_query(url: str, query: str | None) -> str:
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query.lstrip('?&')}"


def _meta_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return _parse_meta_time(str(value))


@lru_cache(maxsize=PARSE_CACHE_SIZE)  # parsed for every ad set every simulated hour
def _parse_meta_time(value: str) -> datetime | None:
    text = value.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tiktok_time(value: Any) -> datetime | None:
    parsed = _parse_wall_clock(str(value))
    return parsed.replace(tzinfo=UTC) if parsed else None


@lru_cache(maxsize=PARSE_CACHE_SIZE)  # parsed for every ad group and campaign every hour
def _parse_wall_clock(value: str) -> datetime | None:
    """A schedule time as the platforms write it (`WALL_CLOCK_FORMAT`), without its zone."""
    try:
        return datetime.strptime(value, WALL_CLOCK_FORMAT)
    except ValueError:
        return None


def _scheduled(start: datetime | None, end: datetime | None, at: datetime) -> bool:
    return (start is None or start <= at) and (end is None or at < end)


def delivery_units(
    state: SandboxState, scenario: Scenario, at: datetime, warned: set[str]
) -> list[DeliveryUnit]:
    """Every budget with at least one live ad, for the hour starting at `at`."""
    with state.lock:
        units = _hierarchy_units(state, META_HIERARCHY, scenario, at, warned)
        units += _hierarchy_units(state, TIKTOK_HIERARCHY, scenario, at, warned)
        units += _google_units(state, scenario, at, warned)
    return sorted(units, key=lambda unit: unit.key)


def _unit(
    key: str,
    platform: str,
    daily: float | None,
    lifetime: float | None,
    end: datetime | None,
    groups: list[list[AdSlot]],
) -> DeliveryUnit | None:
    """Spread the budget equally over groups, then equally over each group's ads."""
    groups = [group for group in groups if group]
    if not groups or not (daily or lifetime):
        return None
    ads = []
    for group in groups:
        for ad in group:
            ads.append(_reweighted(ad, 1.0 / len(groups) / len(group)))
    return DeliveryUnit(key, platform, daily, lifetime, end, tuple(ads))


def _reweighted(ad: AdSlot, weight: float) -> AdSlot:
    return AdSlot(
        ad.platform,
        ad.account,
        ad.ad_id,
        ad.group_id,
        ad.campaign_id,
        ad.segment,
        ad.creative,
        weight,
        ad.landing_url,
    )


# --- Meta and TikTok: campaign -> ad set / ad group -> ad; the budget on either level ---


@dataclass(frozen=True)
class _Hierarchy:
    """Where a campaign -> group -> ad platform keeps what delivery needs."""

    platform: str
    status_field: str
    active: str
    name_field: str  # the campaign's name
    group_field: str  # the ad's ad set / ad group id
    group_kind: str
    budget: Callable[[dict[str, Any]], tuple[float | None, float | None]]
    schedule: Callable[[dict[str, Any]], tuple[datetime | None, datetime | None]]
    creative_and_url: Callable[[SandboxState, dict[str, Any], Segment], tuple[int, str]]


def _hierarchy_units(
    state: SandboxState, shape: _Hierarchy, scenario: Scenario, at: datetime, warned: set[str]
) -> list[DeliveryUnit]:
    def live(obj: dict[str, Any] | None) -> bool:
        return bool(obj) and obj["fields"].get(shape.status_field) == shape.active  # type: ignore[index]

    ads_by_group: dict[str, list[AdSlot]] = {}
    for ad in state.objects_of(shape.platform, object_type="ad"):
        fields = ad["fields"]
        campaign = state.get_object(shape.platform, str(fields.get("campaign_id")))
        if not live(ad) or not live(campaign) or not ad_is_served(state, shape.platform, ad):
            continue
        segment = segment_of(
            scenario,
            shape.platform,
            campaign["fields"].get(shape.name_field),
            warned,  # type: ignore[index]
        )
        if segment is None:
            continue
        creative, url = shape.creative_and_url(state, fields, segment)
        group_id = str(fields.get(shape.group_field))
        slot = AdSlot(
            shape.platform, ad["account"], ad["id"], group_id, campaign["id"],  # type: ignore[index]
            segment.index, creative, 1.0, url,
        )  # fmt: skip
        ads_by_group.setdefault(group_id, []).append(slot)
    units = []
    by_campaign: dict[str, list[list[AdSlot]]] = {}
    ends: dict[str, datetime] = {}
    for group_id, slots in sorted(ads_by_group.items()):
        group = state.get_object(shape.platform, group_id)
        if not live(group):
            continue
        start, end = shape.schedule(group["fields"])  # type: ignore[index]
        if not _scheduled(start, end, at):
            continue
        campaign_id = slots[0].campaign_id
        campaign_daily, campaign_lifetime = shape.budget(
            state.get_object(shape.platform, campaign_id)["fields"]  # type: ignore[index]
        )
        daily, lifetime = shape.budget(group["fields"])  # type: ignore[index]
        if daily or lifetime:
            # the ad group's own budget; a campaign budget beside it (TikTok without
            # budget optimization) caps what the campaign's groups spend together
            key = f"{shape.platform}:{shape.group_kind}:{group_id}"
            unit = _unit(key, shape.platform, daily, lifetime, end or scenario.end, [slots])
            if unit and campaign_daily:
                cap_key = f"{shape.platform}:campaign:{campaign_id}"
                unit = replace(unit, cap_key=cap_key, cap_daily=campaign_daily)
            if unit:
                units.append(unit)
        elif campaign_daily or campaign_lifetime:
            by_campaign.setdefault(campaign_id, []).append(slots)
            if end:
                ends[campaign_id] = max(end, ends.get(campaign_id, end))
    for campaign_id, groups in by_campaign.items():
        fields = state.get_object(shape.platform, campaign_id)["fields"]  # type: ignore[index]
        daily, lifetime = shape.budget(fields)
        end = shape.schedule(fields)[1] or ends.get(campaign_id) or scenario.end
        key = f"{shape.platform}:campaign:{campaign_id}"
        unit = _unit(key, shape.platform, daily, lifetime, end, groups)
        if unit:
            units.append(unit)
    return units


def _meta_budget(fields: dict[str, Any]) -> tuple[float | None, float | None]:
    daily, lifetime = fields.get("daily_budget"), fields.get("lifetime_budget")
    return (
        int(daily) / META_CENTS_PER_UNIT if daily else None,
        int(lifetime) / META_CENTS_PER_UNIT if lifetime else None,
    )


def _meta_schedule(fields: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # ad sets say start_time/end_time, campaigns start_time/stop_time
    return _meta_time(fields.get("start_time")), _meta_time(
        fields.get("end_time") or fields.get("stop_time")
    )


def _meta_creative(
    state: SandboxState, fields: dict[str, Any], segment: Segment
) -> tuple[int, str]:
    creative = state.get_object("meta", str((fields.get("creative") or {}).get("id")))
    creative_fields = creative["fields"] if creative else {}
    # A link ad's link, or a catalog ad's template link (each item's page in Meta).
    story = creative_fields.get("object_story_spec") or {}
    content = story.get("link_data") or story.get("template_data") or {}
    # Usher names its ads and creatives by id: its variants differ in their headline
    # (`name`) and text (`message`), as Google's headlines and TikTok's ad text.
    return (
        creative_of(
            segment,
            fields.get("name"),
            creative_fields.get("name"),
            content.get("name"),
            content.get("message"),
        ),
        _with_query(
            content.get("link", ""), fields.get("url_tags") or creative_fields.get("url_tags")
        ),
    )


def _tiktok_budget(fields: dict[str, Any]) -> tuple[float | None, float | None]:
    mode, amount = fields.get("budget_mode"), fields.get("budget")
    if not amount:
        return None, None
    if mode == "BUDGET_MODE_TOTAL":
        return None, float(amount)
    if mode in ("BUDGET_MODE_DAY", "BUDGET_MODE_DYNAMIC_DAILY_BUDGET"):
        return float(amount), None
    return None, None


def _tiktok_schedule(fields: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return _tiktok_time(fields.get("schedule_start_time")), _tiktok_time(
        fields.get("schedule_end_time")
    )


def _tiktok_creative(
    state: SandboxState, fields: dict[str, Any], segment: Segment
) -> tuple[int, str]:
    return (
        creative_of(segment, fields.get("ad_name"), fields.get("ad_text")),
        str(fields.get("landing_page_url") or ""),
    )


META_HIERARCHY = _Hierarchy(
    "meta", "status", "ACTIVE", "name", "adset_id", "adset",
    _meta_budget, _meta_schedule, _meta_creative,
)  # fmt: skip
TIKTOK_HIERARCHY = _Hierarchy(
    "tiktok", "operation_status", "ENABLE", "campaign_name", "adgroup_id", "adgroup",
    _tiktok_budget, _tiktok_schedule, _tiktok_creative,
)  # fmt: skip


# --- Google Ads: budget (maybe shared) -> campaign -> ad group -> ad group ad ---


def _google_units(
    state: SandboxState, scenario: Scenario, at: datetime, warned: set[str]
) -> list[DeliveryUnit]:
    ads_by_group: dict[tuple[str, str], list[AdSlot]] = {}
    for ad in state.objects_of("google_ads", object_type="ad_group_ad"):
        fields = ad["fields"]
        if fields.get("status") != "ENABLED" or not ad_is_served(state, "google_ads", ad):
            continue
        customer = ad["account"]
        group = _google_parent(state, customer, "adGroups", fields.get("ad_group"))
        if not group or group["fields"].get("status") != "ENABLED":
            continue
        campaign = _google_parent(state, customer, "campaigns", group["fields"].get("campaign"))
        if not campaign or campaign["fields"].get("status") != "ENABLED":
            continue
        if not _scheduled(*_google_schedule(state, customer, campaign["fields"]), at):
            continue
        segment = segment_of(scenario, "google_ads", campaign["fields"].get("name"), warned)
        if segment is None:
            continue
        body = fields.get("ad") or {}
        urls = body.get("final_urls") or [""]
        suffix = body.get("final_url_suffix") or campaign["fields"].get("final_url_suffix")
        slot = AdSlot(
            "google_ads",
            customer,
            ad["id"],
            group["id"],
            campaign["id"],
            segment.index,
            _google_ad_creative(segment, body, group["fields"]),
            1.0,
            _with_query(str(urls[0]), suffix),
        )
        ads_by_group.setdefault((campaign["id"], group["id"]), []).append(slot)
    by_budget: dict[str, dict[str, list[list[AdSlot]]]] = {}
    for (campaign_id, _), slots in sorted(ads_by_group.items()):
        campaign = state.get_object("google_ads", f"campaigns:{slots[0].account}:{campaign_id}")
        budget_name = str(campaign["fields"].get("campaign_budget")) if campaign else ""
        by_budget.setdefault(budget_name, {}).setdefault(campaign_id, []).append(slots)
    units = []
    for budget_name, campaigns in sorted(by_budget.items()):
        customer = next(iter(campaigns.values()))[0][0].account
        budget = _google_parent(state, customer, "campaignBudgets", budget_name)
        if not budget or budget["fields"].get("status", "ENABLED") == "REMOVED":
            continue
        daily = int(budget["fields"].get("amount_micros") or 0) / MICROS_PER_UNIT
        # a shared budget is spread equally over its campaigns, then over their ad groups
        ads = []
        for campaign_groups in campaigns.values():
            for group in campaign_groups:
                for ad in group:
                    ads.append(
                        _reweighted(ad, 1.0 / len(campaigns) / len(campaign_groups) / len(group))
                    )
        if daily > 0 and ads:
            units.append(
                DeliveryUnit(
                    f"google_ads:budget:{budget['id']}", "google_ads", daily, None, None, tuple(ads)
                )
            )
    return units


def _google_schedule(
    state: SandboxState, customer: str, fields: dict[str, Any]
) -> tuple[datetime | None, datetime | None]:
    """A campaign's start and end (`start_date_time`, `end_date_time`: the customer's
    local time). Google serves a campaign only between them, so an end date bounds
    what a daily budget may still spend (docs/platforms.md, Google Ads)."""
    zone = account_zone(state, "google_ads", customer)
    start, end = (
        _parse_wall_clock(str(fields.get(key) or ""))
        for key in ("start_date_time", "end_date_time")
    )
    return (
        start.replace(tzinfo=zone) if start else None,
        end.replace(tzinfo=zone) if end else None,
    )


def _google_parent(
    state: SandboxState, customer: str, collection: str, resource_name: Any
) -> dict[str, Any] | None:
    if not isinstance(resource_name, str):
        return None
    return state.get_object(
        "google_ads", f"{collection}:{customer}:{resource_name.rsplit('/', 1)[-1]}"
    )
