"""Refuse, before any view or authentication sees them, API requests whose body no
endpoint could parse or store safely.

One check here covers every endpoint, present and future:
- a body over Django's upload limit is a JSON 413 (Django's own answer is an HTML 400);
- a body that is not UTF-8 is a 400 that says so (JSON in UTF-16 or UTF-32 is named);
- JSON nested deeper than `MAX_JSON_DEPTH` is a 400: Python's parser would recurse until
  a RecursionError (a 500) at about a thousand levels, and no payload of ours nests
  beyond a handful;
- a NUL character (query or body) is a 400, and a lone UTF-16 surrogate (`"\\ud800"`,
  valid JSON, invalid text) a 422 naming the field: PostgreSQL can store neither, so
  either would otherwise surface as a 500 from deep inside a write.
Forms (admin, panel) refuse NUL through Django's own validators; tracking-code settings
check surrogates where they are cleaned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from usher.lib.validation import NUL, describe_unstorable, find_unstorable

API_PREFIX = "/api/"
MAX_JSON_DEPTH = 32
# What JSON strings look like (escapes included): removed before counting brackets.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
# Escapes that may decode to an unstorable character; only then is the body decoded.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without
    parsing it (and so without recursion)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: the common case, in C
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def _detail(status: int, detail: object) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _encoding_problem(body: bytes) -> str | None:
    """What is wrong when a body is JSON in another Unicode encoding than UTF-8."""
    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return None
    return f"the body looks {encoding.upper()}-encoded; send JSON encoded as UTF-8"


def _refuse_body(body: bytes) -> JsonResponse | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return _detail(400, _encoding_problem(body) or "the body is not valid UTF-8")
    if b"\x00" in body:  # UTF-16 without a byte order mark is valid UTF-8, full of NULs
        return _detail(400, _encoding_problem(body) or describe_unstorable(NUL))
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        return _detail(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not _RISKY_ESCAPE.search(body):
        return None
    try:  # decode to tell a real escape from a literal backslash-u text
        found = find_unstorable(json.loads(body))
    except ValueError:
        return None  # not JSON: the endpoint's own parser will answer 400
    if found is None:
        return None
    path, char = found
    message = describe_unstorable(char)
    if char == NUL:
        return _detail(400, message)
    return _detail(422, [{"loc": ["body", *path], "msg": message, "type": "value_error"}])


class ApiInputGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> JsonResponse | None:
        if any(NUL in key or NUL in value for key, value in request.GET.items()):
            return _detail(400, describe_unstorable(NUL))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        too_big = _detail(413, f"the body is over {limit} bytes")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            return too_big
        try:
            body = request.body
        except RequestDataTooBig:
            return too_big
        return _refuse_body(body) if body else None
