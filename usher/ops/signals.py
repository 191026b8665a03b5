"""Counts what other apps announce, so their modules need no metrics code."""

from __future__ import annotations

from django.dispatch import receiver

from usher.events.collector import events_collected
from usher.ops.counters import COLLECTOR_EVENTS


@receiver(events_collected, dispatch_uid="ops.count_collected_events")
def count_collected_events(sender: object, event_ids: list[str], **_: object) -> None:
    COLLECTOR_EVENTS.inc(len(event_ids))
