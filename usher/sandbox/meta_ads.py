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
    check_targeting,
    creative_fields,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState

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
BUDGET_CHANGES_PER_HOUR = 4


def create_ad_object(state: SandboxState, call: Call) -> Response:
    """POST /act_<id>/{campaigns|adsets|ads|adcreatives}."""
    account = call.params["ad_account"]
    object_type = EDGE_TYPES[call.params["edge"]]
    try:
        fields = BUILDERS[object_type](state, account, graph_params(call))
    except MetaProblem as problem:
        return problem.response()
    object_id = state.next_id(META, META_OBJECT_ID_BASE)
    fields["created_time"] = fields["updated_time"] = now_iso(state.now())
    state.put_object(
        META,
        object_id,
        {"id": object_id, "type": object_type, "account": account, "fields": fields},
    )
    return json_response({"id": object_id})


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
    state.dirty = True
    return json_response({"success": True})


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
    now = state.now()
    recent = [t for t in state.budget_changes.get(obj["id"], []) if t > now - 3600]
    if len(recent) >= BUDGET_CHANGES_PER_HOUR:
        raise MetaProblem(
            "Budget Change Limit Reached",
            f"The budget of this {obj['type']} was changed {BUDGET_CHANGES_PER_HOUR} times in "
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
