"""The dashboards' tests drive staff decisions against the campaigns' in-memory fake
platform, with the campaigns app's own fixtures (a paid budget on a marketplace
account)."""

from usher.campaigns.tests.conftest import (  # noqa: F401  (pytest fixtures)
    event,
    meta_account,
    paid_budget,
    platform,
)
