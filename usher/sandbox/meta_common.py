"""Meta Graph API answers shared by the CAPI, audience and ads modules.

Error object as Graph sends it (docs/platforms.md, Meta: errors and rate limits):
{"error": {"message", "type", "code", "error_subcode", "error_user_title",
"error_user_msg", "is_transient", "fbtrace_id"}}. Graph answers client errors and
throttling with HTTP 400; the code says which.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.platform import Call, json_response, trace_id
from usher.sandbox.validation import as_int, is_int, is_one_of

META = "meta"
# Graph object ids look like 1202xxxxxxxxxxxxxx; deterministic so tests can predict them.
META_OBJECT_ID_BASE = 120_210_000_000_000_000
# Params Graph accepts on any call; never "unknown parameters".
GRAPH_COMMON_PARAMS = frozenset({"access_token", "appsecret_proof", "fields", "method", "format"})


class MetaProblem(Exception):
    """A validation failure, raised deep in a handler and answered as a Graph error."""

    def __init__(
        self,
        user_title: str,
        user_msg: str,
        *,
        code: int = 100,
        subcode: int | None = None,
        message: str = "Invalid parameter",
        blame: list[Any] | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(user_msg)
        self.user_title = user_title
        self.user_msg = user_msg
        self.code = code
        self.subcode = subcode
        self.message = message
        self.blame = blame
        self.transient = transient

    def response(self) -> Response:
        return meta_error(
            self.message,
            self.code,
            subcode=self.subcode,
            user_title=self.user_title,
            user_msg=self.user_msg,
            blame=self.blame,
            transient=self.transient,
        )


def meta_error(
    message: str,
    code: int,
    *,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
    transient: bool = False,
    status: int = 400,
    blame: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = transient
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    if blame:
        error["error_data"] = {"blame_field_specs": [blame]}
    error["fbtrace_id"] = trace_id()
    return json_response({"error": error}, status=status, headers=headers)


def unknown_object(object_id: str, method: str) -> Response:
    """Graph's answer for an id that does not exist or is not ours (100 / subcode 33)."""
    return meta_error(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation.",
        100,
        error_type="GraphMethodException",
        subcode=33,
    )


def now_iso(now: float) -> str:
    """Graph's timestamp format, e.g. 2026-01-31T12:00:00+0000."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def json_param(value: Any) -> Any:
    """Graph accepts JSON objects and arrays as strings in form bodies and query strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def graph_params(call: Call) -> dict[str, Any]:
    """The call's own parameters (JSON or form body), JSON-valued strings decoded."""
    body = call.body if isinstance(call.body, dict) else {}
    return {k: json_param(v) for k, v in body.items() if k not in GRAPH_COMMON_PARAMS}


def required_str(fields: dict[str, Any], name: str, node: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MetaProblem(
            f"Missing {name}",
            f"The parameter {name} is required to create a {node} and must be a non-empty string.",
            message=f"(#100) The parameter {name} is required",
        )
    return value


def enum_param(value: Any, name: str, allowed: frozenset[str]) -> str:
    if not is_one_of(value, allowed):
        raise MetaProblem(
            f"Invalid {name}",
            f"{name} must be one of {', '.join(sorted(allowed))}; got {value!r}.",
            message=f"(#100) Param {name} must be one of {{{', '.join(sorted(allowed))}}}",
        )
    return value


def positive_int_param(value: Any, name: str) -> int:
    number = as_int(value)
    if number is None or number <= 0:
        raise MetaProblem(
            f"Invalid {name}",
            f"{name} must be a positive integer in the account currency's minor units "
            f"(2000 = 20.00); got {value!r}.",
            message=f"(#100) Param {name} must be a positive integer",
        )
    return number


def truthy(value: Any) -> bool | None:
    """Graph booleans arrive as JSON booleans or, in form bodies, as text; None if neither."""
    if value is True or value in ("true", "1") or (is_int(value) and value == 1):
        return True
    if value is False or value in ("false", "0") or (is_int(value) and value == 0):
        return False
    return None
