"""A local stand-in for the ad platforms' HTTP APIs (Meta, Google Ads, TikTok, GA4, and
Google's OAuth token endpoint).

Run it as its own process (`python -m usher.sandbox`) or mount it in-process with
`httpx.Client(transport=sandbox_transport(create_app()), base_url="http://sandbox")`.
Usher reaches it through PLATFORM_BASE_URLS (SANDBOX_URL + "/meta", "/google-ads",
"/tiktok", "/ga4", "/google-oauth"); see docs/sandbox.md.
"""

from usher.sandbox.app import SandboxApp, create_app
from usher.sandbox.metrics import Metrics, MetricsSource
from usher.sandbox.state import SANDBOX_TOKEN_PREFIX, Account, SandboxState
from usher.sandbox.transport import sandbox_transport

__all__ = [
    "SANDBOX_TOKEN_PREFIX",
    "Account",
    "Metrics",
    "MetricsSource",
    "SandboxApp",
    "SandboxState",
    "create_app",
    "sandbox_transport",
]
