"""Control endpoints of the market simulator, under `/_sandbox/market`.

Benchmarks, tests and the marketplace driver use these; Usher's own code never does
(it sees only the platforms' APIs). Contract in docs/simulator.md. Bad input answers
422 with the reason (a scenario's with the JSON path of the offending field).
"""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.market.campaigns import DEFAULT_LANDING_URL
from usher.sandbox.market.engine import Market
from usher.sandbox.market.scenario import PLATFORMS, ScenarioError, parse_scenario
from usher.sandbox.platform import json_response
from usher.sandbox.state import SandboxState

PREFIX = "/_sandbox/market"
MAX_ADVANCE_DAYS = 120
MAX_PURCHASES_PER_PAGE = 10_000


class MarketInputError(ValueError):
    """Bad control input; answered 422."""


def handle(state: SandboxState, request: Request) -> Response:
    try:
        return _route(state, request)
    except ScenarioError as exc:
        return json_response({"error": exc.message, "path": exc.path}, status=422)
    except MarketInputError as exc:
        return json_response({"error": str(exc)}, status=422)


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise MarketInputError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MarketInputError("body must be a JSON object")
    return payload


def _number(payload: dict[str, Any], name: str, minimum: float = 0) -> float:
    value = payload.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MarketInputError(f"{name} must be a number")
    if value < minimum:
        raise MarketInputError(f"{name} must be at least {minimum:g}")
    return float(value)


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise MarketInputError(f"{name} must be an integer") from exc
    if value < 0:
        raise MarketInputError(f"{name} must not be negative")
    return value


def _route(state: SandboxState, request: Request) -> Response:
    path = request.path.rstrip("/")
    method = request.method
    if path == PREFIX and method == "POST":
        return _load(state, request)
    market: Market | None = state.market
    if market is None:
        return json_response({"error": "no market scenario is loaded"}, status=404)
    if path == PREFIX and method == "GET":
        return json_response(market.status())
    if path == PREFIX and method == "DELETE":
        market.detach()
        return json_response({"unloaded": market.scenario.name})
    if path == f"{PREFIX}/advance" and method == "POST":
        return _advance(market, _body(request))
    if path == f"{PREFIX}/campaigns" and method == "POST":
        return _campaign(market, _body(request))
    if path == f"{PREFIX}/truth" and method == "GET":
        answer = market.totals()
        if request.args.get("hourly") in ("1", "true"):
            answer["hours"] = [row.to_json() for row in market.truth()]
        return json_response(answer)
    if path == f"{PREFIX}/purchases" and method == "GET":
        after = _int_arg(request, "after", 0)
        limit = min(_int_arg(request, "limit", MAX_PURCHASES_PER_PAGE), MAX_PURCHASES_PER_PAGE)
        found = market.purchases(after_seq=after)[:limit]
        return json_response(
            {
                "purchases": [p.to_json() for p in found],
                "last_seq": found[-1].seq if found else after,
            }
        )
    if path == f"{PREFIX}/visits" and method == "GET":
        hour = _int_arg(request, "hour", max(market.hour - 1, 0))
        per_ad = _int_arg(request, "per_ad", 0) or None
        return json_response(
            {"hour": hour, "visits": [v.to_json() for v in market.visits(hour, per_ad)]}
        )
    return json_response({"error": f"no market endpoint {method} {request.path}"}, status=404)


def _load(state: SandboxState, request: Request) -> Response:
    payload = _body(request)
    scenario = parse_scenario(payload.get("scenario", payload))
    seed = payload.get("seed") if "scenario" in payload else None
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise MarketInputError("seed must be a non-negative integer")
    if state.market is not None:
        state.market.detach()
    market = Market(scenario, state, seed=seed)
    return json_response(market.status(), status=201)


def _advance(market: Market, payload: dict[str, Any]) -> Response:
    minutes = _number(payload, "minutes")
    hours = _number(payload, "hours")
    days = _number(payload, "days")
    if minutes / 1440 + hours / 24 + days > MAX_ADVANCE_DAYS:
        raise MarketInputError(f"advance at most {MAX_ADVANCE_DAYS} days at a time")
    delivered = market.advance(minutes=minutes, hours=hours, days=days)
    return json_response(dict(market.status(), delivered_hours=delivered))


def _campaign(market: Market, payload: dict[str, Any]) -> Response:
    platform = payload.get("platform")
    if platform not in PLATFORMS:
        raise MarketInputError(f"platform must be one of {', '.join(PLATFORMS)}")
    creatives = payload.get("creatives")
    if creatives is not None and (
        not isinstance(creatives, list) or not all(isinstance(c, str) and c for c in creatives)
    ):
        raise MarketInputError("creatives must be a list of creative names")
    budget = _number(payload, "daily_budget", minimum=0.01)
    landing_url = payload.get("landing_url", DEFAULT_LANDING_URL)
    if not isinstance(landing_url, str) or not landing_url.startswith(("http://", "https://")):
        raise MarketInputError("landing_url must be an http(s) URL")
    try:
        ref = market.create_campaign(
            platform,
            str(payload.get("campaign_type")),
            budget,
            creatives or None,
            landing_url=landing_url,
        )
    except ValueError as exc:
        raise MarketInputError(str(exc)) from exc
    return json_response(
        {
            "platform": ref.platform,
            "account": ref.account,
            "campaign_id": ref.campaign_id,
            "group_id": ref.group_id,
            "ads": ref.ads,
        },
        status=201,
    )
