"""Meta campaigns, ad sets, creatives, ads and images: create, update, delete.

Objects keep their state (status, budgets, targeting, creatives) so Usher can read
back what it wrote (reads are in `meta_read`). Budget changes are limited the way
Meta limits them: 4 per object per hour, then error 17.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import account_behaviour
from usher.sandbox.meta_common import (
    META,
    META_OBJECT_ID_BASE,
    MetaProblem,
    enum_param,
    graph_params,
    meta_error,
    now_iso,
    positive_int_param,
    unknown_object,
)
from usher.sandbox.meta_read import EDGE_TYPES, NODE_NAMES
from usher.sandbox.meta_specs import (
    STATUSES,
    ad_fields,
    adset_fields,
    budget_of,
    campaign_fields,
    check_minimum,
    check_targeting,
    creative_fields,
    minimum_budgets,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import is_one_of

BUILDERS = {
    "campaign": campaign_fields,
    "adset": adset_fields,
    "ad": ad_fields,
    "adcreative": creative_fields,
}
UPDATE_FIELDS = {
    "campaign": {"name", "status", "daily_budget", "lifetime_budget", "bid_strategy"},
    "adset": {
        "name",
        "status",
        "daily_budget",
        "lifetime_budget",
        "bid_amount",
        "targeting",
        "end_time",
        "start_time",
    },
    "ad": {"name", "status"},
    "adcreative": {"name"},
    "customaudience": {"name", "description", "retention_days", "rule"},
}
EXECUTION_OPTIONS = frozenset({"validate_only", "include_recommendations"})
# Edits that restart an ad set's learning phase (Meta's "significant edits").
SIGNIFICANT_EDITS = frozenset({"daily_budget", "lifetime_budget", "targeting", "bid_amount"})


def create_ad_object(state: SandboxState, call: Call) -> Response:
    """POST /act_<id>/{campaigns|adsets|ads|adcreatives}."""
    account = call.params["ad_account"]
    object_type = EDGE_TYPES[call.params["edge"]]
    params = graph_params(call)
    try:
        validate_only = _validate_only(params.pop("execution_options", None))
        fields = BUILDERS[object_type](state, account, params)
    except MetaProblem as problem:
        return problem.response()
    if validate_only:
        return json_response({"success": True})
    object_id = state.next_id(META, META_OBJECT_ID_BASE)
    now = state.now()
    fields["created_time"] = fields["updated_time"] = now_iso(now)
    state.put_object(
        META,
        object_id,
        {
            "id": object_id,
            "type": object_type,
            "account": account,
            "fields": fields,
            # review and learning clocks: an ad is reviewed from creation, an ad set
            # learns from its last significant edit (creation, budget, targeting)
            "created_at": now,
            "significant_edit_at": now,
        },
    )
    return json_response({"id": object_id})


def _validate_only(options: Any) -> bool:
    """`execution_options=["validate_only"]`: check everything, create nothing."""
    if options is None:
        return False
    if not isinstance(options, list) or not all(is_one_of(o, EXECUTION_OPTIONS) for o in options):
        raise MetaProblem(
            "Invalid execution_options",
            f"execution_options must be an array of {', '.join(sorted(EXECUTION_OPTIONS))}.",
            blame=["execution_options"],
        )
    return "validate_only" in options


def minimum_budgets_edge(state: SandboxState, call: Call) -> Response:
    """GET /act_<id>/minimum_budgets: the floors ad set budgets are checked against."""
    return json_response({"data": [minimum_budgets(state, call.params["ad_account"])]})


def upload_image(state: SandboxState, call: Call) -> Response:
    """POST /act_<id>/adimages with `bytes` (base64) or multipart files; answers hashes."""
    account = call.params["ad_account"]
    blobs: dict[str, bytes] = {}
    for name, storage in call.request.files.items():
        blobs[storage.filename or name] = storage.read()
    if call.field("bytes"):
        try:
            blobs["bytes"] = base64.b64decode(str(call.field("bytes")), validate=True)
        except (binascii.Error, ValueError):
            return meta_error("(#100) Invalid image bytes: not base64", 100)
    if not blobs:
        return meta_error("(#100) Upload an image as multipart file or base64 `bytes`", 100)
    images = {}
    for name, blob in blobs.items():
        digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        url = f"https://sandbox.invalid/meta/adimages/{digest}.jpg"
        state.put_object(
            META,
            f"adimage:{account}:{digest}",
            {
                "id": digest,
                "type": "adimage",
                "account": account,
                "fields": {"hash": digest, "url": url},
            },
        )
        images[name] = {"hash": digest, "url": url}
    return json_response({"images": images})


def update_object(state: SandboxState, call: Call) -> Response:
    """POST /{id}: change status, budget, name, targeting; answers {"success": true}."""
    obj = state.get_object(META, call.params["object_id"])
    if not obj or obj["type"] not in UPDATE_FIELDS:
        return unknown_object(call.params["object_id"], "post")
    params = graph_params(call)
    try:
        changes = _updates(state, obj, params)
    except MetaProblem as problem:
        return problem.response()
    obj["fields"].update(changes)
    obj["fields"]["updated_time"] = now_iso(state.now())
    if SIGNIFICANT_EDITS & set(changes):
        _restart_learning(state, obj)
    state.dirty = True
    return json_response({"success": True})


def _restart_learning(state: SandboxState, obj: dict[str, Any]) -> None:
    """A significant edit restarts learning: of the ad set, or of every ad set of a CBO campaign."""
    adsets = [obj]
    if obj["type"] == "campaign":
        adsets = [
            adset
            for adset in state.objects_of(META, obj["account"], "adset")
            if adset["fields"].get("campaign_id") == obj["id"]
        ]
    for adset in adsets:
        adset["significant_edit_at"] = state.now()


def _updates(state: SandboxState, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    node = NODE_NAMES[obj["type"]]
    unknown = sorted(set(params) - UPDATE_FIELDS[obj["type"]])
    if unknown:
        raise MetaProblem(
            "Invalid Parameter", f"{node} does not accept {', '.join(unknown)} on update."
        )
    fields = obj["fields"]
    if fields.get("status") == "DELETED":
        raise MetaProblem("Object Deleted", f"This {node} is deleted and cannot be edited.")
    changes: dict[str, Any] = {}
    if "status" in params:
        changes["status"] = enum_param(params["status"], "status", STATUSES)
    if "name" in params:
        changes["name"] = str(params["name"])
    for key in ("daily_budget", "lifetime_budget", "bid_amount"):
        if key in params:
            changes[key] = positive_int_param(params[key], key)
    budget_keys = {"daily_budget", "lifetime_budget"} & set(changes)
    if budget_keys:
        _check_budget_change(state, obj, budget_keys.pop(), changes)
    if "targeting" in params:
        changes["targeting"] = check_targeting(state, obj["account"], params["targeting"])
    for key in ("end_time", "start_time", "description", "retention_days", "rule", "bid_strategy"):
        if key in params:
            changes[key] = params[key]
    return changes


def _check_budget_change(
    state: SandboxState, obj: dict[str, Any], key: str, changes: dict[str, Any]
) -> None:
    current = budget_of(obj["fields"])
    if obj["type"] == "adset":
        campaign = state.get_object(META, obj["fields"]["campaign_id"])
        if campaign and budget_of(campaign["fields"]):
            raise MetaProblem(
                "Budget Set Twice",
                "The campaign has a budget; its ad sets cannot have their own.",
                subcode=1885621,
            )
    if current and current[0] != key:
        raise MetaProblem(
            "Budget Type Fixed", f"This {obj['type']} has a {current[0]}; change that one instead."
        )
    if current and current[1] == changes[key]:
        return
    fields = obj["fields"]
    if obj["type"] == "adset":
        check_minimum(
            state,
            obj["account"],
            {key: changes[key]},
            fields["billing_event"],
            (fields.get("start_time"), fields.get("end_time")),
        )
    limit = account_behaviour(state, META, obj["account"]).budget_changes_per_hour
    now = state.now()
    recent = [t for t in state.budget_changes.get(obj["id"], []) if t > now - 3600]
    if limit is not None and len(recent) >= limit:
        raise MetaProblem(
            "Budget Change Limit Reached",
            f"The budget of this {obj['type']} was changed {limit} times in "
            "the last hour; try again later.",
            code=17,
            message="(#17) User request limit reached",
            transient=True,
        )
    state.budget_changes[obj["id"]] = [*recent, now]


def delete_object(state: SandboxState, call: Call) -> Response:
    obj = state.get_object(META, call.params["object_id"])
    if not obj or obj["type"] not in UPDATE_FIELDS:
        return unknown_object(call.params["object_id"], "delete")
    obj["fields"]["status"] = "DELETED"
    obj["fields"]["updated_time"] = now_iso(state.now())
    state.dirty = True
    return json_response({"success": True})
