"""Re-encrypt every stored secret under the newest key of USHER_ENCRYPTION_KEYS.

Rotation: put the new key first in USHER_ENCRYPTION_KEYS (keep the old one after it),
deploy, run this command, then drop the old key. Any model declaring
`ENCRYPTED_FIELDS` (column names holding Fernet tokens) takes part, so other apps'
credentials rotate with the same command.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction

from usher.lib.client_cache import invalidate_client
from usher.lib.crypto import rotate_secret

ROTATION_BATCH_ROWS = 500


def _rotate_model(model: type[models.Model], fields: tuple[str, ...]) -> int:
    """Rotate one model's encrypted columns; returns the number of rows rewritten."""
    has_values = models.Q()
    for name in fields:
        has_values |= ~models.Q(**{name: ""})
    rewritten = 0
    with transaction.atomic():
        rows = model._default_manager.select_for_update().filter(has_values).order_by("pk")
        batch: list[models.Model] = []
        for row in rows.iterator(chunk_size=ROTATION_BATCH_ROWS):
            for name in fields:
                if getattr(row, name):
                    setattr(row, name, rotate_secret(getattr(row, name)))
            batch.append(row)
            if len(batch) >= ROTATION_BATCH_ROWS:
                model._default_manager.bulk_update(batch, fields)
                rewritten += len(batch)
                batch = []
        if batch:
            model._default_manager.bulk_update(batch, fields)
            rewritten += len(batch)
    return rewritten


class Command(BaseCommand):
    help = "Re-encrypt stored platform credentials under the newest encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = tuple(getattr(model, "ENCRYPTED_FIELDS", ()))
            if not fields:
                continue
            count = _rotate_model(model, fields)
            total += count
            self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted")
        # Cached server-side codes hold the old ciphertext: orphan them all.
        client_model = apps.get_model("marketplace", "MarketplaceClient")
        for client_id in client_model.objects.values_list("pk", flat=True):
            invalidate_client(client_id)
        self.stdout.write(self.style.SUCCESS(f"Rotated {total} row(s)."))
