"""Tenant isolation built into the query layer.

Every model that belongs to an organizer uses `TenantQuerySet` (through
`TenantManager`) and names the path to its organizer and client. Organizer endpoints
start from `Model.objects.for_organizer(organizer)` and fetch single rows with
`get_for_organizer_or_404`, so another tenant's id is simply not found (404), never
forbidden with details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer

ModelT = TypeVar("ModelT", bound=models.Model)


class TenantQuerySet(models.QuerySet):
    """Scopes rows to one organizer (and its client) or to one marketplace client."""

    def _paths(self) -> tuple[str | None, str]:
        organizer_path = getattr(self.model, "TENANT_ORGANIZER_PATH", "organizer")
        client_path = getattr(self.model, "TENANT_CLIENT_PATH", "client")
        return organizer_path, client_path

    def for_organizer(self, organizer: MarketplaceOrganizer) -> TenantQuerySet:
        organizer_path, client_path = self._paths()
        if organizer_path is None:
            return self.none()
        return self.filter(
            **{f"{organizer_path}_id": organizer.pk, f"{client_path}_id": organizer.client_id}
        )

    def for_client(self, client: MarketplaceClient) -> TenantQuerySet:
        _, client_path = self._paths()
        return self.filter(**{f"{client_path}_id": client.pk})


TenantManager = models.Manager.from_queryset(TenantQuerySet)


def get_for_organizer_or_404(
    model: type[ModelT], organizer: MarketplaceOrganizer, **lookups: Any
) -> ModelT:
    """One row of `model` owned by `organizer`; any other tenant's row is a plain 404."""
    try:
        return model.objects.for_organizer(organizer).get(**lookups)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(f"{model._meta.verbose_name} not found") from exc
