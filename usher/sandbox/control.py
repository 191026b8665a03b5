"""Control endpoints under `/_sandbox`: accounts, faults, rate limits, reset, inspection.

These are the sandbox's own API (not any platform's); the contract is in
docs/sandbox.md. Answers are plain JSON; bad input answers 422 with the reason.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.faults import parse_fault
from usher.sandbox.market import control as market_control
from usher.sandbox.platform import json_response
from usher.sandbox.state import PLATFORMS, SANDBOX_TOKEN_PREFIX, Account, SandboxState

PLATFORM_ALIASES = {
    "google-ads": "google_ads",
    "googleads": "google_ads",
    "google-oauth": "google_oauth",
    "facebook": "meta",
}


class ControlError(ValueError):
    """Bad control input; answered 422."""


def platform_name(value: Any, required: bool = True) -> str | None:
    if value in (None, "") and not required:
        return None
    name = PLATFORM_ALIASES.get(str(value), str(value))
    if name not in PLATFORMS:
        raise ControlError(f"platform must be one of {', '.join(PLATFORMS)}")
    return name


def normalize_account_id(platform: str, account_id: Any) -> str:
    """The form the platform modules use: no act_ prefix, no dashes in customer ids."""
    value = str(account_id).strip()
    if platform == "meta" and value.startswith("act_"):
        return value[4:]
    if platform == "google_ads":
        return value.replace("-", "")
    return value


def _account(payload: Any) -> Account:
    if not isinstance(payload, dict):
        raise ControlError("each account must be a JSON object")
    platform = platform_name(payload.get("platform"))
    assert platform is not None
    raw_id = payload.get("account_id")
    if raw_id in (None, ""):
        raise ControlError("account_id is required")
    tokens = payload.get("tokens", [])
    # GA4's credential is the stream's api_secret; accept the natural name too.
    tokens = list(tokens) + list(payload.get("api_secrets", []))
    if not all(isinstance(token, str) and token for token in tokens):
        raise ControlError("tokens must be non-empty strings")
    settings = payload.get("settings", {})
    if not isinstance(settings, dict):
        raise ControlError("settings must be an object")
    return Account(
        platform=platform,
        account_id=normalize_account_id(platform, raw_id),
        known=bool(payload.get("known", True)),
        tokens=tokens,
        settings=settings,
    )


def _body(request: Request) -> Any:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ControlError(f"body is not valid JSON: {exc}") from exc


def handle(state: SandboxState, request: Request) -> Response:
    try:
        return _route(state, request)
    except ControlError as exc:
        return json_response({"error": str(exc)}, status=422)


def _route(state: SandboxState, request: Request) -> Response:
    path = request.path.rstrip("/")
    method = request.method
    args = request.args
    if path == "/_sandbox/health":
        return json_response({"ok": True, "token_prefix": SANDBOX_TOKEN_PREFIX})
    if path == "/_sandbox/reset" and method == "POST":
        if state.market is not None:
            state.market.detach()
        state.clear()
        return json_response({"ok": True})
    if path == market_control.PREFIX or path.startswith(f"{market_control.PREFIX}/"):
        return market_control.handle(state, request)
    if path == "/_sandbox/accounts":
        if method == "POST":
            payload = _body(request)
            items = (
                payload.get("accounts")
                if isinstance(payload, dict) and "accounts" in payload
                else [payload]
            )
            if not isinstance(items, list):
                raise ControlError("accounts must be a list")
            accounts = [_account(item) for item in items]
            for account in accounts:
                state.register_account(account)
            return json_response({"accounts": [_account_json(a) for a in accounts]}, status=201)
        if method == "GET":
            wanted = platform_name(args.get("platform"), required=False)
            with state.lock:
                listed = [
                    _account_json(a)
                    for platform, by_id in state.accounts.items()
                    if wanted in (None, platform)
                    for a in by_id.values()
                ]
            return json_response({"accounts": listed})
    if path == "/_sandbox/faults":
        if method == "POST":
            payload = _body(request)
            if isinstance(payload, dict) and "platform" in payload:
                payload["platform"] = PLATFORM_ALIASES.get(payload["platform"], payload["platform"])
            try:
                fault = parse_fault(payload, PLATFORMS)
            except ValueError as exc:
                raise ControlError(str(exc)) from exc
            if fault.account is not None:
                fault.account = normalize_account_id(fault.platform, fault.account)
            with state.lock:
                state.faults.add(fault)
                state.dirty = True
                return json_response(state.faults.to_json()[-1], status=201)
        if method == "GET":
            with state.lock:
                return json_response({"faults": state.faults.to_json()})
        if method == "DELETE":
            with state.lock:
                cleared = len(state.faults.faults)
                state.faults.clear()
                state.dirty = True
            return json_response({"cleared": cleared})
    if path == "/_sandbox/rate-limits":
        return _rate_limits(state, request)
    if path == "/_sandbox/requests":
        if method == "GET":
            return _requests(state, request)
        if method == "DELETE":
            with state.lock:
                cleared = len(state.requests)
                state.requests.clear()
            return json_response({"cleared": cleared})
    if path == "/_sandbox/events" and method == "GET":
        platform = platform_name(args.get("platform"), required=False)
        account = args.get("account") or None
        if platform and account:
            account = normalize_account_id(platform, account)
        return json_response(state.events_report(platform, account))
    if path == "/_sandbox/objects" and method == "GET":
        platform = platform_name(args.get("platform"))
        assert platform is not None
        account = args.get("account")
        with state.lock:
            objects = state.objects_of(
                platform,
                normalize_account_id(platform, account) if account else None,
                args.get("type") or None,
            )
            return json_response({"objects": objects})
    return json_response({"error": f"no control endpoint {method} {request.path}"}, status=404)


def _account_json(account: Account) -> dict[str, Any]:
    return {
        "platform": account.platform,
        "account_id": account.account_id,
        "known": account.known,
        "tokens": len(account.tokens),
        "settings": account.settings,
    }


def _rate_limits(state: SandboxState, request: Request) -> Response:
    if request.method == "POST":
        payload = _body(request)
        if not isinstance(payload, dict):
            raise ControlError("body must be a JSON object")
        platform = platform_name(payload.get("platform"))
        assert platform is not None
        limit = payload.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise ControlError("limit must be a non-negative integer, or null for unlimited")
        window = payload.get("window_seconds", 60)
        if not isinstance(window, int | float) or isinstance(window, bool) or window <= 0:
            raise ControlError("window_seconds must be a positive number")
        account = payload.get("account")
        with state.lock:
            state.limits.configure(
                platform,
                normalize_account_id(platform, account) if account else None,
                limit or None,
                float(window),
            )
            state.dirty = True
            return json_response({"rate_limits": state.limits.to_json()}, status=201)
    if request.method == "DELETE":
        with state.lock:
            state.limits.reset()
            state.dirty = True
        return json_response({"rate_limits": []})
    with state.lock:
        return json_response({"rate_limits": state.limits.to_json()})


def _requests(state: SandboxState, request: Request) -> Response:
    args = request.args
    platform = platform_name(args.get("platform"), required=False)
    account = args.get("account") or None
    if platform and account:
        account = normalize_account_id(platform, account)
    found = state.find_requests(platform, account, args.get("path") or None)
    method = args.get("method")
    if method:
        found = [entry for entry in found if entry["method"] == method.upper()]
    limit = args.get("limit", type=int)
    if limit:
        found = found[-limit:]
    return json_response({"count": len(found), "requests": found})
