"""Per-account request budgets, answered with each platform's throttling error.

A sliding window per (platform, account). The defaults are generous so demos and
benchmarks run freely; tests lower them through `POST /_sandbox/rate-limits`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

# requests per window, per account; None = never throttled. GA4 MP has no documented
# throttling answer (it always says 2xx), so it is not limited.
DEFAULT_LIMITS: dict[str, tuple[int, float] | None] = {
    "meta": (600, 60.0),
    "google_ads": (600, 60.0),
    "tiktok": (600, 60.0),
    "ga4": None,
    "google_oauth": None,  # Usher caches access tokens; tests throttle it explicitly
}
_UNSET = object()


class RateLimiter:
    """Sliding-window counters; guarded by the state's lock."""

    def __init__(self) -> None:
        # (platform, account or None for the platform default) -> (limit, window) | None
        self.overrides: dict[tuple[str, str | None], tuple[int, float] | None] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def configure(
        self, platform: str, account: str | None, limit: int | None, window_seconds: float
    ) -> None:
        self.overrides[(platform, account)] = (limit, window_seconds) if limit else None
        self._windows.clear()

    def reset(self) -> None:
        self.overrides.clear()
        self._windows.clear()

    def limit_for(self, platform: str, account: str) -> tuple[int, float] | None:
        for key in ((platform, account), (platform, None)):
            value = self.overrides.get(key, _UNSET)
            if value is not _UNSET:
                return value  # type: ignore[return-value]
        return DEFAULT_LIMITS.get(platform)

    def hit(self, platform: str, account: str | None, now: float) -> float | None:
        """Count one call; None if allowed, else the seconds until the window frees up."""
        if account is None:
            return None
        rule = self.limit_for(platform, account)
        if rule is None:
            return None
        limit, window = rule
        calls = self._windows.setdefault((platform, account), deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= limit:
            return max(0.0, calls[0] + window - now)
        calls.append(now)
        return None

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "platform": platform,
                "account": account,
                "limit": rule[0] if rule else None,
                "window_seconds": rule[1] if rule else None,
            }
            for (platform, account), rule in self.overrides.items()
        ]

    def load_json(self, items: list[dict[str, Any]]) -> None:
        self.reset()
        for item in items:
            limit = item.get("limit")
            rule = (int(limit), float(item["window_seconds"])) if limit else None
            self.overrides[(item["platform"], item.get("account"))] = rule
