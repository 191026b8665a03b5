"""Orphan a client's cached answers (`usher.lib.client_cache`) whenever the client, one
of its events or organizers changes: tracking-config documents and the collector's
site-key and page lookups are built from them.

Connected in `MarketplaceConfig.ready`. Bulk `QuerySet.update()` bypasses signals: code
that updates these models in bulk must call `invalidate_client` itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from usher.lib.client_cache import invalidate_client
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer

SIGNALS = (("post_save", post_save), ("post_delete", post_delete))


def _on_client_owned_change(sender: type, instance: Any, **kwargs: Any) -> None:
    invalidate_client(instance.client_id)


def _on_client_change(sender: type, instance: MarketplaceClient, **kwargs: Any) -> None:
    # Activation, allowed origins and the site key shape every public answer.
    invalidate_client(instance.pk)


def connect() -> None:
    for name, signal in SIGNALS:
        for model in (
            MarketplaceEvent,  # its organizer, slug, name or currency may change
            MarketplaceOrganizer,  # suspension hides its codes
        ):
            signal.connect(
                _on_client_owned_change,
                sender=model,
                dispatch_uid=f"marketplace-invalidate-{model.__name__}-{name}",
            )
        signal.connect(
            _on_client_change, sender=MarketplaceClient, dispatch_uid=f"marketplace-client-{name}"
        )
