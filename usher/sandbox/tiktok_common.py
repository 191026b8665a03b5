"""TikTok Business API answers shared by the events, audience and ads modules.

Every answer is HTTP 200 with `{"code", "message", "request_id", "data"}`; `code` 0
is success (docs/platforms.md, TikTok: errors). Only real 5xx faults change the HTTP status.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.platform import Call, json_response, trace_id
from usher.sandbox.validation import is_one_of

TIKTOK = "tiktok"
# v1.3 ids are strings of up to 19 digits (some beyond JavaScript's safe integers).
TIKTOK_ID_BASE = 1_800_000_000_000_000_000
CODE_OK = 0
CODE_NO_PERMISSION = 40001
CODE_INVALID_PARAMS = 40002
CODE_RATE_LIMITED = 40100
CODE_TOKEN_MISSING = 40104
CODE_TOKEN_INVALID = 40105
CODE_SYSTEM_ERROR = 50000


class TikTokProblem(Exception):
    """A validation failure answered as `{"code": 40002, "message": ...}` (or another code)."""

    def __init__(self, message: str, code: int = CODE_INVALID_PARAMS) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self) -> Response:
        return tiktok_error(self.code, self.message)


def tiktok_ok(data: Any) -> Response:
    return json_response({"code": CODE_OK, "message": "OK", "request_id": trace_id(), "data": data})


def tiktok_error(code: int, message: str, status: int = 200) -> Response:
    return json_response(
        {"code": code, "message": message, "request_id": trace_id(), "data": {}}, status=status
    )


def param(call: Call, name: str, default: Any = None) -> Any:
    """A parameter from the JSON body or the query string (GET endpoints take JSON-in-query)."""
    value = call.field(name, default)
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise TikTokProblem(f"{name}: not valid JSON") from exc
    return value


def required(call: Call, name: str) -> Any:
    value = param(call, name)
    if value in (None, "", []):
        raise TikTokProblem(f"{name}: Missing data for required field.")
    return value


def enum(value: Any, name: str, allowed: frozenset[str]) -> str:
    if not is_one_of(value, allowed):
        raise TikTokProblem(f"{name}: must be one of {', '.join(sorted(allowed))}.")
    return value


def id_list(call: Call, name: str, limit: int = 100) -> list[str]:
    values = required(call, name)
    if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
        raise TikTokProblem(f"{name}: must be a list of ids.")
    if len(values) > limit:
        raise TikTokProblem(f"{name}: at most {limit} ids.")
    return [str(v) for v in values]
