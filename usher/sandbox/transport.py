"""Mount the sandbox in-process: `httpx.Client(transport=sandbox_transport(app), ...)`.

Tests then exercise Usher's real HTTP code against the sandbox with no server and no
port. A "drop" fault reaches the client as `httpx.RemoteProtocolError`, exactly what
httpx raises when a real server closes the connection without answering.
"""

from __future__ import annotations

import httpx

from usher.sandbox.app import SandboxApp, create_app
from usher.sandbox.faults import DroppedConnection, SimulatedTimeout
from usher.sandbox.state import SandboxState


class SandboxTransport(httpx.WSGITransport):
    """WSGITransport that attaches the request to dropped-connection errors."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        except SimulatedTimeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from None


def sandbox_transport(
    app: SandboxApp | None = None, *, state: SandboxState | None = None
) -> httpx.WSGITransport:
    """A transport serving `app` (or a new sandbox over `state`) in-process.

    Note: httpx timeouts do not apply in-process, so a "slow" fault delays the call
    by its full `delay_seconds` instead of timing out; use the real server
    (`python -m usher.sandbox`) to test client timeouts.
    """
    return SandboxTransport(app if app is not None else create_app(state))
