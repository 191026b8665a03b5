"""The one content-id scheme: the id an event carries as `content_ids` in every pixel
event, every server-side conversion and as the item id of every platform catalog.

It is the event's external id (the ticketing core's own id), not its slug. Catalogs key
their items on this id and dynamic ads look up the item a visitor saw by the id the
pixel sent: a slug can be renamed (a typo fixed, a date added) and would then orphan the
catalog item and every past visit that named it, while the core's id never changes for
the life of the event. It is also what the core already knows on its own pages, and it
is unique per marketplace client, which is the scope of every ad account (and so of
every catalog) Usher manages.

Pixels, the collector, conversions and catalogs all call `event_content_id`; nothing
else builds a content id. tracker.js reads the same value from the tracking-config
document (`event.content_id`).
"""

from __future__ import annotations

from typing import Protocol


class HasExternalId(Protocol):
    external_id: str


def event_content_id(event: HasExternalId) -> str:
    """The content id of a marketplace event (see the module docstring for why)."""
    return event.external_id
