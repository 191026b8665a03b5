"""Everything the fake platforms remember, behind one lock, saveable as JSON.

One re-entrant lock guards the whole state: the sandbox is a test double, so
simplicity beats throughput, and a single lock makes every answer consistent even
under Werkzeug's threaded server.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from usher.sandbox.faults import FaultBook
from usher.sandbox.metrics import MetricsSource, ZeroMetrics
from usher.sandbox.ratelimit import RateLimiter

# google_oauth is Google's OAuth token endpoint, whose "accounts" are OAuth clients.
PLATFORMS = ("meta", "google_ads", "tiktok", "ga4", "google_oauth")
# A token (or GA4 api_secret) starting with this is valid for any account that has no
# tokens of its own registered. Documented in docs/sandbox.md.
SANDBOX_TOKEN_PREFIX = "sandbox-"
# Oldest entries go first past these caps (memory stays bounded under benchmarks).
MAX_LOGGED_REQUESTS = 2_000
MAX_STORED_EVENTS = 100_000
STATE_FORMAT_VERSION = 1


@dataclass
class Account:
    """A pixel, ad account, customer, advertiser or measurement id the sandbox knows."""

    platform: str
    account_id: str
    known: bool = True
    tokens: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


class SandboxState:
    """The sandbox's memory. Hold `lock` around every read-modify-write."""

    def __init__(
        self, clock: Callable[[], float] | None = None, metrics: MetricsSource | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or time.time
        self.metrics: MetricsSource = metrics or ZeroMetrics()
        # The loaded market scenario (usher.sandbox.market.Market), if any: it is then
        # the clock and the metrics source too.
        self.market: Any = None
        self.clear()

    def now(self) -> float:
        return self.clock()

    def clear(self) -> None:
        """Forget everything (`POST /_sandbox/reset`)."""
        with self.lock:
            self.accounts: dict[str, dict[str, Account]] = {p: {} for p in PLATFORMS}
            self.objects: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in PLATFORMS}
            self.members: dict[str, set[str]] = {}
            self.events: list[dict[str, Any]] = []
            self.requests: deque[dict[str, Any]] = deque(maxlen=MAX_LOGGED_REQUESTS)
            self.faults = FaultBook()
            self.limits = RateLimiter()
            self.counters: dict[str, int] = {}
            self.budget_changes: dict[str, list[float]] = {}
            self._dedup_first: dict[tuple[Any, ...], dict[str, Any]] = {}
            self._request_seq = 0
            self._event_seq = 0
            self.dirty = True

    # --- accounts and credentials ---

    def register_account(self, account: Account) -> Account:
        with self.lock:
            self.accounts[account.platform][account.account_id] = account
            self.dirty = True
            return account

    def account(self, platform: str, account_id: str) -> Account | None:
        return self.accounts[platform].get(account_id)

    def is_known(self, platform: str, account_id: str) -> bool:
        """Well-formed ids are known unless registered with known=false."""
        registered = self.account(platform, account_id)
        return registered.known if registered else True

    def token_valid(self, platform: str, account_id: str | None, token: str | None) -> bool:
        """Registered tokens win for their account; otherwise the documented prefix rule."""
        if not token:
            return False
        registered = self.account(platform, account_id) if account_id else None
        if registered and registered.tokens:
            return token in registered.tokens
        if token.startswith(SANDBOX_TOKEN_PREFIX):
            return True
        return any(token in acct.tokens for acct in self.accounts[platform].values())

    # --- ids and objects ---

    def next_id(self, platform: str, base: int) -> str:
        """Deterministic, platform-looking numeric ids (tests can predict them)."""
        with self.lock:
            value = self.counters.get(platform, 0) + 1
            self.counters[platform] = value
            return str(base + value)

    def put_object(self, platform: str, object_id: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.objects[platform][object_id] = obj
            self.dirty = True
            return obj

    def get_object(self, platform: str, object_id: str) -> dict[str, Any] | None:
        return self.objects[platform].get(object_id)

    def objects_of(
        self, platform: str, account: str | None = None, object_type: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self.objects[platform].values()
            if (account is None or obj.get("account") == account)
            and (object_type is None or obj.get("type") == object_type)
        ]

    def members_of(self, platform: str, audience_id: str) -> set[str]:
        return self.members.setdefault(f"{platform}:{audience_id}", set())

    # --- conversion events and their deduplication ---

    def record_event(
        self,
        platform: str,
        account: str,
        name: str,
        event_id: str | None,
        event_time: float | None,
        payload: Any,
        dedup_window_seconds: float | None,
        test: bool = False,
    ) -> dict[str, Any]:
        """Store one received event, marking it a duplicate the way the platform counts.

        The first event with a key stays the original; a later one with the same key
        within the window is a duplicate (Meta and TikTok keep the first received).
        Past the window the next one starts a new original.
        """
        with self.lock:
            now = self.now()
            self._event_seq += 1
            event = {
                "seq": self._event_seq,
                "platform": platform,
                "account": account,
                "event_name": name,
                "event_id": event_id,
                "event_time": event_time,
                "received_at": now,
                "test": test,
                "duplicate_of": None,
                "data": payload,
            }
            self._mark_duplicate(event, dedup_window_seconds)
            self.events.append(event)
            if len(self.events) > MAX_STORED_EVENTS:
                del self.events[: len(self.events) - MAX_STORED_EVENTS]
            self.dirty = True
            return event

    def _mark_duplicate(self, event: dict[str, Any], window: float | None) -> None:
        if window is None or not event["event_id"]:
            return
        key = (event["platform"], event["account"], event["event_name"], event["event_id"])
        first = self._dedup_first.get(key)
        if first is not None and event["received_at"] - first["received_at"] <= window:
            event["duplicate_of"] = first["seq"]
        else:
            self._dedup_first[key] = event

    def events_report(self, platform: str | None, account: str | None) -> dict[str, Any]:
        with self.lock:
            events = [
                event
                for event in self.events
                if (platform is None or event["platform"] == platform)
                and (account is None or event["account"] == account)
            ]
            duplicates = sum(1 for event in events if event["duplicate_of"] is not None)
            return {
                "received": len(events),
                "unique": len(events) - duplicates,
                "duplicates": duplicates,
                "events": [
                    dict(event, duplicate=event["duplicate_of"] is not None) for event in events
                ],
            }

    # --- request log ---

    def log_request(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._request_seq += 1
            entry["seq"] = self._request_seq
            self.requests.append(entry)
            self.dirty = True
            return entry

    def find_requests(
        self, platform: str | None, account: str | None, path: str | None
    ) -> list[dict[str, Any]]:
        with self.lock:
            return [
                entry
                for entry in self.requests
                if (platform is None or entry["platform"] == platform)
                and (account is None or entry["account"] == account)
                and (path is None or path in entry["path"])
            ]

    # --- persistence ---

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_FORMAT_VERSION,
                "accounts": [asdict(a) for by_id in self.accounts.values() for a in by_id.values()],
                "objects": self.objects,
                "members": {key: sorted(values) for key, values in self.members.items()},
                "events": self.events,
                "requests": list(self.requests),
                "faults": self.faults.to_json(),
                "rate_limits": self.limits.to_json(),
                "counters": self.counters,
                "budget_changes": self.budget_changes,
                "request_seq": self._request_seq,
            }

    def load_json(self, data: dict[str, Any]) -> None:
        if data.get("version") != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported sandbox state version: {data.get('version')!r}")
        with self.lock:
            self.clear()
            for item in data.get("accounts", []):
                self.register_account(Account(**item))
            for platform, objects in data.get("objects", {}).items():
                self.objects[platform] = dict(objects)
            self.members = {key: set(values) for key, values in data.get("members", {}).items()}
            for event in data.get("events", []):
                self._event_seq = max(self._event_seq, event["seq"])
                if event["duplicate_of"] is None and event["event_id"]:
                    # events are stored in arrival order: the last original is the live one
                    key = (
                        event["platform"],
                        event["account"],
                        event["event_name"],
                        event["event_id"],
                    )
                    self._dedup_first[key] = event
                self.events.append(event)
            self.requests.extend(data.get("requests", []))
            self.faults.load_json(data.get("faults", []))
            self.limits.load_json(data.get("rate_limits", []))
            self.counters = dict(data.get("counters", {}))
            self.budget_changes = dict(data.get("budget_changes", {}))
            self._request_seq = int(data.get("request_seq", len(self.requests)))
            self.dirty = False

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a file."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            payload = json.dumps(self.to_json(), default=str)
            self.dirty = False
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> SandboxState:
        state = cls(**kwargs)
        state.load_json(json.loads(Path(path).read_text(encoding="utf-8")))
        return state
