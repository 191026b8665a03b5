"""The sandbox mounted in-process behind Usher's real HTTP path, for tests anywhere in
the project: `usher.lib.http` clients of every platform talk to one fresh sandbox
through an httpx transport, no network and no server."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from usher.lib.http import reset_clients, set_transport_for_tests
from usher.sandbox.app import create_app
from usher.sandbox.state import SandboxState
from usher.sandbox.transport import sandbox_transport

# Explicit base URLs: the sandbox is mounted by transport, whatever the environment says.
MOUNTED_BASE_URLS = {
    "meta": "http://sandbox/meta",
    "google_ads": "http://sandbox/google-ads",
    "tiktok": "http://sandbox/tiktok",
    "ga4": "http://sandbox/ga4",
    "google_oauth": "http://sandbox/google-oauth",
    "google_data_manager": "http://sandbox/data-manager",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class MountedSandbox:
    """One fresh sandbox for all platforms; read what it recorded, inject faults."""

    def __init__(self) -> None:
        self.state = SandboxState()
        self.app = create_app(self.state)
        self.control = httpx.Client(transport=sandbox_transport(self.app), base_url="http://sb")
        reset_clients()
        for client_name in MOUNTED_BASE_URLS:
            set_transport_for_tests(client_name, sandbox_transport(self.app))

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.control.get("/_sandbox/requests", params=params)
        answer.raise_for_status()
        return answer.json()["requests"]

    def events(self, **params: Any) -> dict[str, Any]:
        return self.control.get("/_sandbox/events", params=params).json()

    def fault(self, **fault: Any) -> None:
        self.control.post("/_sandbox/faults", json=fault).raise_for_status()

    def account(self, **account: Any) -> None:
        self.control.post("/_sandbox/accounts", json=account).raise_for_status()

    def close(self) -> None:
        self.control.close()
        reset_clients()
