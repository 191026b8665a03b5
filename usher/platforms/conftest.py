"""Fixtures for every platform package's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from usher.lib.http import reset_clients
from usher.lib.ratelimit import reset_local_buckets


@pytest.fixture(autouse=True)
def _fresh_rate_limit_buckets() -> Iterator[None]:
    """Management-call buckets (in-process without Redis) start full in every test."""
    reset_local_buckets()
    yield
    reset_local_buckets()


@pytest.fixture(autouse=True)
def _fresh_http_clients() -> Iterator[None]:
    """Transports a test mounted (MockTransport, a lossy sandbox) end with it."""
    yield
    reset_clients()
