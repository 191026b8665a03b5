"""A schema fuzzer (schemathesis) over the whole API: whatever it sends, valid or not,
every answer is one the OpenAPI schema declares for that operation, in the declared
shape, and never a 5xx.

Bounded to stay under a minute: 25 generated examples per operation (positive and
negative), derandomized so a failure reproduces. Schemathesis's coverage phase (every
boundary case of every parameter, some 2,000 requests) is left to manual runs: drop
`phases=` below to include it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import EventFactory
from usher.tracking.tests.factories import EventTrackingCodeFactory

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture
def credentials(marketplace, organizer, sandbox) -> Iterator[dict[str, str]]:
    """Real keys, so the fuzzer gets past authentication; the WSGI app runs in the test's
    transaction (Django closes connections after each request: not inside a test)."""
    EventFactory(organizer=organizer, client=marketplace, slug="summer-fest")
    EventTrackingCodeFactory(organizer=organizer)
    _, token = OrganizerApiToken.issue(organizer)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"ingest": marketplace.api_key, "organizer": token, "site": marketplace.site_key}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _authorize(case, keys: dict[str, str]) -> dict[str, str]:
    """The bearer key an operation wants; the public ones get the site key half the time
    (the fuzzer's own site keys exercise the 401s)."""
    path = case.path
    if path.startswith("/api/ingest/"):
        return {"Authorization": f"Bearer {keys['ingest']}"}
    if path.startswith("/api/marketplace-client/organizer"):
        return {"Authorization": f"Bearer {keys['organizer']}"}
    if isinstance(case.query, dict) and len(str(case.query.get("site_key", ""))) % 2 == 0:
        case.query["site_key"] = keys["site"]
    return {}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_every_answer_is_declared_and_none_is_a_server_error(case, credentials):
    case.call_and_validate(headers=_authorize(case, credentials), checks=CHECKS)
