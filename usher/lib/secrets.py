"""Bearer secrets (client API keys, organizer API tokens): generated, shown once, stored hashed.

The secrets are 256-bit random strings, so one SHA-256 is enough to make a leaked
database useless without a slow KDF; a readable prefix tells the kinds apart (and lets
secret scanners find leaked ones).
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_RANDOM_BYTES = 32
DISPLAY_PREFIX_CHARS = 16


def generate_secret(kind_prefix: str) -> str:
    """A new secret such as `ush_org_<43 url-safe chars>`."""
    return f"{kind_prefix}{secrets.token_urlsafe(SECRET_RANDOM_BYTES)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a secret that may be shown again (admin lists, logs) to identify it."""
    return secret[:DISPLAY_PREFIX_CHARS]
