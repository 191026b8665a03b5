"""The sandbox WSGI app: platform prefixes, the shared request pipeline, the log.

Every platform call runs the same steps, in the order the real platforms apply them:
parse -> route -> find the account -> injected fault? -> credentials and account ->
per-account rate limit -> the endpoint's own validation. Each call is logged with
its body and the answer given (`GET /_sandbox/requests`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox import control
from usher.sandbox.faults import drop_connection, time_out
from usher.sandbox.ga4 import GA4API
from usher.sandbox.google_ads import GoogleAdsAPI
from usher.sandbox.google_oauth import GoogleOAuthAPI
from usher.sandbox.meta import MetaAPI
from usher.sandbox.platform import BodyError, Call, PlatformAPI, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok import TikTokAPI

# Must match PLATFORM_BASE_URLS in usher/settings.py (SANDBOX_URL + prefix).
PLATFORM_PREFIXES = (
    ("/meta", "meta"),
    ("/google-ads", "google_ads"),
    ("/tiktok", "tiktok"),
    ("/ga4", "ga4"),
    ("/google-oauth", "google_oauth"),
)
LOGGED_HEADERS = (
    "Content-Type",
    "User-Agent",
    "Authorization",
    "Access-Token",
    "developer-token",
    "login-customer-id",
)
SECRET_NAMES = frozenset(
    {
        "authorization",
        "access-token",
        "access_token",
        "developer-token",
        "api_secret",
        "client_secret",
        "refresh_token",
        "token",  # Google OAuth's /revoke?token=
    }
)
MASK_KEEP_CHARS = 10
MAX_LOGGED_TEXT_CHARS = 2000
# Bigger bodies (a full 1,000-event batch) are logged as a head only, so a benchmark's
# request log stays in memory bounds; /_sandbox/events still holds every event.
MAX_LOGGED_BODY_BYTES = 256 * 1024
# What a "429" fault tells the client to wait (Meta in minutes, Google as retryDelay).
FAULT_RETRY_AFTER_SECONDS = 60.0
# A scenario's "5xx" outage answers as a platform does when its backend is down.
OUTAGE_STATUS = 503


def mask(value: str) -> str:
    """Enough of a credential to tell tokens apart in the log, not enough to reuse one."""
    return value if len(value) <= MASK_KEEP_CHARS else f"{value[:MASK_KEEP_CHARS]}…"


class SandboxApp:
    """WSGI callable; one instance per state."""

    def __init__(self, state: SandboxState | None = None) -> None:
        self.state = state or SandboxState()
        self.apis: dict[str, PlatformAPI] = {
            "meta": MetaAPI(),
            "google_ads": GoogleAdsAPI(),
            "tiktok": TikTokAPI(),
            "ga4": GA4API(),
            "google_oauth": GoogleOAuthAPI(),
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request, environ)
        return response(environ, start_response)

    def dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        path = request.path
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return control.handle(self.state, request)
        for prefix, platform in PLATFORM_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                return self.handle_platform(
                    self.apis[platform], request, path[len(prefix) :], environ
                )
        return json_response(
            {
                "error": f"no sandbox route for {path}",
                "prefixes": [prefix for prefix, _ in PLATFORM_PREFIXES] + ["/_sandbox"],
            },
            status=404,
        )

    def handle_platform(
        self, api: PlatformAPI, request: Request, subpath: str, environ: dict[str, Any]
    ) -> Response:
        state = self.state
        started = time.monotonic()
        entry = _new_entry(api.name, request, state.now())
        try:
            body = api.parse(request)
        except BodyError as exc:
            entry["body"] = request.get_data(as_text=True)[:MAX_LOGGED_TEXT_CHARS]
            return self._finish(entry, api.bad_body(request, str(exc)), started)
        entry["body"] = _logged_body(body, request)
        found, params, path_exists = api.match(request.method, subpath)
        if found is None:
            return self._finish(entry, api.not_found(request, subpath, path_exists), started)
        call = Call(request, api.name, subpath, params, body, found.family)
        with state.lock:
            call.account = api.resolve_account(state, call)
            fault = state.faults.take(api.name, call.account, request.path)
            outage = state.metrics.outage(api.name)
        entry["account"] = call.account
        if outage is not None and fault is None:
            entry["fault"] = f"market outage: {outage}"
            if outage == "timeout":
                self._finish(entry, None, started)
                time_out(environ)
            if outage == "429":
                return self._finish(
                    entry, api.throttled(state, call, FAULT_RETRY_AFTER_SECONDS), started, call
                )
            return self._finish(entry, api.server_error(state, call, OUTAGE_STATUS), started, call)
        if fault is not None:
            entry["fault"] = fault.mode
            if fault.mode == "drop":
                self._finish(entry, None, started)
                drop_connection(environ)
            if fault.mode == "5xx":
                return self._finish(
                    entry, api.server_error(state, call, fault.status), started, call
                )
            if fault.mode == "429":
                return self._finish(
                    entry, api.throttled(state, call, FAULT_RETRY_AFTER_SECONDS), started, call
                )
            time.sleep(fault.delay_seconds)  # "slow": outside the lock, then answer normally
        with state.lock:
            response = api.authenticate(state, call)
            if response is None:
                retry_after = state.limits.hit(api.name, call.account, state.now())
                if retry_after is not None:
                    response = api.throttled(state, call, retry_after)
                    entry["throttled"] = True
                else:
                    response = found.handler(state, call)
            return self._finish(entry, response, started, call)

    def _finish(
        self,
        entry: dict[str, Any],
        response: Response | None,
        started: float,
        call: Call | None = None,
    ) -> Response:
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
        if call is not None and call.notes:
            entry["notes"] = call.notes
        if response is None:
            entry.update(status=None, response="(connection dropped, no answer)")
        else:
            entry["status"] = response.status_code
            entry["response"] = _response_body(response)
        self.state.log_request(entry)
        return response  # type: ignore[return-value]


def _new_entry(platform: str, request: Request, now: float) -> dict[str, Any]:
    """The request-log entry, before the answer is known."""
    return {
        "at": now,
        "platform": platform,
        "account": None,
        "method": request.method,
        "path": request.path,
        "query": _masked_query(request),
        "headers": {
            name: mask(value) if name.lower() in SECRET_NAMES else value
            for name in LOGGED_HEADERS
            if (value := request.headers.get(name))
        },
        "body": None,
        "fault": None,
    }


def _logged_body(body: Any, request: Request) -> Any:
    size = len(request.get_data())
    if size > MAX_LOGGED_BODY_BYTES:
        head = request.get_data()[:MAX_LOGGED_TEXT_CHARS].decode("utf-8", "replace")
        return {"truncated": True, "bytes": size, "head": head}
    return _masked_body(body, request)


def _masked_query(request: Request) -> dict[str, str]:
    return {
        key: mask(value) if key.lower() in SECRET_NAMES else value
        for key, value in request.args.items()
    }


def _masked_body(body: Any, request: Request) -> Any:
    if isinstance(body, dict) and any(key.lower() in SECRET_NAMES for key in body):
        body = {k: mask(str(v)) if k.lower() in SECRET_NAMES else v for k, v in body.items()}
    if request.files:
        files = {name: storage.filename for name, storage in request.files.items()}
        return {"form": body, "files": files}
    return body


def _response_body(response: Response) -> Any:
    data = response.get_data()
    if not data:
        return None
    if response.mimetype == "application/json":
        try:
            body = json.loads(data)
        except ValueError:
            pass
        else:
            # Google OAuth answers carry the access token it minted.
            if isinstance(body, dict) and any(key.lower() in SECRET_NAMES for key in body):
                body = {
                    k: mask(str(v)) if k.lower() in SECRET_NAMES else v for k, v in body.items()
                }
            return body
    return data.decode("utf-8", "replace")[:MAX_LOGGED_TEXT_CHARS]


def create_app(state: SandboxState | None = None) -> SandboxApp:
    """The sandbox as a WSGI app; pass a state to share or inspect it (tests do)."""
    return SandboxApp(state)
