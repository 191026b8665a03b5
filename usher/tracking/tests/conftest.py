"""Fixtures of the tracking tests."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from usher.lib.crypto import reset_key_cache
from usher.marketplace.tests.factories import EventFactory


@pytest.fixture
def event(organizer):
    return EventFactory(organizer=organizer, client=organizer.client, slug="summer-fest")


@pytest.fixture
def fernet_keys(settings):
    """Two fresh keys; `use(*keys)` switches the configured keys (newest first)."""
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]

    def use(*configured: str) -> None:
        settings.USHER_ENCRYPTION_KEYS = list(configured)
        reset_key_cache()

    use(keys[0])
    yield keys, use
    reset_key_cache()
