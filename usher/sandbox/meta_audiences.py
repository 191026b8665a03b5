"""Meta custom audiences: create (customer list, lookalike, website), add/remove users.

docs/platforms.md, Meta: custom audiences: `POST /act_<id>/customaudiences`,
`POST|DELETE /{audience}/users` with `{"payload": {"schema", "data"}, "session": {...}}`,
at most 10,000 rows a call. Rows that fail normalisation are counted in `num_invalid_entries`, the way Meta
reports them, rather than failing the call.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.meta_common import (
    META,
    META_OBJECT_ID_BASE,
    MetaProblem,
    enum_param,
    graph_params,
    now_iso,
    required_str,
    truthy,
    unknown_object,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import as_int, as_number, is_one_of, is_sha256

MAX_USERS_PER_CALL = 10_000
MAX_INVALID_SAMPLES = 10
# Third-party sources (docs/platforms.md, Meta: custom audiences, [V-3p]): a seed needs 100
# people; ratio 1-20 %.
LOOKALIKE_MIN_SEED_SIZE = 100
LOOKALIKE_RATIO_RANGE = (0.01, 0.20)
CUSTOMER_FILE_SOURCES = frozenset(
    {"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}
)
SINGLE_KEY_SCHEMAS = {
    "EMAIL_SHA256": True,
    "PHONE_SHA256": True,
    "EMAIL": True,
    "PHONE": True,
    "MOBILE_ADVERTISER_ID": False,
    "UID": False,
}
# Multi-key schema columns -> must the value be a SHA-256 hash?
MULTI_KEY_COLUMNS = {
    "EXTERN_ID": False,
    "EMAIL": True,
    "PHONE": True,
    "GEN": True,
    "DOBY": True,
    "DOBM": True,
    "DOBD": True,
    "LN": True,
    "FN": True,
    "FI": True,
    "CT": True,
    "ST": True,
    "ZIP": True,
    "MADID": False,
    "COUNTRY": True,
    "LOOKALIKE_VALUE": False,
}


def create_audience(state: SandboxState, call: Call) -> Response:
    """POST /act_<id>/customaudiences: a customer list, a lookalike or a website audience."""
    account = call.params["ad_account"]
    fields = graph_params(call)
    try:
        name = required_str(fields, "name", "custom audience")
        subtype = fields.get("subtype")
        stored: dict[str, Any] = {"name": name, "description": fields.get("description")}
        if subtype == "CUSTOM":
            stored["customer_file_source"] = enum_param(
                fields.get("customer_file_source"), "customer_file_source", CUSTOMER_FILE_SOURCES
            )
        elif subtype == "LOOKALIKE":
            stored.update(_lookalike_fields(state, account, fields))
        elif subtype is None and isinstance(fields.get("rule"), dict):
            subtype = "WEBSITE"  # website audiences take no subtype since 2018
            stored["rule"] = fields["rule"]
            stored["retention_days"] = as_int(fields.get("retention_days"))
        else:
            raise MetaProblem(
                "Invalid subtype",
                "subtype must be CUSTOM (customer list) or LOOKALIKE, or omitted with a rule "
                "for a website audience.",
            )
    except MetaProblem as problem:
        return problem.response()
    audience_id = state.next_id(META, META_OBJECT_ID_BASE)
    stored.update(subtype=subtype, time_created=int(state.now()), time_updated=int(state.now()))
    state.put_object(
        META,
        audience_id,
        {
            "id": audience_id,
            "type": "customaudience",
            "account": account,
            "fields": stored,
            # sizes stay unknown until the audience has filled (meta_read)
            "content_updated_at": state.now(),
        },
    )
    return json_response({"id": audience_id})


def _lookalike_fields(state: SandboxState, account: str, fields: dict[str, Any]) -> dict:
    origin_id = str(fields.get("origin_audience_id") or "")
    origin = state.get_object(META, origin_id)
    if not origin or origin["type"] != "customaudience" or origin["account"] != account:
        raise MetaProblem(
            "Invalid Source Audience",
            f"origin_audience_id {origin_id!r} is not a custom audience of this ad account.",
        )
    if origin["fields"]["subtype"] == "LOOKALIKE":
        raise MetaProblem(
            "Invalid Source Audience", "A lookalike audience cannot be the source of another."
        )
    if len(state.members_of(META, origin_id)) < LOOKALIKE_MIN_SEED_SIZE:
        raise MetaProblem(
            "Source Audience Too Small",
            f"The source audience needs at least {LOOKALIKE_MIN_SEED_SIZE} people.",
        )
    spec = fields.get("lookalike_spec")
    if not isinstance(spec, dict) or not (spec.get("country") or spec.get("location_spec")):
        raise MetaProblem(
            "Invalid lookalike_spec", "lookalike_spec needs a country or a location_spec."
        )
    low, high = LOOKALIKE_RATIO_RANGE
    for key in ("ratio", "starting_ratio"):
        if key in spec:
            ratio = as_number(spec[key])
            if ratio is None or not (
                low <= ratio <= high or (key == "starting_ratio" and ratio == 0)
            ):
                raise MetaProblem(
                    "Invalid lookalike_spec",
                    f"lookalike_spec.{key} must be between {low} and {high}.",
                )
    return {"origin_audience_id": origin_id, "lookalike_spec": spec}


def add_users(state: SandboxState, call: Call) -> Response:
    return _change_users(state, call, "add")


def remove_users(state: SandboxState, call: Call) -> Response:
    return _change_users(state, call, "remove")


def replace_users(state: SandboxState, call: Call) -> Response:
    """POST /{audience}/usersreplace: batches of one session become the whole list at its end."""
    return _change_users(state, call, "replace")


def _change_users(state: SandboxState, call: Call, mode: str) -> Response:
    audience_id = call.params["object_id"]
    audience = state.get_object(META, audience_id)
    if not audience or audience["type"] != "customaudience":
        return unknown_object(audience_id, call.request.method)
    try:
        if audience["fields"]["subtype"] != "CUSTOM":
            raise MetaProblem(
                "Audience Does Not Take Users",
                "Users can only be added to or removed from customer list (CUSTOM) audiences.",
            )
        schema, rows = _payload(call.json_field("payload"))
        session = _session(call.json_field("session"), required=mode == "replace")
        open_session = audience.get("replace_session")
        if mode != "replace" and open_session:
            raise MetaProblem(
                "Replace In Progress",
                "A usersreplace session is running on this audience; add or remove users "
                "after its last batch (last_batch_flag: true).",
            )
        if mode == "replace":
            _check_replace_batch(open_session, session)
    except MetaProblem as problem:
        return problem.response()
    keys: list[str] = []
    invalid: dict[str, str] = {}
    num_invalid = 0
    for row in rows:
        key, reason = _member_key(schema, row)
        if key is None:
            num_invalid += 1
            if len(invalid) < MAX_INVALID_SAMPLES:
                invalid[str(row)[:80]] = reason
            continue
        keys.append(key)
    members = state.members_of(META, audience_id)
    if mode == "add":
        members.update(keys)
    elif mode == "remove":
        members.difference_update(keys)
    else:
        _replace_batch(audience, members, session, keys)
    _touch(state, audience)
    answer: dict[str, Any] = {
        "session_id": str(session.get("session_id", "")) or None,
        "num_received": len(rows),
        "num_invalid_entries": num_invalid,
        "invalid_entry_samples": invalid,
    }
    owner = (
        {"account_id": audience["account"]} if mode == "replace" else {"audience_id": audience_id}
    )
    return json_response({**owner, **answer})


def _check_replace_batch(open_session: dict[str, Any] | None, session: dict[str, Any]) -> None:
    """Batches of a replace session come in order; another session waits for this one."""
    session_id = str(session["session_id"])
    batch_seq = as_int(session.get("batch_seq", 1))
    if open_session is None:
        if batch_seq != 1:
            raise MetaProblem("Invalid session", "A new replace session starts at batch_seq 1.")
        return
    if open_session["session_id"] != session_id:
        raise MetaProblem(
            "Replace In Progress",
            f"Replace session {open_session['session_id']} is still running on this audience.",
        )
    if batch_seq != open_session["batch_seq"] + 1:
        raise MetaProblem(
            "Invalid session",
            f"session.batch_seq must be {open_session['batch_seq'] + 1} (the next batch).",
        )


def _replace_batch(
    audience: dict[str, Any], members: set[str], session: dict[str, Any], keys: list[str]
) -> None:
    """Collect the session's rows; the last batch swaps them in for the old members."""
    open_session = audience.get("replace_session") or {
        "session_id": str(session["session_id"]),
        "batch_seq": 0,
        "keys": [],
    }
    open_session["batch_seq"] = as_int(session.get("batch_seq", 1))
    open_session["keys"].extend(keys)
    if truthy(session.get("last_batch_flag")):
        members.clear()
        members.update(open_session["keys"])
        audience.pop("replace_session", None)
    else:
        audience["replace_session"] = open_session


def _touch(state: SandboxState, audience: dict[str, Any]) -> None:
    """A content change: the audience fills again before its size is known."""
    audience["fields"]["time_updated"] = int(state.now())
    audience["fields"]["time_content_updated"] = now_iso(state.now())
    audience["content_updated_at"] = state.now()
    state.dirty = True


def _payload(payload: Any) -> tuple[str | list[str], list[Any]]:
    if not isinstance(payload, dict):
        raise MetaProblem("Missing payload", "payload must be an object with schema and data.")
    schema = payload.get("schema")
    data = payload.get("data")
    if isinstance(schema, str):
        if schema not in SINGLE_KEY_SCHEMAS:
            raise MetaProblem("Invalid schema", f"Unknown schema {schema!r}.")
    elif isinstance(schema, list) and schema:
        unknown = [key for key in schema if not is_one_of(key, MULTI_KEY_COLUMNS)]
        if unknown:
            raise MetaProblem(
                "Invalid schema", f"Unknown schema keys: {', '.join(map(str, unknown))}."
            )
    else:
        raise MetaProblem("Invalid schema", "payload.schema must be a string or a list of keys.")
    if not isinstance(data, list) or not data:
        raise MetaProblem("Missing data", "payload.data must be a non-empty array.")
    if len(data) > MAX_USERS_PER_CALL:
        raise MetaProblem(
            "Too Many Users",
            f"A call can add or remove at most {MAX_USERS_PER_CALL} users; this one has {len(data)}.",
        )
    return schema, data


def _session(session: Any, required: bool) -> dict[str, Any]:
    if session is None and required:
        raise MetaProblem(
            "Missing session",
            "usersreplace needs session {session_id, batch_seq, last_batch_flag}.",
        )
    if session is None:
        return {}
    if not isinstance(session, dict) or as_int(session.get("session_id")) is None:
        raise MetaProblem("Invalid session", "session.session_id must be an integer.")
    batch_seq = session.get("batch_seq", 1)
    if as_int(batch_seq) is None or as_int(batch_seq) < 1:
        raise MetaProblem("Invalid session", "session.batch_seq must count up from 1.")
    return session


def _member_key(schema: str | list[str], row: Any) -> tuple[str | None, str]:
    """The member's identity (the hashed values), or None and why the row is invalid."""
    if isinstance(schema, str):
        if not isinstance(row, str) or not row:
            return None, f"{schema}: expected a string"
        if SINGLE_KEY_SCHEMAS[schema] and not is_sha256(row):
            return None, f"{schema}: not a SHA-256 hash"
        return row, ""
    if not isinstance(row, list) or len(row) != len(schema):
        return None, f"expected {len(schema)} values in schema order"
    for key, value in zip(schema, row, strict=True):
        if value in ("", None):
            continue
        if MULTI_KEY_COLUMNS[key] and not is_sha256(value):
            return None, f"{key}: not a SHA-256 hash"
    if all(value in ("", None) for value in row):
        return None, "empty row"
    return "\x1f".join("" if value is None else str(value) for value in row), ""
