"""Which tracking codes apply to a page, and which can send conversions server-side.

For an event page: per provider, the organizer's enabled event-specific code, else its
enabled default; plus every enabled code of the marketplace itself, always (dual
tracking), so a page may carry two Meta pixels. For an organizer's profile page: its
defaults plus the marketplace's. Each resolution costs two queries whatever the number
of codes (organizer's candidates, marketplace's codes) and is cached per client version
(`usher.lib.client_cache`), so an edit shows on the next page load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from usher.lib.client_cache import RESOLUTION_CACHE_SECONDS, cached_for_client
from usher.lib.crypto import decrypt_secret
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer, OrganizerStatus
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode, TrackingCodeBase
from usher.tracking.providers import SPECS, ProviderSpec, get_spec, server_side_ready
from usher.tracking.resolved import CodeSource, Provider, ResolvedCode

__all__ = [
    "RESOLUTION_CACHE_SECONDS",
    "ServerSideCode",
    "marketplace_server_side_codes",
    "organizer_server_side_codes",
    "resolve_for_event",
    "resolve_for_marketplace",
    "resolve_for_organizer",
    "server_side_codes",
]

TAG_MANAGER_PROVIDERS = [name for name, spec in SPECS.items() if spec.tag_manager]
_PROVIDER_ORDER = {value: index for index, value in enumerate(Provider.values)}


@dataclass(frozen=True)
class ServerSideCode:
    """A code that can send conversions server-side. The credential stays encrypted on
    this object (it may sit in the cache) and is decrypted only by `credential()`."""

    provider: str
    source: str  # a CodeSource value; MARKETPLACE means a MarketplaceTrackingCode row
    code_id: int
    tag_id: str
    conversion_events: tuple[str, ...]
    # Non-secret settings the sender needs (customer_id, test_event_code, labels...).
    settings: dict[str, Any] = field(default_factory=dict)
    encrypted_credential: str = field(default="", repr=False, compare=False)

    def credential(self) -> str:
        """The decrypted access token or API secret; never log or return it."""
        return decrypt_secret(self.encrypted_credential)

    def receives(self, event_name: str) -> bool:
        return event_name in self.conversion_events

    @property
    def destination_key(self) -> str:
        """Identifies the destination across both tables (e.g. for one delivery per
        event and destination)."""
        table = "marketplace" if self.source == CodeSource.MARKETPLACE else "organizer"
        return f"{table}:{self.code_id}"


# --- loading: two queries per resolution ---


def _organizer_rows(organizer_id: int, client_id: int, event_id: int | None) -> list:
    """The organizer's enabled candidates: its defaults, plus the event's own codes."""
    scope = Q(event__isnull=True)
    if event_id is not None:
        scope |= Q(event_id=event_id)
    return list(
        EventTrackingCode.objects.filter(
            scope,
            client_id=client_id,
            organizer_id=organizer_id,
            enabled=True,
            # A suspended organizer's pixels leave the pages with it.
            organizer__status=OrganizerStatus.ACTIVE,
        ).exclude(
            # ...and tag managers, from the day the marketplace stops allowing them.
            provider__in=TAG_MANAGER_PROVIDERS,
            client__allow_organizer_tag_managers=False,
        )
    )


def _marketplace_rows(client_id: int) -> list[MarketplaceTrackingCode]:
    rows = MarketplaceTrackingCode.objects.filter(client_id=client_id, enabled=True)
    return sorted(rows, key=lambda row: (_PROVIDER_ORDER.get(row.provider, 99), row.pk))


def _pick_per_provider(
    rows: Iterable[EventTrackingCode],
) -> list[tuple[TrackingCodeBase, CodeSource]]:
    """Per provider the event's own code wins over the default (the fallback order)."""
    chosen: dict[str, EventTrackingCode] = {}
    for row in rows:
        current = chosen.get(row.provider)
        if current is None or (current.event_id is None and row.event_id is not None):
            chosen[row.provider] = row
    ordered = sorted(chosen.values(), key=lambda row: _PROVIDER_ORDER.get(row.provider, 99))
    return [
        (row, CodeSource.ORGANIZER_DEFAULT if row.event_id is None else CodeSource.EVENT)
        for row in ordered
    ]


def _rows_for_event(event: MarketplaceEvent) -> list[tuple[TrackingCodeBase, CodeSource]]:
    organizer = _pick_per_provider(_organizer_rows(event.organizer_id, event.client_id, event.pk))
    own = [(row, CodeSource.MARKETPLACE) for row in _marketplace_rows(event.client_id)]
    return organizer + own


def _rows_for_organizer(
    organizer: MarketplaceOrganizer,
) -> list[tuple[TrackingCodeBase, CodeSource]]:
    defaults = _pick_per_provider(_organizer_rows(organizer.pk, organizer.client_id, None))
    own = [(row, CodeSource.MARKETPLACE) for row in _marketplace_rows(organizer.client_id)]
    return defaults + own


# --- mapping rows to values ---


def _to_resolved(row: TrackingCodeBase, source: CodeSource) -> ResolvedCode:
    settings = row.settings or {}
    return ResolvedCode(
        provider=row.provider,
        source=source.value,
        code_id=row.pk,
        tag_id=row.tag_id,
        conversion_events=tuple(settings.get("conversion_events", ())),
        advanced_matching=bool(settings.get("advanced_matching", False)),
        custom_params=dict(settings.get("custom_params", {})),
        conversion_labels=dict(settings.get("conversion_labels", {})),
    )


def _server_side_events(spec: ProviderSpec, settings: dict[str, Any]) -> tuple[str, ...]:
    events = tuple(settings.get("conversion_events", ()))
    if spec.server_side_events_setting is None:
        return events
    configured = settings.get(spec.server_side_events_setting) or {}
    return tuple(event for event in events if event in configured)


def _to_server_side(row: TrackingCodeBase, source: CodeSource) -> ServerSideCode | None:
    spec = get_spec(row.provider)
    if spec.secret is None:
        return None
    encrypted = getattr(row, f"{spec.secret}_encrypted")
    settings = row.settings or {}
    if not server_side_ready(spec, settings, bool(encrypted)):
        return None
    public = {key: value for key, value in settings.items() if key != spec.id_field}
    return ServerSideCode(
        provider=row.provider,
        source=source.value,
        code_id=row.pk,
        tag_id=row.tag_id,
        conversion_events=_server_side_events(spec, settings),
        settings=public,
        encrypted_credential=encrypted,
    )


# --- public API ---


def resolve_for_event(event: MarketplaceEvent) -> list[ResolvedCode]:
    """The codes an event page carries: organizer's (event, else default) then the
    marketplace's, in provider order."""
    return cached_for_client(
        event.client_id,
        f"resolve:event:{event.pk}",
        lambda: [_to_resolved(row, source) for row, source in _rows_for_event(event)],
    )


def resolve_for_organizer(organizer: MarketplaceOrganizer) -> list[ResolvedCode]:
    """The codes an organizer's profile page carries: its defaults plus the marketplace's."""
    return cached_for_client(
        organizer.client_id,
        f"resolve:organizer:{organizer.pk}",
        lambda: [_to_resolved(row, source) for row, source in _rows_for_organizer(organizer)],
    )


def _server_side(rows: list[tuple[TrackingCodeBase, CodeSource]]) -> list[ServerSideCode]:
    found = (_to_server_side(row, source) for row, source in rows)
    return [code for code in found if code is not None]


def resolve_for_marketplace(client_id: int) -> list[ResolvedCode]:
    """The codes of a page of no event and no organizer (home, search): the marketplace's."""
    return cached_for_client(
        client_id,
        "resolve:marketplace",
        lambda: [_to_resolved(row, CodeSource.MARKETPLACE) for row in _marketplace_rows(client_id)],
    )


def server_side_codes(event: MarketplaceEvent) -> list[ServerSideCode]:
    """The resolved codes of an event (organizer's and marketplace's) that have the
    credentials to send conversions server-side."""
    return cached_for_client(
        event.client_id, f"server:event:{event.pk}", lambda: _server_side(_rows_for_event(event))
    )


def organizer_server_side_codes(organizer: MarketplaceOrganizer) -> list[ServerSideCode]:
    """The server-side destinations of an organizer's profile page: its defaults and
    the marketplace's codes."""
    return cached_for_client(
        organizer.client_id,
        f"server:organizer:{organizer.pk}",
        lambda: _server_side(_rows_for_organizer(organizer)),
    )


def marketplace_server_side_codes(client_id: int) -> list[ServerSideCode]:
    """The marketplace's own server-side codes: the destinations of events on pages of
    no event and no organizer (home, search), which carry only the marketplace's codes."""
    return cached_for_client(
        client_id,
        "server:marketplace",
        lambda: _server_side(
            [(row, CodeSource.MARKETPLACE) for row in _marketplace_rows(client_id)]
        ),
    )
