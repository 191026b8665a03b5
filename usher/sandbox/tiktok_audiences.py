"""TikTok custom audiences: DMP file uploads, create/update, lookalikes, audiences by
rules (website traffic), segment API.

docs/platforms.md, TikTok: custom audiences: upload a .csv/.txt of hashes (with its MD5 as
`file_signature`), create an audience from file paths, append/remove/replace, lookalikes
from a seed of at least 100 that is not itself a lookalike; or the streaming `segment/*`
endpoints.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import account_behaviour, reported_size
from usher.sandbox.platform import Call
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_common import (
    TIKTOK,
    TIKTOK_ID_BASE,
    TikTokProblem,
    enum,
    id_list,
    param,
    required,
    tiktok_ok,
)
from usher.sandbox.validation import as_int, is_one_of, is_sha256, list_or_empty

CALCULATE_TYPES = frozenset(
    {
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "IDFA_SHA256",
        "GAID_SHA256",
        "MAID_SHA256",
        "FIRST_SHA256",
        "EMAIL_MD5",
        "PHONE_MD5",
        "IDFA_MD5",
        "GAID_MD5",
        "MULTIPLE_TYPES",
    }
)
UPDATE_ACTIONS = frozenset({"APPEND", "REMOVE", "REPLACE"})
AUDIENCE_SIZES = frozenset({"NARROW", "BALANCED", "BROAD"})
MAX_NAME_CHARS = 128
RETENTION_DAYS = (1, 365)
# An update fails if the audience would end below 1,000 members (docs/platforms.md, TikTok:
# custom audiences).
MIN_AUDIENCE_AFTER_UPDATE = 1000
LOOKALIKE_MIN_SEED_SIZE = 100
MOBILE_OS = frozenset({"ALL", "ANDROID", "IOS"})
PLACEMENTS = frozenset({"TIKTOK", "PANGLE", "GLOBAL_APP_BUNDLE"})
DEFAULT_RETENTION_DAYS = 365
# [U] when TikTok starts flagging an audience as about to expire.
EXPIRING_WITHIN_SECONDS = 7 * 86_400
DAY_SECONDS = 86_400
# What a read shows while the size is unknown (filling or too small) [U].
UNKNOWN_COVER_NUM = -1
# audience `type` by how it was made [U: TikTok's exact values were not read].
TYPES = {
    "Customer File": "CUSTOMER_FILE",
    "Lookalike": "LOOKALIKE",
    "Segment": "PARTNER_SEGMENT",
    "Website Traffic": "PIXEL",
}
# Audiences by rules: the sandbox models the website kind (PIXEL) of TikTok's nine.
RULE_AUDIENCE_TYPES = frozenset(
    {
        "ENGAGEMENT",
        "ENGAGEMENT_ORGANIC_VIDEO",
        "ENGAGEMENT_LIVE_VIDEO",
        "APP",
        "PIXEL",
        "LEAD_GENERATION",
        "BUSINESS_ACCOUNT",
        "TIKTOK_SHOP",
        "OFFLINE",
    }
)
# A rule's look-back window; TikTok lists the allowed values [U: not read], 1-180 here.
LOOKBACK_DAYS = (1, 180)
PIXEL_EVENT_PREFIX = "PIXEL "


def _audience(state: SandboxState, advertiser: str, audience_id: str) -> dict[str, Any]:
    audience = state.get_object(TIKTOK, audience_id)
    if not audience or audience["type"] != "audience" or audience["account"] != advertiser:
        raise TikTokProblem(f"custom_audience_id: audience {audience_id} does not exist.")
    return audience


def _name(call: Call) -> str:
    name = required(call, "custom_audience_name")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        raise TikTokProblem(f"custom_audience_name: at most {MAX_NAME_CHARS} characters.")
    return name


def _store_audience(state: SandboxState, advertiser: str, fields: dict[str, Any]) -> str:
    audience_id = state.next_id(TIKTOK, TIKTOK_ID_BASE)
    fields.update(audience_id=audience_id, create_time=int(state.now()))
    audience = {"id": audience_id, "type": "audience", "account": advertiser, "fields": fields}
    state.put_object(TIKTOK, audience_id, audience)
    _record(state, audience, "CREATE")
    return audience_id


def _created(state: SandboxState, call: Call, fields: dict[str, Any]) -> Response:
    """Store an audience of the calling advertiser and answer with its id."""
    return tiktok_ok({"custom_audience_id": _store_audience(state, call.account or "", fields)})


def _record(state: SandboxState, audience: dict[str, Any], action: str) -> None:
    """An audience_history entry; the audience fills again before its size is known [U]."""
    now = state.now()
    audience.setdefault("history", []).append(
        {"action": action, "opt_time": _time_text(now), "msg": f"{action} accepted"}
    )
    audience["content_updated_at"] = now
    state.dirty = True


def _time_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def upload_file(state: SandboxState, call: Call) -> Response:
    """dmp/custom_audience/file/upload/ (multipart): one hash per line."""
    try:
        calculate_type = enum(required(call, "calculate_type"), "calculate_type", CALCULATE_TYPES)
        upload = call.request.files.get("file")
        if upload is None:
            raise TikTokProblem("file: Missing data for required field.")
        if not (upload.filename or "").lower().endswith((".csv", ".txt")):
            raise TikTokProblem("file: only .csv or .txt files are accepted.")
        content = upload.read()
        if (
            required(call, "file_signature")
            != hashlib.md5(content, usedforsecurity=False).hexdigest()
        ):
            raise TikTokProblem("file_signature: does not match the file's MD5.")
        lines = [
            line.strip() for line in content.decode("utf-8", "replace").splitlines() if line.strip()
        ]
        if calculate_type.endswith("_SHA256") and not all(is_sha256(line) for line in lines):
            raise TikTokProblem(
                "file: every line must be a SHA-256 hash for calculate_type " + calculate_type + "."
            )
    except TikTokProblem as problem:
        return problem.response()
    file_path = f"sandbox/{hashlib.md5(content, usedforsecurity=False).hexdigest()}"
    state.put_object(
        TIKTOK,
        f"file:{file_path}",
        {
            "id": file_path,
            "type": "audience_file",
            "account": call.account,
            "fields": {"calculate_type": calculate_type, "members": sorted(set(lines))},
        },
    )
    return tiktok_ok({"file_path": file_path})


def _file_members(state: SandboxState, call: Call, calculate_type: str | None) -> set[str]:
    paths = required(call, "file_paths")
    if not isinstance(paths, list):
        raise TikTokProblem("file_paths: must be a list.")
    members: set[str] = set()
    for path in paths:
        stored = state.get_object(TIKTOK, f"file:{path}")
        if not stored or stored["account"] != call.account:
            raise TikTokProblem(f"file_paths: {path} was not uploaded for this advertiser.")
        if calculate_type and stored["fields"]["calculate_type"] != calculate_type:
            raise TikTokProblem("calculate_type: does not match the uploaded files.")
        members.update(stored["fields"]["members"])
    return members


def create_audience(state: SandboxState, call: Call) -> Response:
    try:
        name = _name(call)
        calculate_type = enum(required(call, "calculate_type"), "calculate_type", CALCULATE_TYPES)
        members = _file_members(state, call, calculate_type)
        retention = param(call, "retention_in_days")
        low, high = RETENTION_DAYS
        if retention is not None and not (
            as_int(retention) is not None and low <= as_int(retention) <= high
        ):
            raise TikTokProblem(f"retention_in_days: must be between {low} and {high}.")
    except TikTokProblem as problem:
        return problem.response()
    audience_id = _store_audience(
        state,
        call.account or "",
        {
            "name": name,
            "audience_type": "Customer File",
            "calculate_type": calculate_type,
            "retention_in_days": retention,
        },
    )
    state.members_of(TIKTOK, audience_id).update(members)
    return tiktok_ok({"custom_audience_id": audience_id})


def update_audience(state: SandboxState, call: Call) -> Response:
    try:
        audience = _audience(state, call.account or "", str(required(call, "custom_audience_id")))
        action = enum(param(call, "action", "REPLACE"), "action", UPDATE_ACTIONS)
        incoming = _file_members(state, call, audience["fields"].get("calculate_type"))
        members = state.members_of(TIKTOK, audience["id"])
        after = {
            "APPEND": members | incoming,
            "REMOVE": members - incoming,
            "REPLACE": set(incoming),
        }[action]
        if len(after) < MIN_AUDIENCE_AFTER_UPDATE:
            raise TikTokProblem(
                f"The audience would have fewer than {MIN_AUDIENCE_AFTER_UPDATE} members after this update."
            )
    except TikTokProblem as problem:
        return problem.response()
    members.clear()
    members.update(after)
    _record(state, audience, action)
    return tiktok_ok({})


def create_rule_audience(state: SandboxState, call: Call) -> Response:
    """dmp/custom_audience/rule/create/: a Website Traffic audience (audience_type PIXEL),
    its rule_spec checked as TikTok documents it: inclusion (and optional exclusion) rule
    sets with operator OR, each rule on event sources with a look-back and one filter."""
    try:
        name = _name(call)
        kind = enum(required(call, "audience_type"), "audience_type", RULE_AUDIENCE_TYPES)
        if kind != "PIXEL":
            raise TikTokProblem(f"audience_type: {kind} audiences are not modelled by the sandbox.")
        spec = required(call, "rule_spec")
        if not isinstance(spec, dict):
            raise TikTokProblem("rule_spec: must be an object.")
        _rule_set(spec.get("inclusion_rule_set"), "rule_spec.inclusion_rule_set")
        if spec.get("exclusion_rule_set") is not None:
            _rule_set(spec["exclusion_rule_set"], "rule_spec.exclusion_rule_set")
    except TikTokProblem as problem:
        return problem.response()
    return _created(
        state, call, {"name": name, "audience_type": "Website Traffic", "rule_spec": spec}
    )


def _rule_set(rule_set: Any, where: str) -> None:
    if not isinstance(rule_set, dict):
        raise TikTokProblem(f"{where}: Missing data for required field.")
    if rule_set.get("operator") != "OR":
        raise TikTokProblem(f"{where}.operator: must be OR.")
    rules = rule_set.get("rules")
    if not isinstance(rules, list) or not rules:
        raise TikTokProblem(f"{where}.rules: Missing data for required field.")
    for index, rule in enumerate(rules):
        here = f"{where}.rules[{index}]"
        if not isinstance(rule, dict):
            raise TikTokProblem(f"{here}: must be an object.")
        sources = rule.get("event_source_ids")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(source, str) and source for source in sources)
        ):
            raise TikTokProblem(f"{here}.event_source_ids: the pixel ids of a website audience.")
        days = as_int(rule.get("retention_days"))
        low, high = LOOKBACK_DAYS
        if days is None or not low <= days <= high:
            raise TikTokProblem(f"{here}.retention_days: must be between {low} and {high}.")
        _filter_set(rule.get("filter_set"), f"{here}.filter_set")


def _filter_set(filter_set: Any, where: str) -> None:
    if not isinstance(filter_set, dict) or filter_set.get("operator") != "OR":
        raise TikTokProblem(f"{where}: an object with operator OR.")
    filters = filter_set.get("filters")
    if not isinstance(filters, list) or len(filters) != 1:
        raise TikTokProblem(f"{where}.filters: exactly one filter per rule.")
    condition = filters[0]
    if not isinstance(condition, dict) or condition.get("field") != "EVENT":
        raise TikTokProblem(f"{where}.filters[0].field: must be EVENT.")
    if condition.get("operator") != "EQ":
        raise TikTokProblem(f"{where}.filters[0].operator: must be EQ.")
    value = condition.get("value")
    if not isinstance(value, str) or not value.startswith(PIXEL_EVENT_PREFIX):
        raise TikTokProblem(f"{where}.filters[0].value: a pixel event such as PIXEL PAGE VIEW.")
    parameters = condition.get("parameter_filters", [])
    if not isinstance(parameters, list):
        raise TikTokProblem(f"{where}.filters[0].parameter_filters: must be a list.")
    urls = [f for f in parameters if isinstance(f, dict) and f.get("field") == "URL"]
    if len(urls) > 1 or len(parameters) - len(urls) > 10:
        raise TikTokProblem(
            f"{where}.filters[0].parameter_filters: at most one URL filter and 10 others."
        )


def create_lookalike(state: SandboxState, call: Call) -> Response:
    try:
        name = _name(call)
        spec = required(call, "lookalike_spec")
        if not isinstance(spec, dict):
            raise TikTokProblem("lookalike_spec: must be an object.")
        seed = _audience(state, call.account or "", str(spec.get("source_audience_id")))
        if seed["fields"].get("audience_type") == "Lookalike":
            raise TikTokProblem("lookalike_spec.source_audience_id: a lookalike cannot be a seed.")
        if len(state.members_of(TIKTOK, seed["id"])) < LOOKALIKE_MIN_SEED_SIZE:
            raise TikTokProblem(
                f"lookalike_spec.source_audience_id: the seed needs at least {LOOKALIKE_MIN_SEED_SIZE} members."
            )
        enum(spec.get("audience_size"), "lookalike_spec.audience_size", AUDIENCE_SIZES)
        if not isinstance(spec.get("location_ids"), list) or not spec["location_ids"]:
            raise TikTokProblem("lookalike_spec.location_ids: Missing data for required field.")
        if not isinstance(spec.get("include_source"), bool):
            raise TikTokProblem("lookalike_spec.include_source: Missing data for required field.")
        enum(spec.get("mobile_os"), "lookalike_spec.mobile_os", MOBILE_OS)
        placements = spec.get("placements")
        if not isinstance(placements, list) or not placements:
            raise TikTokProblem("lookalike_spec.placements: Missing data for required field.")
        for placement in placements:
            enum(placement, "lookalike_spec.placements", PLACEMENTS)
    except TikTokProblem as problem:
        return problem.response()
    return _created(
        state, call, {"name": name, "audience_type": "Lookalike", "lookalike_spec": spec}
    )


def get_audiences(state: SandboxState, call: Call) -> Response:
    try:
        ids = id_list(call, "custom_audience_ids")
        audiences = [_audience(state, call.account or "", audience_id) for audience_id in ids]
    except TikTokProblem as problem:
        return problem.response()
    return tiktok_ok({"list": [_read(state, audience) for audience in audiences]})


def _read(state: SandboxState, audience: dict[str, Any]) -> dict[str, Any]:
    """One audience as custom_audience/get/ shows it: details plus its history."""
    fields = audience["fields"]
    behaviour = account_behaviour(state, TIKTOK, audience["account"])
    fill = (
        behaviour.lookalike_fill_seconds
        if fields.get("audience_type") == "Lookalike"
        else behaviour.audience_fill_seconds
    )
    changed = float(audience.get("content_updated_at", 0.0))
    ready = state.now() >= changed + fill
    size = reported_size(behaviour, len(state.members_of(TIKTOK, audience["id"])), ready)
    retention = as_int(fields.get("retention_in_days")) or DEFAULT_RETENTION_DAYS
    expires = changed + retention * DAY_SECONDS
    details = dict(
        fields,
        type=TYPES.get(fields.get("audience_type", ""), "CUSTOMER_FILE"),
        cover_num=UNKNOWN_COVER_NUM if size is None else size,
        is_valid=ready,
        is_expiring=expires - state.now() <= EXPIRING_WITHIN_SECONDS,
        expired_time=_time_text(expires),
    )
    return {"audience_details": details, "audience_history": list(audience.get("history", []))}


def segment_audience(state: SandboxState, call: Call) -> Response:
    """segment/audience/ with action=create: an empty audience fed by segment/mapping/."""
    try:
        name = _name(call)
        if param(call, "action") != "create":
            raise TikTokProblem("action: must be create.")
    except TikTokProblem as problem:
        return problem.response()
    audience_id = _store_audience(
        state, call.account or "", {"name": name, "audience_type": "Segment"}
    )
    return tiktok_ok({"audience_id": audience_id})


def segment_mapping(state: SandboxState, call: Call) -> Response:
    """segment/mapping/: add or delete hashed ids, batch_data rows aligned with id_schema."""
    try:
        action = enum(required(call, "action"), "action", frozenset({"add", "delete"}))
        schema = required(call, "id_schema")
        if not isinstance(schema, list) or not all(is_one_of(s, CALCULATE_TYPES) for s in schema):
            raise TikTokProblem("id_schema: must list id types such as EMAIL_SHA256.")
        batches = required(call, "batch_data")
        if not isinstance(batches, list):
            raise TikTokProblem("batch_data: must be a list of rows.")
        changes: list[tuple[str, str]] = []
        for row_index, row in enumerate(batches):
            if not isinstance(row, list) or len(row) != len(schema):
                raise TikTokProblem(f"batch_data[{row_index}]: needs one entry per id_schema item.")
            for id_type, entry in zip(schema, row, strict=True):
                if not isinstance(entry, dict) or not entry.get("id"):
                    continue
                if id_type.endswith("_SHA256") and not is_sha256(entry["id"]):
                    raise TikTokProblem(
                        f"batch_data[{row_index}]: {id_type} value is not SHA-256 hashed."
                    )
                for audience_id in list_or_empty(entry.get("audience_ids")):
                    _audience(state, call.account or "", str(audience_id))
                    changes.append((str(audience_id), f"{id_type}:{entry['id']}"))
    except TikTokProblem as problem:
        return problem.response()
    for audience_id, member in changes:
        members = state.members_of(TIKTOK, audience_id)
        if action == "add":
            members.add(member)
        else:
            members.discard(member)
    for audience_id in {audience_id for audience_id, _ in changes}:
        _record(state, _audience(state, call.account or "", audience_id), action.upper())
    return tiktok_ok({})
