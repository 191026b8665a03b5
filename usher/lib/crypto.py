"""Secrets at rest: Fernet encryption with key rotation (MultiFernet).

`USHER_ENCRYPTION_KEYS` lists Fernet keys, newest first. New values are encrypted with
the first key; any listed key decrypts, so a key can be rotated in by putting it first
and running `manage.py rotate_secrets`, then retired. Without keys (development only)
a key is derived from SECRET_KEY so the embedded defaults work out of the box.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.USHER_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(f"usher-dev-fernet:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def reset_key_cache() -> None:
    """Forget the loaded keys (tests and rotation change the setting at runtime)."""
    _fernet.cache_clear()


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc


def rotate_secret(token: str) -> str:
    """Re-encrypt a stored value under the newest key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")
