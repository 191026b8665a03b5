"""One set of write-only credential fields and one secret-merge rule, for the organizer
panel and the staff admin alike."""

from __future__ import annotations

import pytest

from usher.dashboard.forms import TrackingCodeForm
from usher.tracking.admin import EventTrackingCodeForm, MarketplaceTrackingCodeForm
from usher.tracking.forms import merge_secrets
from usher.tracking.models import SECRET_NAMES

STORED = {"pixel_id": "123456789012345", "access_token": "old", "api_secret": "kept"}


def test_a_typed_secret_replaces_the_stored_one_and_an_empty_field_keeps_it():
    merged = merge_secrets(STORED, {"access_token": "new", "api_secret": ""})
    assert merged == {**STORED, "access_token": "new"}
    assert STORED["access_token"] == "old"  # the stored settings are not changed in place


def test_removing_a_secret_wins_over_a_value_typed_beside_it():
    merged = merge_secrets(STORED, {"access_token": "new", "clear_access_token": True})
    assert merged["access_token"] is None and merged["api_secret"] == "kept"


def test_every_secret_is_merged():
    typed = {name: f"typed-{name}" for name in SECRET_NAMES}
    assert {name: merge_secrets({}, typed)[name] for name in SECRET_NAMES} == typed


@pytest.mark.parametrize("form", [EventTrackingCodeForm, MarketplaceTrackingCodeForm])
def test_the_admin_and_the_panel_show_the_same_credential_fields(form):
    names = [n for name in SECRET_NAMES for n in (name, f"clear_{name}")]
    panel = TrackingCodeForm.base_fields
    for name in names:
        field = form.base_fields[name]
        assert (field.label, field.help_text) == (panel[name].label, panel[name].help_text)
    for name in SECRET_NAMES:
        assert form.base_fields[name].widget.render_value is False
