"""What every conversions connector must do, tested once over all of them.

Each case (see helpers.py and `<platform>/tests/builders.py`) runs against the sandbox;
what only one platform does stays in that platform's test_conversions.py.
"""

from __future__ import annotations

import json
import logging
from importlib import import_module

import pytest

from usher.platforms.base import ConversionsConnector, ErrorKind, OutcomeStatus, PlatformError
from usher.platforms.ga4.tests.builders import CASE as GA4
from usher.platforms.google_ads.tests.builders import CASE as GOOGLE_ADS
from usher.platforms.meta.tests.builders import CASE as META
from usher.platforms.registry import get_connector
from usher.platforms.tests.helpers import PLACEHOLDER_PHONE, USER, ConnectorCase, sent_body
from usher.platforms.tiktok.tests.builders import CASE as TIKTOK
from usher.sandbox.testing import MountedSandbox as Sandbox

CASES = [META, TIKTOK, GA4, GOOGLE_ADS]
FAULTS = [("5xx", ErrorKind.TRANSIENT), ("429", ErrorKind.RATE_LIMITED)]


def cases(*, having: str | None = None) -> list[ConnectorCase]:
    """The cases to which a test applies: those where the field `having` is set."""
    return [case for case in CASES if having is None or getattr(case, having)]


def by_platform(case: ConnectorCase) -> str:
    return case.platform


@pytest.mark.parametrize("case", cases(), ids=by_platform)
def test_the_registry_builds_the_platform_connector(case: ConnectorCase) -> None:
    connector = get_connector(case.platform)

    assert type(connector) is case.connector
    assert isinstance(connector, ConversionsConnector)
    assert connector.max_batch_size == case.default_batch_size


@pytest.mark.parametrize("case", cases(), ids=by_platform)
def test_a_destination_without_a_credential_fails_before_any_call(
    sandbox: Sandbox, case: ConnectorCase
) -> None:
    with pytest.raises(PlatformError) as caught:
        case.connector().send_conversions(case.without_credential, [case.purchase()])

    assert caught.value.kind is ErrorKind.AUTH and sandbox.requests() == []


@pytest.mark.parametrize("case", cases(), ids=by_platform)
def test_an_empty_batch_makes_no_call(sandbox: Sandbox, case: ConnectorCase) -> None:
    result = case.connector().send_conversions(case.destination(), [])

    assert result.outcomes == [] and result.request is None and sandbox.requests() == []


@pytest.mark.parametrize("case", cases(having="revoked"), ids=by_platform)
def test_an_invalid_token_raises_a_permanent_auth_error(
    sandbox: Sandbox, case: ConnectorCase
) -> None:
    case.prepare(sandbox)

    with pytest.raises(PlatformError) as caught:
        case.connector().send_conversions(case.revoked, [case.purchase()])

    assert caught.value.kind is ErrorKind.AUTH and caught.value.permanent
    assert caught.value.platform_code == case.auth_error_code


@pytest.mark.parametrize(("mode", "kind"), FAULTS)
@pytest.mark.parametrize("case", cases(), ids=by_platform)
def test_injected_outages_and_throttling_raise_retryable_errors(
    sandbox: Sandbox, case: ConnectorCase, mode: str, kind: ErrorKind
) -> None:
    case.prepare(sandbox)
    sandbox.fault(platform=case.platform, mode=mode)

    with pytest.raises(PlatformError) as caught:
        case.connector().send_conversions(case.destination(), [case.purchase()])

    assert caught.value.kind is kind and not caught.value.permanent
    assert sandbox.events(platform=case.platform)["received"] == 0


@pytest.mark.parametrize("mode", [mode for mode, _ in FAULTS])
@pytest.mark.parametrize("case", cases(), ids=by_platform)
def test_secrets_never_reach_the_request_log_records_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, case: ConnectorCase, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    case.prepare(sandbox)
    connector = case.connector()
    result = connector.send_conversions(case.destination(), [case.purchase()])
    sandbox.fault(platform=case.platform, mode=mode)
    with pytest.raises(PlatformError) as caught:
        connector.send_conversions(case.destination(), [case.purchase(order_id="o9")])

    stored = repr([result.request, result.response, caught.value.request, caught.value.response])
    for secret in case.secrets:
        assert secret not in stored
        assert secret not in json.dumps(sandbox.requests())
        assert secret not in caplog.text
    assert result.request is not None and case.masked(result.request)


@pytest.mark.parametrize("case", cases(having="max_events_per_request"), ids=by_platform)
def test_a_full_batch_goes_in_one_request_and_one_more_is_refused(
    sandbox: Sandbox, case: ConnectorCase
) -> None:
    case.prepare(sandbox)
    limit = case.max_events_per_request
    assert limit is not None and case.bulk_event is not None
    connector = case.connector(max_batch_size=limit)
    events = [case.bulk_event(i) for i in range(limit + 1)]

    with pytest.raises(ValueError, match=f"at most {limit}"):
        connector.send_conversions(case.destination(), events)
    assert sandbox.requests() == []
    result = connector.send_conversions(case.destination(), events[:limit])

    assert len(result.with_status(OutcomeStatus.DELIVERED)) == limit
    assert len(sandbox.requests(platform=case.platform)) == 1  # (its body is too big to log)
    assert sandbox.events(platform=case.platform)["received"] == limit


@pytest.mark.parametrize("case", cases(having="matching"), ids=by_platform)
def test_a_placeholder_phone_is_dropped_without_failing_the_batch(
    sandbox: Sandbox, case: ConnectorCase
) -> None:
    matching = case.matching
    assert matching is not None
    events = [
        case.purchase(user_data=USER | {"phone": PLACEHOLDER_PHONE}),
        case.purchase(event_id="o2:p"),
    ]

    result = case.connector().send_conversions(case.destination(), events)

    assert [o.status for o in result.outcomes] == [OutcomeStatus.DELIVERED] * 2
    first, second = (
        entry[matching.user_field] for entry in sent_body(sandbox, case.platform)["data"]
    )
    assert matching.phone_key not in first and first[matching.email_key]
    assert second[matching.phone_key] == [matching.hashed_phone]


@pytest.mark.parametrize("case", cases(having="sends_test_event_code"), ids=by_platform)
def test_the_test_event_code_is_sent_when_the_destination_has_one(
    sandbox: Sandbox, case: ConnectorCase
) -> None:
    case.connector().send_conversions(
        case.destination(test_event_code="TEST4711"), [case.purchase()]
    )

    assert sent_body(sandbox, case.platform)["test_event_code"] == "TEST4711"
    assert sandbox.events(platform=case.platform)["events"][0]["test"] is True


@pytest.mark.parametrize("platform", ["meta", "tiktok", "ga4"])
def test_the_pixel_fires_the_event_names_the_server_sends_so_copies_deduplicate(
    platform: str,
) -> None:
    snippet = import_module(f"usher.platforms.{platform}.snippet")
    payloads = import_module(f"usher.platforms.{platform}.payloads")

    assert snippet.EVENT_NAMES == payloads.EVENT_NAMES
