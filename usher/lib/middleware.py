"""Refuse, before any view or authentication sees them, API requests whose body no
endpoint could parse or store safely.

One check here covers every endpoint, present and future:
- a body over Django's upload limit is a JSON 413 (Django's own answer is an HTML 400);
- a body that is not UTF-8 is a 400 that says so (JSON in UTF-16 or UTF-32 is named);
- JSON nested deeper than `MAX_JSON_DEPTH` is a 400: Python's parser would recurse until
  a RecursionError (a 500) at about a thousand levels, and no payload of ours nests
  beyond a handful;
- a NUL character (path, query or body) is a 400, and a lone UTF-16 surrogate
  (`"\\ud800"`, valid JSON, invalid text) a 422 naming the field: PostgreSQL can neither
  store nor even compare with them, so either would otherwise surface as a 500 from deep
  inside a lookup or a write (a path segment is a lookup's key: an event's slug).
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
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")
# Escapes that may decode to an unstorable character; only then is the body decoded.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _outside_strings(body: bytes) -> bytes:
    """JSON text without its strings (brackets may appear inside them): escaped
    backslashes, then escaped quotes go first, so every quote left opens or closes a
    string, and every other piece between quotes is outside one. All in C-speed steps."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2])


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`, found without
    parsing it (and so without recursion), in C-speed passes: each pass removes the
    innermost pairs of brackets, so what remains after `limit` passes nests deeper."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: the common case
    brackets = _outside_strings(body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        peeled = _INNERMOST_PAIR.sub(b"", brackets)
        if not peeled or peeled == brackets:
            return False  # all peeled; or unbalanced: not JSON, the parser will say so
        brackets = peeled
    return True


def _detail(status: int, detail: object) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _too_big(limit: int | None) -> JsonResponse:
    """Built only when a body is refused: every API request passes the guard, and a
    response made up front cost each of them more than the rest of its checks."""
    return _detail(413, f"the body is over {limit} bytes")


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
        if NUL in request.path or any(
            NUL in key or any(NUL in value for value in values)
            for key, values in request.GET.lists()
        ):
            return _detail(400, describe_unstorable(NUL))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            return _too_big(limit)
        try:
            body = request.body
        except RequestDataTooBig:
            return _too_big(limit)
        return _refuse_body(body) if body else None
