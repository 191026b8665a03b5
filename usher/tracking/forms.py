"""The write-only credential fields of a tracking code, for every form that edits one
(the organizer panel and the staff admin): one set of fields, labels and help texts, and
one rule for laying what was typed over the stored secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from usher.tracking.models import SECRET_NAMES

WRITE_ONLY_HELP = "Write-only: it is never shown again. Leave empty to keep the current one."


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=True,
        label=label,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"{help_text} {WRITE_ONLY_HELP}",
    )


class CredentialFields(forms.Form):
    """Mix into a form: a password input per secret (never rendered back) and a box that
    removes the stored one."""

    access_token = _secret_field(
        "Access token (Meta, TikTok)", "For sending conversions server-side."
    )
    clear_access_token = forms.BooleanField(required=False, label="Remove the stored token")
    api_secret = _secret_field("API secret (GA4)", "GA4 Measurement Protocol API secret.")
    clear_api_secret = forms.BooleanField(required=False, label="Remove the stored secret")
    refresh_token = _secret_field(
        "OAuth refresh token (Google Ads)",
        "From connecting the Google Ads account to the marketplace's app, for sending "
        "conversions server-side (access tokens expire within an hour).",
    )
    clear_refresh_token = forms.BooleanField(
        required=False, label="Remove the stored refresh token"
    )


def merge_secrets(settings: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` with the form's secrets laid over: a ticked "remove" clears (None), a
    typed value replaces, an empty field keeps what is stored."""
    merged = dict(settings)
    for name in SECRET_NAMES:
        if data.get(f"clear_{name}"):
            merged[name] = None
        elif data.get(name):
            merged[name] = data[name]
    return merged
