"""What every fake platform shares: routes, the parsed call, JSON answers.

A platform is a `PlatformAPI` subclass: its routes (method + regex below its URL
prefix) and how it finds the account, checks credentials and words throttling and
server errors. `usher.sandbox.app` runs the same pipeline for all of them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from usher.sandbox.state import SandboxState

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, content_type=JSON_CONTENT_TYPE
    )


def trace_id() -> str:
    """An opaque per-answer id (fbtrace_id, requestId, request_id)."""
    return uuid.uuid4().hex[:22]


class BodyError(ValueError):
    """The request body is not valid JSON."""


def parse_body(request: Request) -> Any:
    """JSON when it looks like JSON, else the form fields, else None.

    Graph API calls may be form-encoded with JSON-valued fields; everything else the
    sandbox serves is JSON. Multipart uploads keep their files in `request.files`.
    """
    raw = request.get_data(cache=True)
    mimetype = request.mimetype or ""
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(str(exc)) from exc


@dataclass
class Call:
    """One platform request, as the handlers see it."""

    request: Request
    platform: str
    subpath: str
    params: dict[str, str]
    body: Any
    family: str
    account: str | None = None
    token: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def query(self) -> Any:
        return self.request.args

    def field(self, name: str, default: Any = None) -> Any:
        """A parameter from the JSON body, else the form, else the query string."""
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        if name in self.request.args:
            return self.request.args[name]
        return default

    def json_field(self, name: str, default: Any = None) -> Any:
        """Like field(), decoding JSON-in-a-string (form bodies, Graph and TikTok GETs)."""
        value = self.field(name, default)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


Handler = Callable[["SandboxState", Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    family: str


def route(method: str, pattern: str, handler: Handler, family: str = "default") -> Route:
    return Route(method, re.compile(f"^{pattern}$"), handler, family)


class PlatformAPI:
    """Base class; subclasses fill in the platform specifics."""

    name: str = ""
    routes: tuple[Route, ...] = ()

    def match(self, method: str, subpath: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route for this call, its path parameters, and whether the path exists at all."""
        path_exists = False
        for candidate in self.routes:
            found = candidate.pattern.match(subpath)
            if found:
                path_exists = True
                if candidate.method == method:
                    return candidate, found.groupdict(), True
        return None, {}, path_exists

    def parse(self, request: Request) -> Any:
        return parse_body(request)

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        raise NotImplementedError

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        """None when the credentials and the account are fine, else the platform's error."""
        raise NotImplementedError

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        raise NotImplementedError

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        raise NotImplementedError

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        raise NotImplementedError

    def bad_body(self, request: Request, reason: str) -> Response:
        raise NotImplementedError
