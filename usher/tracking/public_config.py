"""The tracking-config document tracker.js fetches for a page, with its ETag.

The document (and its hash) is built once per client version and reused from the cache
until something it depends on changes. Each web process also remembers, per site key and
page, the client and document it served (`serve`): a busy event page then costs one
cache read (the client's version) per request, for a 200 and a 304 alike, and an edit
still shows on the next page load because it moves the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404

from usher.lib.client_cache import cached_for_client, current_version, recall, remember
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer
from usher.marketplace.services import client_by_site_key
from usher.tracking.resolver import (
    resolve_for_event,
    resolve_for_marketplace,
    resolve_for_organizer,
)

# Opt-in (GDPR): nothing reaches a platform before the visitor consents. The client's
# own policy would be read here once clients can choose another mode.
DEFAULT_CONSENT_MODE = "opt_in"
# Where tracker.js posts its events (the collector of the conversions issue).
COLLECTOR_URL = "/api/collect"


@dataclass(frozen=True)
class ConfigDocument:
    body: bytes
    etag: str  # a strong validator, quoted as the header wants it


def _document(payload: dict[str, Any]) -> ConfigDocument:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return ConfigDocument(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _common(codes: list) -> dict[str, Any]:
    return {
        "codes": [code.to_public_dict() for code in codes],
        "consent": {"mode": DEFAULT_CONSENT_MODE},
        "collector_url": COLLECTOR_URL,
    }


def event_config(client: MarketplaceClient, slug: str) -> ConfigDocument:
    """The config of the client's event `slug`; Http404 when it has none by that slug."""

    def build() -> ConfigDocument:
        event = MarketplaceEvent.objects.filter(client_id=client.pk, slug=slug).first()
        if event is None:
            raise Http404("event not found")
        event_part = {
            "slug": event.slug,
            "content_id": event_content_id(event),
            "name": event.name,
            "currency": event.currency,
            "external_id": event.external_id,
        }
        return _document({"event": event_part, **_common(resolve_for_event(event))})

    return cached_for_client(client.pk, f"config:event:{slug}", build)


def organizer_config(client: MarketplaceClient, external_id: str) -> ConfigDocument:
    """The config of an organizer's profile page: its defaults plus the marketplace's."""

    def build() -> ConfigDocument:
        organizer = MarketplaceOrganizer.objects.filter(
            client_id=client.pk, external_id=external_id
        ).first()
        if organizer is None:
            raise Http404("organizer not found")
        organizer_part = {"external_id": organizer.external_id, "name": organizer.name}
        return _document({"organizer": organizer_part, **_common(resolve_for_organizer(organizer))})

    return cached_for_client(client.pk, f"config:organizer:{external_id}", build)


def marketplace_config(client: MarketplaceClient) -> ConfigDocument:
    """The config of the marketplace's other pages (home, search): its own codes only."""
    return cached_for_client(
        client.pk,
        "config:marketplace",
        lambda: _document(
            {"marketplace": {"name": client.name}, **_common(resolve_for_marketplace(client.pk))}
        ),
    )


@dataclass(frozen=True)
class Served:
    """The active client a site key names, and its page's document (None: no such page)."""

    client: MarketplaceClient
    document: ConfigDocument | None


def serve(
    site_key: str, page: str, build: Callable[[MarketplaceClient], ConfigDocument]
) -> Served | None:
    """The client of `site_key` and its document for `page` (a name unique per kind of
    page and its id, e.g. "event:rock-fest"); None when no active client has that key.

    Reuses what this process served last while the client's version has not moved (one
    cache read); otherwise reads the version first, then the client and the document, so
    a change committed in between leaves a newer version and is never reused as current.
    """
    remembered = recall((site_key, page))
    if remembered is not None:
        return remembered
    client = client_by_site_key(site_key)
    if client is None:
        return None
    version = current_version(client.pk)
    if version is not None:
        client = client_by_site_key(site_key)  # as of that version
        if client is None:
            return None
    try:
        served = Served(client, build(client))
    except Http404:
        return Served(client, None)  # not remembered: unknown pages cannot crowd out real ones
    if version is not None:
        remember((site_key, page), client.pk, version, served)
    return served


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of If-None-Match against our ETag."""
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
