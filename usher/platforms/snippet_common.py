"""Pieces the pixel snippets (`<platform>/snippet.py`) share, written once.

The page-level helpers (`js_literal`, `merged_params`, consent defaults) live in
`usher.tracking.snippets`; these are the mapping rules that several platforms'
pixels follow alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from usher.platforms.payload_common import CONTENT_TYPE_PRODUCT
from usher.tracking.resolved import ResolvedCode
from usher.tracking.snippets import EventData, merged_params


def matching_fields(user_data: Mapping[str, str], keys: Mapping[str, str]) -> dict[str, str]:
    """The visitor's advanced-matching values under the pixel's own keys.

    Keys the pixel does not take and empty values are left out: the pixels hash what
    they get, and a hashed empty string would match nobody.
    """
    return {keys[key]: value for key, value in user_data.items() if key in keys and value}


def pixel_params(code: ResolvedCode, event: EventData, keys: Mapping[str, str]) -> dict[str, Any]:
    """A standard event's parameters for a Meta- or TikTok-style pixel, custom params merged.

    `content_ids` with `content_type` "product" come first: catalog ads match on the
    pair, so both are absent when the event names no content. Then `keys` maps our
    `EventData` fields to the pixel's parameter names, in the order they are sent.
    """
    standard: dict[str, Any] = {
        "content_ids": list(event.content_ids) or None,
        "content_type": CONTENT_TYPE_PRODUCT if event.content_ids else None,
    }
    standard.update({key: getattr(event, field) for field, key in keys.items()})
    return merged_params(code, standard)
