"""Creating, changing and deleting tracking codes: the one path the API, the admin and
the organizer panel all take, so validation and uniqueness behave the same everywhere.

Input settings may carry credentials (`access_token`, `api_secret`); they are split off,
encrypted into their own columns and never stored in `settings`. A credential left out
keeps the stored one; `null` or "" removes it. Log lines name codes by id only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from usher.lib.errors import Conflict, InvalidInput
from usher.lib.tenancy import get_for_organizer_or_404
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.models import SECRET_NAMES, EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.providers import CleanSettings, clean_settings, get_spec

logger = logging.getLogger(__name__)


@dataclass
class CodeInput:
    """What a caller wants a code to be (a full replacement, except for credentials)."""

    provider: str
    settings: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    event_id: int | None = None  # organizer codes only; None = the organizer's default
    name: str = ""  # marketplace codes only


@dataclass(frozen=True)
class CleanCode:
    provider: str
    enabled: bool
    event: MarketplaceEvent | None
    clean: CleanSettings


def _event_of(organizer: MarketplaceOrganizer, event_id: int | None) -> MarketplaceEvent | None:
    """The organizer's own event; another tenant's id is a 404 like any unknown id."""
    if event_id is None:
        return None
    return get_for_organizer_or_404(MarketplaceEvent, organizer, pk=event_id)


def _existing_duplicate(
    organizer: MarketplaceOrganizer, provider: str, event_id: int | None, exclude_pk: int | None
) -> int | None:
    # `event_id=None` is `IS NULL`: the same two scopes as the partial unique indexes.
    rows = EventTrackingCode.objects.for_organizer(organizer).filter(
        provider=provider, event_id=event_id
    )
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.values_list("pk", flat=True).first()


def _duplicate_conflict(provider: str, event_id: int | None, existing_id: int) -> Conflict:
    scope = "this event" if event_id is not None else "the organizer's default"
    label = get_spec(provider).provider.label
    return Conflict(f"A {label} code already exists for {scope}.", existing_id)


def clean_code_input(
    organizer: MarketplaceOrganizer, data: CodeInput, instance: EventTrackingCode | None = None
) -> CleanCode:
    """Validate without writing (forms call it to show errors beside the fields).

    Raises InvalidInput (bad settings), Http404 (an event that is not the organizer's)
    and Conflict (the organizer already has that code)."""
    clean = clean_settings(data.provider, data.settings)
    if get_spec(data.provider).tag_manager and not organizer.client.allow_organizer_tag_managers:
        raise InvalidInput(
            ["body", "provider"], "this marketplace does not allow organizers' tag managers."
        )
    event = _event_of(organizer, data.event_id)
    existing = _existing_duplicate(
        organizer, data.provider, event.pk if event else None, instance.pk if instance else None
    )
    if existing is not None:
        raise _duplicate_conflict(data.provider, data.event_id, existing)
    return CleanCode(provider=data.provider, enabled=data.enabled, event=event, clean=clean)


def _apply(
    code: EventTrackingCode | MarketplaceTrackingCode, provider: str, clean: CleanSettings
) -> None:
    if code.pk is not None and code.provider != provider:
        # A credential belongs to one provider's account; never carry it to another.
        for name in SECRET_NAMES:
            code.set_secret(name, None)
    code.provider = provider
    code.settings = clean.settings
    for name, value in clean.secrets.items():
        code.set_secret(name, value)


def save_code(
    code: EventTrackingCode, organizer: MarketplaceOrganizer, data: CodeInput
) -> EventTrackingCode:
    """Validate `data` and write it onto `code` (new or existing) of `organizer`."""
    checked = clean_code_input(organizer, data, code if code.pk else None)
    created = code.pk is None
    code.client_id = organizer.client_id
    code.organizer = organizer
    code.event = checked.event
    code.enabled = checked.enabled
    _apply(code, checked.provider, checked.clean)
    try:
        with transaction.atomic():
            code.save()
    except IntegrityError:
        # A concurrent writer won the race; the partial unique index kept the data right.
        existing = _existing_duplicate(organizer, code.provider, code.event_id, code.pk)
        if existing is None:
            raise
        if created:
            code.pk = None
        raise _duplicate_conflict(code.provider, code.event_id, existing) from None
    logger.info(
        "tracking code %s: id=%s organizer=%s provider=%s event=%s enabled=%s",
        "created" if created else "updated",
        code.pk,
        organizer.pk,
        code.provider,
        code.event_id,
        code.enabled,
    )
    return code


def create_code(organizer: MarketplaceOrganizer, data: CodeInput) -> EventTrackingCode:
    return save_code(EventTrackingCode(), organizer, data)


def update_code(code: EventTrackingCode, data: CodeInput) -> EventTrackingCode:
    return save_code(code, code.organizer, data)


# Fields a PATCH may leave out but not set to null (an event of null is the default).
NOT_NULLABLE_FIELDS = ("provider", "enabled", "settings")


def patched_input(code: EventTrackingCode, changes: Mapping[str, Any]) -> CodeInput:
    """A partial update's changes over the code as it stands, for `update_code` to check
    like a replacement. Fields left out keep their values; settings merge key by key,
    and a key set to null goes back to its default (a credential set to null is removed)."""
    for name in NOT_NULLABLE_FIELDS:
        if name in changes and changes[name] is None:
            raise InvalidInput(["body", name], "may be left out, but not null.")
    settings = dict(code.settings)
    for key, value in changes.get("settings", {}).items():
        if value is None and key not in SECRET_NAMES:
            settings.pop(key, None)
        else:
            settings[key] = value
    return CodeInput(
        provider=changes.get("provider", code.provider),
        settings=settings,
        enabled=changes.get("enabled", code.enabled),
        event_id=changes.get("event", code.event_id),
    )


def delete_code(code: EventTrackingCode) -> None:
    code_id, organizer_id = code.pk, code.organizer_id
    code.delete()
    logger.info("tracking code deleted: id=%s organizer=%s", code_id, organizer_id)


# --- the marketplace's own codes (staff only) ---


def save_marketplace_code(
    code: MarketplaceTrackingCode, client: MarketplaceClient, data: CodeInput
) -> MarketplaceTrackingCode:
    clean = clean_settings(data.provider, data.settings)
    created = code.pk is None
    code.client = client
    code.enabled = data.enabled
    code.name = data.name
    _apply(code, data.provider, clean)
    code.save()
    logger.info(
        "marketplace tracking code %s: id=%s client=%s provider=%s enabled=%s",
        "created" if created else "updated",
        code.pk,
        client.pk,
        code.provider,
        code.enabled,
    )
    return code


def create_marketplace_code(client: MarketplaceClient, data: CodeInput) -> MarketplaceTrackingCode:
    return save_marketplace_code(MarketplaceTrackingCode(), client, data)


def delete_marketplace_code(code: MarketplaceTrackingCode) -> None:
    code_id, client_id = code.pk, code.client_id
    code.delete()
    logger.info("marketplace tracking code deleted: id=%s client=%s", code_id, client_id)
