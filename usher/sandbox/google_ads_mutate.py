"""Google Ads `{collection}:mutate` for budgets, campaigns, user lists and ad group parts.

Operations are `create`, `update` (with `updateMask`) or `remove`; the request is
all-or-nothing unless `partialFailure` is true. Objects keep every field Usher sets,
so GAQL reads them back. Stored under `{collection}:{customer}:{id}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import account_behaviour
from usher.sandbox.google_common import (
    GOOGLE,
    GOOGLE_ID_BASE,
    AdsError,
    AdsFailure,
    int64,
    partial_failure_error,
    resource_id,
    snake,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import is_one_of

MAX_OPERATIONS_PER_REQUEST = 10_000
# Budgets must be a multiple of the currency's minimum unit (0.01 = 10,000 micros).
MINIMUM_CURRENCY_UNIT_MICROS = 10_000
MAX_MEMBERSHIP_LIFE_SPAN_DAYS = 540
CHANNEL_TYPES = frozenset(
    {"SEARCH", "DISPLAY", "SHOPPING", "VIDEO", "PERFORMANCE_MAX", "DEMAND_GEN", "MULTI_CHANNEL"}
)
STATUSES = frozenset({"ENABLED", "PAUSED", "REMOVED"})
BIDDING_FIELDS = (
    "manual_cpc",
    "manual_cpm",
    "maximize_conversions",
    "maximize_conversion_value",
    "target_cpa",
    "target_roas",
    "target_spend",
    "target_impression_share",
    "bidding_strategy",
)
UPLOAD_KEY_TYPES = frozenset({"CONTACT_INFO", "CRM_ID", "MOBILE_ADVERTISING_ID"})
# Every campaign declares whether it carries EU political ads (required since v19.2/v20.1).
EU_POLITICAL_DECLARATIONS = frozenset(
    {"CONTAINS_EU_POLITICAL_ADVERTISING", "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"}
)
EU_DECLARATION_FIELD = "contains_eu_political_advertising"
# Performance Max and Demand Gen cannot use shared budgets (docs/platforms.md, Google Ads:
# campaigns and budgets).
NO_SHARED_BUDGET_CHANNELS = frozenset({"PERFORMANCE_MAX", "DEMAND_GEN"})
# Demand Gen needs at least 5 USD a day [V-3p: BUDGET_BELOW_PER_DAY_MINIMUM with
# budgetPerDayMinimumMicros 5000000]; the sandbox applies it in the account currency.
CHANNEL_MINIMUM_DAILY_MICROS = {"DEMAND_GEN": 5_000_000}
# From 1 April 2026 one undeclared campaign blocks the account's mutates; before, only
# location targeting of an undeclared campaign was refused.
ACCOUNT_BLOCK_STARTS_AT = datetime(2026, 4, 1, tzinfo=UTC).timestamp()
LEGACY_BUDGET_MICROS = 10_000_000

Path = list[tuple[str, int | None]]
Check = Callable[[SandboxState, str, dict[str, Any], Path], None]


def _fail(category: str, code: str, message: str, path: Path) -> AdsFailure:
    return AdsFailure([AdsError(category, code, message, path)])


def _required(fields: dict[str, Any], name: str, path: Path) -> Any:
    if fields.get(name) in (None, "", {}):
        raise _fail(
            "fieldError", "REQUIRED", "The required field was not present.", [*path, (name, None)]
        )
    return fields[name]


def _enum(fields: dict[str, Any], name: str, allowed: frozenset[str], path: Path) -> None:
    if name in fields and not is_one_of(fields[name], allowed):
        raise _fail(
            "fieldError",
            "INVALID_VALUE",
            f"{name} must be one of {', '.join(sorted(allowed))}.",
            [*path, (name, None)],
        )


def _unique_name(
    state: SandboxState,
    customer: str,
    collection: str,
    fields: dict[str, Any],
    category: str,
    code: str,
    path: Path,
) -> None:
    for other in state.objects_of(GOOGLE, customer, collection):
        if (
            other["id"] != fields.get("id")
            and other["fields"].get("status") != "REMOVED"
            and other["fields"].get("name") == fields["name"]
        ):
            raise _fail(
                category,
                code,
                f"The name {fields['name']!r} is already used.",
                [*path, ("name", None)],
            )


def _parent(
    state: SandboxState,
    customer: str,
    fields: dict[str, Any],
    key: str,
    collection: str,
    path: Path,
) -> None:
    parent_id = resource_id(fields.get(key), customer, collection)
    parent = state.get_object(GOOGLE, f"{collection}:{customer}:{parent_id}")
    if parent is None or parent["fields"].get("status") == "REMOVED":
        raise _fail(
            "mutateError",
            "RESOURCE_NOT_FOUND",
            f"The {key} resource was not found.",
            [*path, (key, None)],
        )


def check_budget(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    _required(fields, "name", path)
    micros = int64(_required(fields, "amount_micros", path))
    if micros is None or micros <= 0:
        raise _fail(
            "rangeError",
            "TOO_LOW",
            "amount_micros must be a positive integer.",
            [*path, ("amount_micros", None)],
        )
    if micros % MINIMUM_CURRENCY_UNIT_MICROS:
        raise _fail(
            "campaignBudgetError",
            "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            "The budget amount must be a multiple of the minimum currency unit.",
            [*path, ("amount_micros", None)],
        )
    fields["amount_micros"] = str(micros)
    fields.setdefault("delivery_method", "STANDARD")
    fields.setdefault("period", "DAILY")
    fields.setdefault("explicitly_shared", True)
    fields.setdefault("status", "ENABLED")
    _enum(fields, "delivery_method", frozenset({"STANDARD", "ACCELERATED"}), path)
    _unique_name(
        state, customer, "campaign_budget", fields, "campaignBudgetError", "DUPLICATE_NAME", path
    )
    for campaign in state.objects_of(GOOGLE, customer, "campaign"):
        if campaign["fields"].get("campaign_budget") == fields["resource_name"]:
            _check_budget_for_channel(
                state, customer, campaign["fields"]["advertising_channel_type"], fields, path
            )


def check_campaign(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    _required(fields, "name", path)
    _required(fields, "advertising_channel_type", path)
    _enum(fields, "advertising_channel_type", CHANNEL_TYPES, path)
    fields.setdefault("status", "ENABLED")
    _enum(fields, "status", STATUSES, path)
    _required(fields, "campaign_budget", path)
    _parent(state, customer, fields, "campaign_budget", "campaignBudgets", path)
    _required(fields, EU_DECLARATION_FIELD, path)
    _enum(fields, EU_DECLARATION_FIELD, EU_POLITICAL_DECLARATIONS, path)
    budget_id = resource_id(fields["campaign_budget"], customer, "campaignBudgets")
    budget = state.get_object(GOOGLE, f"campaignBudgets:{customer}:{budget_id}")
    assert budget is not None  # _parent checked it
    channel = fields["advertising_channel_type"]
    if channel in NO_SHARED_BUDGET_CHANNELS and budget["fields"].get("explicitly_shared"):
        raise _fail(
            "campaignError",
            "CAMPAIGN_CANNOT_USE_SHARED_BUDGET",
            f"{channel} campaigns cannot use a shared budget; create one with "
            "explicitly_shared false.",
            [*path, ("campaign_budget", None)],
        )
    _check_budget_for_channel(state, customer, channel, budget["fields"], path)
    if not any(key in fields for key in BIDDING_FIELDS):
        raise _fail(
            "fieldError",
            "REQUIRED",
            "A bidding strategy (e.g. manual_cpc, maximize_conversions) is required.",
            [*path, ("campaign_bidding_strategy", None)],
        )
    _unique_name(
        state, customer, "campaign", fields, "campaignError", "DUPLICATE_CAMPAIGN_NAME", path
    )


def _check_budget_for_channel(
    state: SandboxState, customer: str, channel: str, budget: dict[str, Any], path: Path
) -> None:
    minimum = CHANNEL_MINIMUM_DAILY_MICROS.get(channel)
    if minimum is None or int(budget["amount_micros"]) >= minimum:
        return
    failure = _fail(
        "campaignBudgetError",
        "BUDGET_BELOW_PER_DAY_MINIMUM",
        f"{channel} campaigns need a budget of at least {minimum} micros a day.",
        [*path, ("campaign_budget", None)],
    )
    failure.errors[0].details = {
        "budgetPerDayMinimumErrorDetails": {
            "budgetPerDayMinimumMicros": str(minimum),
            "currencyCode": _currency(state, customer),
        }
    }
    raise failure


def _currency(state: SandboxState, customer: str) -> str:
    registered = state.account(GOOGLE, customer)
    return str(registered.settings.get("currency_code", "EUR")) if registered else "EUR"


def check_user_list(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    _required(fields, "name", path)
    crm = fields.get("crm_based_user_list")
    if isinstance(crm, dict):
        crm_path: Path = [*path, ("crm_based_user_list", None)]
        _required(crm, "upload_key_type", crm_path)
        _enum(crm, "upload_key_type", UPLOAD_KEY_TYPES, crm_path)
    span = int64(fields.get("membership_life_span", 540))
    if span is None or not 0 <= span <= MAX_MEMBERSHIP_LIFE_SPAN_DAYS:
        raise _fail(
            "rangeError",
            "TOO_HIGH",
            f"membership_life_span must be 0 to {MAX_MEMBERSHIP_LIFE_SPAN_DAYS} days.",
            [*path, ("membership_life_span", None)],
        )
    fields.setdefault("membership_status", "OPEN")
    _unique_name(state, customer, "user_list", fields, "userListError", "NAME_ALREADY_USED", path)


def check_ad_group(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    _required(fields, "name", path)
    fields.setdefault("status", "ENABLED")
    _enum(fields, "status", STATUSES, path)
    _parent(state, customer, fields, "campaign", "campaigns", path)


def _child_of(key: str, collection: str) -> Check:
    def check(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
        fields.setdefault("status", "ENABLED")
        _parent(state, customer, fields, key, collection, path)

    return check


ASSET_SET_TYPES = frozenset(
    {
        "DYNAMIC_CUSTOM",
        "DYNAMIC_EDUCATION",
        "DYNAMIC_FLIGHTS",
        "DYNAMIC_HOTELS_AND_RENTALS",
        "DYNAMIC_JOBS",
        "DYNAMIC_LOCAL",
        "DYNAMIC_REAL_ESTATE",
        "DYNAMIC_TRAVEL",
        "MERCHANT_CENTER_FEED",
    }
)
# DynamicCustomAsset.price: "number followed by the alphabetic currency code, ISO 4217
# standard", '.' as the decimal mark (thousands separators allowed).
DYNAMIC_PRICE = re.compile(r"^[0-9][0-9,]*(\.[0-9]+)? [A-Z]{3}$")
URL = re.compile(r"^https?://\S+$")


def check_asset_set(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    _required(fields, "name", path)
    _required(fields, "type", path)
    _enum(fields, "type", ASSET_SET_TYPES, path)
    fields.setdefault("status", "ENABLED")


def check_asset(state: SandboxState, customer: str, fields: dict[str, Any], path: Path) -> None:
    """Only dynamic custom assets are modelled: `id` and `item_title` required, `price`
    in Google's format, and the `final_urls` a dynamic asset needs."""
    custom = _required(fields, "dynamic_custom_asset", path)
    where = [*path, ("dynamic_custom_asset", None)]
    if not isinstance(custom, dict):
        raise _fail("fieldError", "INVALID_VALUE", "Must be an object.", where)
    _required(custom, "id", where)
    _required(custom, "item_title", where)
    price = custom.get("price")
    if price is not None and not DYNAMIC_PRICE.match(str(price)):
        raise _fail(
            "assetError",
            "INVALID_PRICE",
            "price must be a number followed by an ISO 4217 currency code, e.g. 12.00 EUR.",
            [*where, ("price", None)],
        )
    urls = fields.get("final_urls")
    if not isinstance(urls, list) or not urls or not all(URL.match(str(u)) for u in urls):
        raise _fail(
            "assetError",
            "DYNAMIC_CUSTOM_ASSET_MISSING_FINAL_URLS",
            "A dynamic custom asset needs final_urls (http or https).",
            [*path, ("final_urls", None)],
        )


def check_asset_set_asset(
    state: SandboxState, customer: str, fields: dict[str, Any], path: Path
) -> None:
    """A link of an asset into an asset set; its id is `{asset_set}~{asset}` as Google's."""
    _parent(state, customer, fields, "asset_set", "assetSets", path)
    _parent(state, customer, fields, "asset", "assets", path)
    set_id = resource_id(fields["asset_set"], customer, "assetSets")
    asset_id = resource_id(fields["asset"], customer, "assets")
    link_id = f"{set_id}~{asset_id}"
    existing = state.get_object(GOOGLE, f"assetSetAssets:{customer}:{link_id}")
    if existing is not None and existing["fields"].get("status") != "REMOVED":
        raise _fail(
            "assetSetAssetError",
            "DUPLICATE_ASSET_SET_ASSET",
            "The asset is already in this asset set.",
            [*path, ("asset", None)],
        )
    fields.update(id=link_id, resource_name=f"customers/{customer}/assetSetAssets/{link_id}")
    fields.setdefault("status", "ENABLED")


# collection -> (GAQL resource name, parent field for composite ids, validation)
COLLECTIONS: dict[str, tuple[str, str | None, Check]] = {
    "campaignBudgets": ("campaign_budget", None, check_budget),
    "campaigns": ("campaign", None, check_campaign),
    "userLists": ("user_list", None, check_user_list),
    "adGroups": ("ad_group", None, check_ad_group),
    "adGroupAds": ("ad_group_ad", "ad_group", _child_of("ad_group", "adGroups")),
    "adGroupCriteria": ("ad_group_criterion", "ad_group", _child_of("ad_group", "adGroups")),
    "campaignCriteria": ("campaign_criterion", "campaign", _child_of("campaign", "campaigns")),
    "assetSets": ("asset_set", None, check_asset_set),
    "assets": ("asset", None, check_asset),
    "assetSetAssets": ("asset_set_asset", None, check_asset_set_asset),
}


def seed_undeclared_campaigns(state: SandboxState, customer: str) -> None:
    """Create the account's legacy campaigns (setting `undeclared_campaigns`), once each.

    They stand for campaigns made before the declaration existed: paused, on their
    own budget, and without `contains_eu_political_advertising`.
    """
    wanted = account_behaviour(state, GOOGLE, customer).undeclared_campaigns
    existing = [c for c in state.objects_of(GOOGLE, customer, "campaign") if c.get("legacy")]
    for number in range(len(existing) + 1, wanted + 1):
        budget_id = state.next_id(GOOGLE, GOOGLE_ID_BASE)
        budget = {
            "id": budget_id,
            "resource_name": f"customers/{customer}/campaignBudgets/{budget_id}",
            "name": f"Legacy budget {number}",
            "amount_micros": str(LEGACY_BUDGET_MICROS),
            "delivery_method": "STANDARD",
            "period": "DAILY",
            "explicitly_shared": False,
            "status": "ENABLED",
        }
        state.put_object(
            GOOGLE,
            f"campaignBudgets:{customer}:{budget_id}",
            _stored("campaign_budget", customer, budget),
        )
        campaign_id = state.next_id(GOOGLE, GOOGLE_ID_BASE)
        campaign = {
            "id": campaign_id,
            "resource_name": f"customers/{customer}/campaigns/{campaign_id}",
            "name": f"Legacy campaign {number}",
            "advertising_channel_type": "SEARCH",
            "status": "PAUSED",
            "campaign_budget": budget["resource_name"],
            "manual_cpc": {},
        }
        stored = _stored("campaign", customer, campaign)
        stored["legacy"] = True
        state.put_object(GOOGLE, f"campaigns:{customer}:{campaign_id}", stored)


def _undeclared(state: SandboxState, customer: str) -> set[str]:
    """Resource names of the account's live campaigns that have not declared EU political ads."""
    return {
        c["resource_name"]
        for c in state.objects_of(GOOGLE, customer, "campaign")
        if c["fields"].get("status") != "REMOVED" and not c["fields"].get(EU_DECLARATION_FIELD)
    }


def _declaration_problem(
    state: SandboxState, customer: str, collection: str, operation: Any, index: int
) -> AdsError | None:
    """The EU political ads refusal for this operation, if any (docs/platforms.md,
    Google Ads: campaigns and budgets)."""
    undeclared = _undeclared(state, customer)
    if not undeclared or not isinstance(operation, dict):
        return None
    update = operation.get("update")
    mask = {snake(part.strip()) for part in str(operation.get("update_mask", "")).split(",")}
    declares = (
        collection == "campaigns" and isinstance(update, dict) and EU_DECLARATION_FIELD in mask
    )
    if state.now() >= ACCOUNT_BLOCK_STARTS_AT:
        if declares:
            return None
        return AdsError(
            "mutateError",
            "EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED",
            "Mutates are not allowed while the customer has campaigns without the EU "
            "political advertising declaration.",
            [("operations", index)],
        )
    create = operation.get("create")
    if (
        collection == "campaignCriteria"
        and isinstance(create, dict)
        and "location" in create
        and create.get("campaign") in undeclared
    ):
        # [U] the error category of this code was not read; campaignCriterionError fits.
        return AdsError(
            "campaignCriterionError",
            "MISSING_EU_POLITICAL_ADVERTISING_SELF_DECLARATION",
            "The campaign must declare whether it contains EU political advertising before "
            "it can target locations.",
            [("operations", index), ("create", None), ("campaign", None)],
        )
    return None


def mutate(state: SandboxState, call: Call) -> Response:
    version = call.params["version"]
    collection = call.params["collection"]
    customer = call.account or ""
    body = call.body if isinstance(call.body, dict) else {}
    operations = body.get("operations")
    try:
        if not isinstance(operations, list) or not operations:
            raise _fail(
                "fieldError",
                "REQUIRED_NONEMPTY_LIST",
                "The field must contain at least one element.",
                [("operations", None)],
            )
        if len(operations) > MAX_OPERATIONS_PER_REQUEST:
            raise _fail(
                "requestError",
                "TOO_MANY_MUTATE_OPERATIONS",
                f"At most {MAX_OPERATIONS_PER_REQUEST} operations per request.",
                [("operations", None)],
            )
    except AdsFailure as failure:
        return failure.response(version)
    planned: list[tuple[str, dict[str, Any]] | None] = []
    errors: list[AdsError] = []
    for index, operation in enumerate(operations):
        refusal = _declaration_problem(state, customer, collection, operation, index)
        if refusal is not None:
            errors.append(refusal)
            planned.append(None)
            continue
        try:
            planned.append(_plan(state, customer, collection, operation, index))
        except AdsFailure as failure:
            errors.extend(failure.errors)
            planned.append(None)
    if errors and not body.get("partial_failure"):
        return AdsFailure(errors).response(version)
    results = []
    for item in planned:
        if item is None:
            results.append({})
            continue
        key, obj = item
        if not body.get("validate_only"):
            state.put_object(GOOGLE, key, obj)
        results.append({"resourceName": obj["resource_name"]})
    answer: dict[str, Any] = {"results": results}
    if errors:
        answer["partialFailureError"] = partial_failure_error(version, errors)
    return json_response(answer)


def _plan(
    state: SandboxState, customer: str, collection: str, operation: Any, index: int
) -> tuple[str, dict[str, Any]]:
    """The stored object this operation produces (not yet written), or AdsFailure."""
    resource, parent_key, check = COLLECTIONS[collection]
    path: Path = [("operations", index)]
    kinds = [
        k for k in ("create", "update", "remove") if isinstance(operation, dict) and k in operation
    ]
    if len(kinds) != 1:
        raise _fail(
            "requestError",
            "OPERATION_REQUIRED",
            "Each operation needs exactly one of create, update or remove.",
            path,
        )
    kind = kinds[0]
    if kind == "create":
        fields = dict(operation["create"]) if isinstance(operation["create"], dict) else {}
        new_id = state.next_id(GOOGLE, GOOGLE_ID_BASE)
        if parent_key:
            parent_id = (
                resource_id(fields.get(parent_key), customer, collection_of(parent_key)) or "0"
            )
            new_id = f"{parent_id}~{new_id}"
        fields.update(id=new_id, resource_name=f"customers/{customer}/{collection}/{new_id}")
        check(state, customer, fields, [*path, ("create", None)])
        stored = _stored(resource, customer, fields)
        stored["created_at"] = state.now()  # the start of "lifetime" metrics in GAQL
        return f"{collection}:{customer}:{stored['id']}", stored
    update = operation.get("update")
    if kind == "update" and not isinstance(update, dict):
        raise _fail(
            "fieldError", "REQUIRED", "update must be a resource object.", [*path, ("update", None)]
        )
    target = operation["remove"] if kind == "remove" else update.get("resource_name")
    object_id = resource_id(target, customer, collection)
    existing = state.get_object(GOOGLE, f"{collection}:{customer}:{object_id}")
    if existing is None:
        raise _fail(
            "mutateError",
            "RESOURCE_NOT_FOUND",
            "The resource was not found.",
            [*path, (kind, None), ("resource_name", None)],
        )
    fields = dict(existing["fields"])
    if kind == "remove":
        fields["status"] = "REMOVED"
        return f"{collection}:{customer}:{object_id}", dict(existing, fields=fields)
    mask = operation.get("update_mask")
    if not mask:
        raise _fail(
            "fieldMaskError",
            "FIELD_MASK_MISSING",
            "Field mask is required for update operations.",
            [*path, ("update_mask", None)],
        )
    for field_path in str(mask).split(","):
        _apply(fields, update, [snake(part) for part in field_path.strip().split(".")])
    check(state, customer, fields, [*path, ("update", None)])
    return f"{collection}:{customer}:{object_id}", dict(existing, fields=fields)


def _apply(target: dict[str, Any], source: dict[str, Any], parts: list[str]) -> None:
    """Copy one update-mask path from the update object (absent = cleared)."""
    head, rest = parts[0], parts[1:]
    if not rest:
        if head in source:
            target[head] = source[head]
        else:
            target.pop(head, None)
        return
    current, incoming = target.get(head), source.get(head)
    nested = dict(current) if isinstance(current, dict) else {}
    _apply(nested, incoming if isinstance(incoming, dict) else {}, rest)
    target[head] = nested


def collection_of(field_name: str) -> str:
    return {"ad_group": "adGroups", "campaign": "campaigns", "campaign_budget": "campaignBudgets"}[
        field_name
    ]


def _stored(resource: str, customer: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": fields["id"],
        "type": resource,
        "account": customer,
        "resource_name": fields["resource_name"],
        "fields": fields,
    }
