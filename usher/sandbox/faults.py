"""Fault injection: make the next N calls of an account fail the way networks do.

Modes: "5xx" (the platform's server-error answer), "429" (the platform's own
throttling answer, which is not always HTTP 429: TikTok says code 40100 in an HTTP
200, Meta code 4/80004 in an HTTP 400), "slow" (sleep, then answer normally) and
"drop" (close the connection without any answer).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

import httpx

FAULT_MODES = ("5xx", "429", "slow", "drop")
DEFAULT_SLOW_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 600.0
# A market outage of mode "timeout" holds a served call this long before dropping it:
# past any sane client timeout (Usher's PLATFORM_HTTP_TIMEOUT_SECONDS is 10).
OUTAGE_TIMEOUT_SECONDS = 30.0


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app for a "drop" fault when it runs inside an httpx WSGITransport.

    It is an httpx transport error, so `httpx.Client` surfaces exactly what it raises
    when a real server closes the socket without answering, and Usher's HTTP layer
    takes the same path in tests as in production.
    """


class SimulatedTimeout(httpx.ReadTimeout):
    """Raised in-process for a market outage of mode "timeout": what httpx raises when a
    server does not answer within the client's timeout."""


@dataclass
class Fault:
    platform: str
    mode: str
    count: int = 1
    account: str | None = None
    path: str | None = None
    delay_seconds: float = 0.0
    status: int = 500
    id: int = 0

    def matches(self, platform: str, account: str | None, path: str) -> bool:
        if self.platform != platform or self.count <= 0:
            return False
        if self.account is not None and self.account != account:
            return False
        return self.path is None or self.path in path


def parse_fault(payload: Any, platforms: tuple[str, ...]) -> Fault:
    """Build a Fault from the control endpoint's JSON, or raise ValueError saying why."""
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    platform = payload.get("platform")
    if not isinstance(platform, str) or platform not in platforms:
        raise ValueError(f"platform must be one of {', '.join(platforms)}")
    mode = str(payload.get("mode", ""))
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    count = payload.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a positive integer")
    delay = payload.get("delay_seconds", DEFAULT_SLOW_DELAY_SECONDS if mode == "slow" else 0.0)
    if not isinstance(delay, int | float) or isinstance(delay, bool):
        raise ValueError("delay_seconds must be a number")
    if not 0 <= delay <= MAX_DELAY_SECONDS:
        raise ValueError(f"delay_seconds must be between 0 and {MAX_DELAY_SECONDS:g}")
    status = payload.get("status", 500)
    if not isinstance(status, int) or not 500 <= status <= 599:
        raise ValueError("status must be an integer from 500 to 599")
    account = payload.get("account")
    path = payload.get("path")
    return Fault(
        platform=platform,
        mode=mode,
        count=count,
        account=None if account in (None, "", "*") else str(account),
        path=None if not path else str(path),
        delay_seconds=float(delay),
        status=status,
    )


class FaultBook:
    """The armed faults, consumed first-armed-first; guarded by the state's lock."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        fault.id = self._next_id
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def take(self, platform: str, account: str | None, path: str) -> Fault | None:
        """The first armed fault for this call, with one use spent."""
        for fault in self.faults:
            if fault.matches(platform, account, path):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self.faults]

    def load_json(self, items: list[dict[str, Any]]) -> None:
        self.faults = [Fault(**item) for item in items]
        self._next_id = max((fault.id for fault in self.faults), default=0) + 1


def _server_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The client's socket when a server runs the sandbox: Werkzeug's development
    server and gunicorn (the benchmarks' keep-alive setup) both put it in the environ."""
    return environ.get("werkzeug.socket") or environ.get("gunicorn.socket")


def drop_connection(environ: dict[str, Any]) -> NoReturn:
    """End the call without an answer.

    Under a server the client socket is in the environ: shut it down and raise a
    connection reset, which Werkzeug and gunicorn both treat as a dropped connection
    and answer nothing (any other error gunicorn would answer with a 500). In-process
    (httpx.WSGITransport) raise DroppedConnection, an httpx.RemoteProtocolError, which
    the transport lets through to the client.
    """
    sock = _server_socket(environ)
    if sock is not None:
        with contextlib.suppress(OSError):  # the client may already be gone
            sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionResetError(errno.ECONNRESET, "sandbox fault: connection dropped")
    raise DroppedConnection("Server disconnected without sending a response.")


def time_out(environ: dict[str, Any]) -> NoReturn:
    """Answer nothing in time: the client sees a read timeout.

    Under a server the call is held past any client timeout, then dropped; in-process
    (where httpx timeouts do not apply) SimulatedTimeout is raised at once.
    """
    if _server_socket(environ) is not None:
        time.sleep(OUTAGE_TIMEOUT_SECONDS)
        drop_connection(environ)
    raise SimulatedTimeout("sandbox outage: the platform did not answer in time")
