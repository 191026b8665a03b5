"""The outbound HTTP chokepoint: failure mapping, Retry-After, timeouts, secret masking."""

from __future__ import annotations

import json
import logging
import pickle
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from usher.lib import http
from usher.lib.http import (
    MAX_RECORDED_BODY_CHARS,
    PlatformHttpClient,
    get_client,
    reset_clients,
    set_transport_for_tests,
)
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    ErrorKind,
    OutcomeStatus,
    PlatformError,
)

TOKEN = "EAABsbCS1iHgBAZBtoken123"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    reset_clients()
    yield
    reset_clients()


@pytest.fixture
def caplog_http(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="usher.http")
    return caplog


def make_client(handler: Handler, *, platform: str = "test", **kwargs: Any) -> PlatformHttpClient:
    return PlatformHttpClient(
        platform,
        "https://api.example.test/v1",
        timeout_seconds=5,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def failing(exc_type: type[httpx.RequestError], message: str = "boom") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


def raised(client: PlatformHttpClient, method: str = "POST", path: str = "/x", **kw: Any):
    with pytest.raises(PlatformError) as info:
        client.request(method, path, **kw)
    return info.value


# --- Success ---


def test_it_returns_the_answer_with_a_masked_request_record() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"events_received": 1})

    client = make_client(handler)

    response = client.request(
        "POST", "/123/events", params={"access_token": TOKEN}, json={"data": [{"a": 1}]}
    )

    assert response.status_code == 200
    assert response.json == {"events_received": 1}
    assert response.elapsed_ms >= 0
    assert seen[0].url.params["access_token"] == TOKEN  # the platform gets the real token
    assert seen[0].url.path == "/v1/123/events"
    assert response.request.url == "https://api.example.test/v1/123/events?access_token=***"
    # The record is the body as sent (encoded once), secrets masked.
    assert response.request.body == seen[0].content.decode() == '{"data":[{"a":1}]}'


def test_it_returns_none_json_for_a_body_that_is_not_json() -> None:
    client = make_client(lambda request: httpx.Response(204))

    response = client.request("GET", "/ping")

    assert response.json is None
    assert response.text == ""


# --- Failure mapping ---


@pytest.mark.parametrize(
    ("status", "kind", "permanent"),
    [
        (400, ErrorKind.PERMANENT, True),
        (404, ErrorKind.PERMANENT, True),
        (422, ErrorKind.PERMANENT, True),
        (302, ErrorKind.PERMANENT, True),  # redirects are not followed: tokens stay home
        (401, ErrorKind.AUTH, True),
        (403, ErrorKind.AUTH, True),
        (429, ErrorKind.RATE_LIMITED, False),
        (408, ErrorKind.TRANSIENT, False),
        (500, ErrorKind.TRANSIENT, False),
        (502, ErrorKind.TRANSIENT, False),
        (503, ErrorKind.TRANSIENT, False),
        (504, ErrorKind.TRANSIENT, False),
        (501, ErrorKind.PERMANENT, True),
    ],
)
def test_it_maps_http_statuses_to_failure_kinds(
    status: int, kind: ErrorKind, permanent: bool
) -> None:
    error = raised(make_client(answer(status, {"error": "nope"})))

    assert error.kind == kind
    assert error.kind == str(kind)  # compares to the plain string too
    assert error.permanent is permanent
    assert error.status_code == status
    assert error.platform == "test"
    assert error.response is not None and error.response.status_code == status


@pytest.mark.parametrize(
    "exc_type",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.RemoteProtocolError,  # the server dropped the connection mid-answer
        httpx.ReadError,
    ],
)
def test_it_maps_network_failures_to_transient(exc_type: type[httpx.RequestError]) -> None:
    error = raised(make_client(failing(exc_type)))

    assert error.kind == ErrorKind.TRANSIENT
    assert error.permanent is False
    assert error.status_code is None
    assert error.response is None
    assert error.request is not None and error.request.method == "POST"
    assert exc_type.__name__ in error.message


def test_it_maps_an_unsupported_scheme_to_permanent() -> None:
    error = raised(make_client(failing(httpx.UnsupportedProtocol)))

    assert error.kind == ErrorKind.PERMANENT


def test_it_times_out_on_a_server_that_never_answers() -> None:
    # A real socket that accepts (via the backlog) and never replies.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        host, port = server.getsockname()
        client = PlatformHttpClient("test", f"http://{host}:{port}", timeout_seconds=0.2)

        error = raised(client, "GET", "/slow")

    assert error.kind == ErrorKind.TRANSIENT
    assert "Timeout" in error.message


@pytest.mark.parametrize("timeout", [0, -1])
def test_it_refuses_a_client_without_a_timeout(timeout: float) -> None:
    with pytest.raises(ValueError, match=r"^timeout_seconds must be positive: platform calls"):
        PlatformHttpClient("test", "https://api.example.test", timeout_seconds=timeout)


def test_it_honours_retry_after_in_seconds() -> None:
    error = raised(make_client(answer(429, {}, {"Retry-After": "7"})))

    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.retry_after_seconds == 7.0


def test_it_honours_retry_after_as_an_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)

    error = raised(make_client(answer(503, {}, {"Retry-After": later})))

    assert error.kind == ErrorKind.TRANSIENT
    assert error.retry_after_seconds is not None and 110 <= error.retry_after_seconds <= 120


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("soon", None), ("-5", 0.0), ("1.5", 1.5)],
)
def test_parse_retry_after_tolerates_odd_values(header: str | None, expected: float | None):
    assert http.parse_retry_after(header) == expected


def test_the_classify_hook_can_turn_a_200_into_an_error() -> None:
    def classify(response: httpx.Response) -> PlatformError | None:
        if response.json().get("code") == 7:
            return PlatformError("rate_limited", "slow down", platform_code="7")
        return None

    client = make_client(answer(200, {"code": 7}), classify=classify)

    error = raised(client)

    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.platform_code == "7"
    assert error.status_code == 200
    assert error.request is not None and error.response is not None


def test_the_status_decides_when_the_classify_hook_returns_none() -> None:
    client = make_client(answer(502, {"code": 0}), classify=lambda response: None)

    assert raised(client).kind == ErrorKind.TRANSIENT


def test_the_status_decides_when_the_classify_hook_breaks() -> None:
    def classify(response: httpx.Response) -> PlatformError | None:
        return response.json()["missing"]

    client = make_client(lambda request: httpx.Response(503, text="<html>"), classify=classify)

    assert raised(client).kind == ErrorKind.TRANSIENT


# --- Platform body codes, through the shared registry (errors.py classifiers) ---


def platform_error(platform: str, status: int, body: Any, headers: Any = None) -> PlatformError:
    set_transport_for_tests(platform, httpx.MockTransport(answer(status, body, headers)))
    return raised(get_client(platform))


@pytest.mark.parametrize(
    ("status", "error", "kind", "code"),
    [
        (400, {"code": 4, "message": "Application request limit reached"}, "rate_limited", "4"),
        (400, {"code": 17, "message": "User request limit reached"}, "rate_limited", "17"),
        (400, {"code": 32, "message": "Page request limit"}, "rate_limited", "32"),
        (400, {"code": 613, "error_subcode": 1487742}, "rate_limited", "613"),
        (400, {"code": 80004, "message": "ads_management BUC"}, "rate_limited", "80004"),
        (400, {"code": 190, "error_subcode": 463, "type": "OAuthException"}, "auth", "190"),
        (403, {"code": 200, "message": "Permissions error"}, "auth", "200"),
        (500, {"code": 2, "message": "Service temporarily unavailable"}, "transient", "2"),
        (400, {"code": 1, "is_transient": True}, "transient", "1"),
        (400, {"code": 100, "error_subcode": 2804003, "message": "Invalid"}, "permanent", "100"),
    ],
)
def test_it_classifies_meta_graph_error_codes(
    status: int, error: dict[str, Any], kind: str, code: str
) -> None:
    result = platform_error("meta", status, {"error": error})

    assert (result.kind, result.platform_code, result.platform) == (kind, code, "meta")


def test_it_names_metas_subcode_in_the_message() -> None:
    error = platform_error(
        "meta", 400, {"error": {"code": 100, "error_subcode": 2804003, "message": "Too old"}}
    )

    assert error.message == "Too old (subcode 2804003)"


def test_it_reads_metas_time_to_regain_access_in_minutes() -> None:
    usage = {"act_1": [{"type": "ads_management", "estimated_time_to_regain_access": 5}]}

    error = platform_error(
        "meta", 400, {"error": {"code": 80004}}, {"X-Business-Use-Case-Usage": json.dumps(usage)}
    )

    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.retry_after_seconds == 300


@pytest.mark.parametrize(
    ("code", "kind"),
    [(40100, "rate_limited"), (40104, "auth"), (40002, "permanent"), (50002, "transient")],
)
def test_it_classifies_tiktok_codes_inside_http_200(code: int, kind: str) -> None:
    error = platform_error("tiktok", 200, {"code": code, "message": "x", "request_id": "r"})

    assert (error.kind, error.platform_code, error.status_code) == (kind, str(code), 200)


@pytest.mark.parametrize("code", [0, 20001])
def test_it_accepts_tiktok_success_codes(code: int) -> None:
    set_transport_for_tests("tiktok", httpx.MockTransport(answer(200, {"code": code})))

    assert get_client("tiktok").request("POST", "/event/track/").json == {"code": code}


def google_error(http_code: int, status: str, error_code: dict[str, str], **extra: Any):
    failure = {
        "@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
        "errors": [{"errorCode": error_code, "message": "m"}],
    }
    details = [failure, *extra.get("details", [])]
    body = {"error": {"code": http_code, "message": "m", "status": status, "details": details}}
    return platform_error("google_ads", http_code, body)


def test_it_classifies_google_quota_errors_and_reads_retry_info() -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}

    error = google_error(
        429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_EXHAUSTED"}, details=[retry_info]
    )

    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.platform_code == "RESOURCE_EXHAUSTED"
    assert error.retry_after_seconds == 30.0


@pytest.mark.parametrize(
    ("http_code", "status", "error_code", "kind"),
    [
        (400, "INVALID_ARGUMENT", {"databaseError": "CONCURRENT_MODIFICATION"}, "transient"),
        (401, "UNAUTHENTICATED", {"authenticationError": "OAUTH_TOKEN_EXPIRED"}, "auth"),
        (403, "PERMISSION_DENIED", {"authorizationError": "USER_PERMISSION_DENIED"}, "auth"),
        (400, "INVALID_ARGUMENT", {"conversionUploadError": "TOO_RECENT_EVENT"}, "permanent"),
    ],
)
def test_it_classifies_google_ads_errors(
    http_code: int, status: str, error_code: dict[str, str], kind: str
) -> None:
    error = google_error(http_code, status, error_code)

    assert (error.kind, error.platform_code) == (kind, next(iter(error_code.values())))


# --- Secrets never reach logs or records ---


def test_it_masks_secrets_in_the_log_line_and_the_records(
    caplog_http: pytest.LogCaptureFixture,
) -> None:
    oauth, developer, explicit = "ya29.oauthtoken", "devtoken22chars", "s3cr3t-ga4-key"

    def handler(request: httpx.Request) -> httpx.Response:
        # A platform that echoes what it got back into its error body.
        echo = f"bad token {oauth} {developer} {TOKEN} {explicit}"
        return httpx.Response(400, json={"error": {"message": echo}}, headers={"X-Echo": oauth})

    client = make_client(handler)

    error = raised(
        client,
        params={"access_token": TOKEN, "api_secret": explicit, "page": "2"},
        headers={"Authorization": f"Bearer {oauth}", "developer-token": developer},
        json={"access_token": TOKEN, "data": [{"note": f"copied {explicit}"}]},
        secrets=[explicit],
    )

    stored = json.dumps(
        {
            "request": error.request.__dict__ if error.request else None,
            "response": error.response.__dict__ if error.response else None,
            "message": error.message,
            "str": str(error),
        }
    )
    for secret in (TOKEN, oauth, developer, explicit):
        assert secret not in caplog_http.text
        assert secret not in stored
    assert error.request is not None
    assert error.request.headers["authorization"] == "***"
    assert error.request.headers["developer-token"] == "***"
    assert "access_token=***" in error.request.url and "page=2" in error.request.url
    assert error.request.body is not None and '"access_token":"***"' in error.request.body
    assert "access_token=***" in caplog_http.text


def test_it_masks_form_bodies_and_tiktok_access_token_headers() -> None:
    client = make_client(answer(200, {"code": 0}))

    response = client.request(
        "POST",
        "/event/track/",
        data={"access_token": TOKEN, "data": "[]"},
        headers={"Access-Token": "tiktok-token-value"},
    )

    assert response.request.body == '{"access_token":"***","data":"[]"}'
    assert response.request.headers["access-token"] == "***"


def test_it_masks_url_encoded_secrets_in_the_path() -> None:
    app_token = "123|app-secret-part"  # Meta app tokens carry a "|"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    response = make_client(handler).request("GET", f"/debug/{app_token}", secrets=[app_token])

    assert "app-secret-part" not in response.request.url


# --- One structured log line per call ---


def test_it_logs_one_structured_line_per_call(caplog_http: pytest.LogCaptureFixture) -> None:
    client = make_client(answer(200, {}))

    client.request("GET", "/campaigns", params={"access_token": TOKEN, "limit": "5"})

    [record] = [r for r in caplog_http.records if r.name == "usher.http"]
    assert record.levelno == logging.INFO
    assert record.http_platform == "test"  # type: ignore[attr-defined]
    assert record.http_method == "GET"  # type: ignore[attr-defined]
    assert record.http_path == "/v1/campaigns?access_token=***&limit=5"  # type: ignore[attr-defined]
    assert record.http_status == 200  # type: ignore[attr-defined]
    assert record.http_outcome == "ok"  # type: ignore[attr-defined]
    assert record.http_elapsed_ms >= 0  # type: ignore[attr-defined]
    assert "outcome=ok" in record.getMessage()


def test_it_logs_failures_as_warnings_with_their_kind(
    caplog_http: pytest.LogCaptureFixture,
) -> None:
    raised(make_client(failing(httpx.ConnectError)))

    [record] = [r for r in caplog_http.records if r.name == "usher.http"]
    assert record.levelno == logging.WARNING
    assert "status=- " in record.getMessage()
    assert record.http_outcome == "transient"  # type: ignore[attr-defined]


# --- The per-platform registry ---


def test_get_client_builds_one_pooled_client_per_platform_from_settings(settings) -> None:
    settings.PLATFORM_BASE_URLS = {"meta": "http://sandbox.test/meta"}
    settings.PLATFORM_HTTP_TIMEOUT_SECONDS = 3.5
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={})

    set_transport_for_tests("meta", httpx.MockTransport(handler))
    client = get_client("meta")

    client.request("POST", "/v25.0/1/events")

    assert get_client("meta") is client
    assert urls == ["http://sandbox.test/meta/v25.0/1/events"]
    assert client._client.timeout == httpx.Timeout(3.5)


def test_set_transport_for_tests_replaces_an_already_built_client(settings) -> None:
    settings.PLATFORM_BASE_URLS = {"ga4": "http://sandbox.test/ga4"}
    set_transport_for_tests("ga4", httpx.MockTransport(answer(204)))
    first = get_client("ga4")

    set_transport_for_tests("ga4", httpx.MockTransport(answer(503)))

    assert get_client("ga4") is not first
    assert raised(get_client("ga4")).kind == ErrorKind.TRANSIENT


def test_get_client_rejects_a_platform_without_a_base_url(settings) -> None:
    settings.PLATFORM_BASE_URLS = {"meta": "http://sandbox.test/meta"}

    with pytest.raises(ValueError, match="linkedin"):
        get_client("linkedin")


def test_reset_clients_forgets_clients_and_test_transports(settings) -> None:
    settings.PLATFORM_BASE_URLS = {"meta": "http://sandbox.test/meta"}
    set_transport_for_tests("meta", httpx.MockTransport(answer(200, {})))
    first = get_client("meta")

    reset_clients()

    assert get_client("meta") is not first
    assert "meta" not in http._test_transports


# --- The error the chokepoint raises ---


def test_a_platform_error_survives_pickling_for_celery() -> None:
    error = raised(make_client(answer(429, {}, {"Retry-After": "3"})))

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.kind, copy.status_code, copy.retry_after_seconds) == ("rate_limited", 429, 3.0)
    assert copy.request == error.request and copy.response == error.response
    assert str(copy) == str(error)


def test_a_platform_error_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        PlatformError("flaky", "x")


@pytest.mark.parametrize(
    ("kind", "status"),
    [("transient", OutcomeStatus.RETRY), ("auth", OutcomeStatus.REJECTED)],
)
def test_a_failed_batch_marks_every_event_with_the_errors_fate(
    kind: str, status: OutcomeStatus
) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    events = [ConversionEvent(f"e{i}", "purchase", now) for i in range(2)]
    error = PlatformError(kind, "down", platform_code="2")

    result = BatchResult.for_error(events, error)

    assert [o.event_id for o in result.with_status(status)] == ["e0", "e1"]
    assert all(o.error_code == "2" and o.error_message == "down" for o in result.outcomes)


# --- What goes out, and what an error keeps (the mutation run's survivors) ---


def recording(status: int = 200) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(status, json={})

    return handler, seen


def test_it_sends_the_json_body_it_is_given() -> None:
    handler, seen = recording()

    make_client(handler).request("POST", "/events", json={"data": [{"a": 1}]})

    assert json.loads(seen[0].content) == {"data": [{"a": 1}]}


def test_it_sends_the_form_it_is_given() -> None:
    handler, seen = recording()

    make_client(handler).request("POST", "/event/track/", data={"pixel": "C1", "n": "2"})

    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen[0].content == b"pixel=C1&n=2"


def test_it_uploads_files_as_multipart_and_records_only_the_form() -> None:
    handler, seen = recording()

    response = make_client(handler).request(
        "POST",
        "/audiences/upload",
        data={"audience": "42"},
        files={"file": ("members.csv", b"h1,h2\nsecret-row", "text/csv")},
    )

    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b"secret-row" in seen[0].content and b'name="audience"' in seen[0].content
    assert response.request.body == '{"audience":"42"}'


@pytest.mark.parametrize(
    "where",
    [
        {"params": {"access_token": TOKEN}},
        {"json": {"access_token": TOKEN}},
        {"data": {"access_token": TOKEN}},
        {"headers": {"Access-Token": TOKEN}},
    ],
    ids=["query", "json", "form", "header"],
)
def test_a_secret_sent_under_a_secret_key_is_masked_wherever_the_platform_echoes_it(
    where: dict[str, Any], caplog_http: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"invalid token {TOKEN}", headers={"X-Echo": TOKEN})

    error = raised(make_client(handler), **where)

    assert error.response is not None
    assert error.message == "invalid token ***"
    assert error.response.body == "invalid token ***"
    assert error.response.headers["x-echo"] == "***"
    assert TOKEN not in caplog_http.text


def test_values_under_secret_keys_are_masked_whatever_their_length_or_shape() -> None:
    client = make_client(answer(200, {}))

    response = client.request(
        "POST", "/x", json={"api_secret": "abc", "client_secret": ["k1", "k2"], "n": 1}
    )

    assert json.loads(response.request.body or "") == {
        "api_secret": "***",
        "client_secret": "***",
        "n": 1,
    }


@pytest.mark.parametrize("key", ["Access-Token", " client_secret ", "REFRESH-TOKEN", "Secret"])
def test_a_secret_key_in_any_case_or_spelling_deep_in_a_body_is_masked(key: str) -> None:
    body = {"data": [{"event_name": "Purchase", "auth": {key: "deep-secret-value"}}]}

    response = make_client(answer(200, {})).request("POST", "/x", json=body)

    assert "deep-secret-value" not in (response.request.body or "")
    assert json.loads(response.request.body or "")["data"][0]["auth"] == {key: "***"}


def test_a_large_body_without_secret_keys_still_has_listed_secrets_masked() -> None:
    events = [{"event_name": "Purchase", "note": f"row {n}"} for n in range(2000)]
    events[1000]["note"] = "echoes listed-secret-value"  # inside the recorded head

    response = make_client(answer(200, {})).request(
        "POST", "/x", json={"data": events}, secrets=["listed-secret-value"]
    )

    body = response.request.body or ""
    assert len(body) == MAX_RECORDED_BODY_CHARS
    assert "listed-secret-value" not in body and '"note":"echoes ***"' in body


def test_a_network_failure_names_the_platform_the_error_and_its_text() -> None:
    error = raised(make_client(failing(httpx.ConnectError, "connection refused")))

    assert error.platform == "test"
    assert error.message == "ConnectError: connection refused"


def test_a_network_failure_without_text_is_named_by_its_type() -> None:
    assert raised(make_client(failing(httpx.ReadError, ""))).message == "ReadError"


def test_an_error_answer_keeps_the_platforms_body_or_else_its_reason() -> None:
    with_body = raised(make_client(lambda request: httpx.Response(503, text="x" * 600)))
    without_body = raised(make_client(lambda request: httpx.Response(503)))

    assert with_body.message == "x" * http.MAX_ERROR_BODY_CHARS
    assert without_body.message == "Service Unavailable"


def test_an_error_answer_keeps_its_headers_body_and_timing() -> None:
    headers = {"X-Request-Id": "r-1"}
    error = raised(make_client(lambda request: httpx.Response(500, text="oops", headers=headers)))

    assert error.response is not None
    assert error.response.headers["x-request-id"] == "r-1"
    assert error.response.body == "oops"
    assert error.response.elapsed_ms > 0


def test_a_broken_classify_hook_is_logged_with_the_platform(
    caplog_http: pytest.LogCaptureFixture,
) -> None:
    def classify(response: httpx.Response) -> PlatformError | None:
        raise KeyError("missing")

    raised(make_client(answer(503, {}), classify=classify))

    [record] = [r for r in caplog_http.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "classify hook failed for test; using the HTTP status"
    assert record.exc_info is not None


def test_retry_after_as_a_date_without_a_zone_is_read_as_utc() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    header = later.strftime("%a, %d %b %Y %H:%M:%S -0000")  # a date that names no zone

    wait = http.parse_retry_after(header)

    assert wait is not None and 110 <= wait <= 120


def test_retry_after_as_a_past_date_means_now() -> None:
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)

    assert http.parse_retry_after(earlier) == 0.0


class FakePerfCounter:
    """A `time` module whose clock moves `step_seconds` at every reading."""

    def __init__(self, step_seconds: float) -> None:
        self.now, self.step = 100.0, step_seconds

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def test_every_call_is_logged_and_counted_with_its_platform_outcome_and_time(
    caplog_http: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client import REGISTRY

    def calls(outcome: str) -> float:
        labels = {"platform": "metered", "outcome": outcome}
        return REGISTRY.get_sample_value("usher_platform_api_calls_total", labels) or 0.0

    def seconds() -> float:
        labels = {"platform": "metered"}
        return REGISTRY.get_sample_value("usher_platform_api_call_seconds_sum", labels) or 0.0

    monkeypatch.setattr(http, "time", FakePerfCounter(0.01234))
    before = (calls("ok"), calls("rate_limited"), seconds())
    client = make_client(answer(200, {}, {"X-Request-Id": "r-1"}), platform="metered")

    response = client.request("GET", "/campaigns", params={"limit": "5"})
    raised(make_client(answer(429, {}), platform="metered"), "POST", "/events")

    assert response.elapsed_ms == pytest.approx(12.34)
    assert response.headers["x-request-id"] == "r-1"
    assert (calls("ok"), calls("rate_limited")) == (before[0] + 1, before[1] + 1)
    assert seconds() == pytest.approx(before[2] + 2 * 0.01234)
    ok, failed = [r for r in caplog_http.records if r.name == "usher.http"]
    assert ok.getMessage() == (
        "platform_http platform=metered method=GET path=/v1/campaigns?limit=5 status=200"
        " elapsed_ms=12.3 outcome=ok"
    )
    assert ok.http_elapsed_ms == 12.3  # type: ignore[attr-defined]
    assert failed.levelno == logging.WARNING
    assert failed.getMessage().endswith("status=429 elapsed_ms=12.3 outcome=rate_limited")
    assert failed.http_outcome == "rate_limited"  # type: ignore[attr-defined]


def test_readable_values_stay_readable_in_the_record() -> None:
    response = make_client(answer(200, {})).request(
        "POST", "/events", json={"data": [{"event_name": "Purchase", "currency": "EUR"}]}
    )

    assert response.request.body == '{"data":[{"event_name":"Purchase","currency":"EUR"}]}'


def test_a_secret_shorter_than_four_characters_is_not_masked() -> None:
    # Masking "12" would mask every 12 in the log, and hide nothing worth hiding.
    error = raised(make_client(lambda request: httpx.Response(400, text="code 12")), secrets=["12"])

    assert error.message == "code 12"


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"Bearer  {TOKEN}", TOKEN])
def test_an_authorization_value_and_its_bare_token_are_both_masked(authorization: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"sent {authorization}; token={TOKEN}")

    error = raised(make_client(handler), headers={"Authorization": authorization})

    assert error.message == "sent ***; token=***"


def test_secrets_nested_in_a_body_are_masked_wherever_they_are_echoed() -> None:
    nested = "nested-secret-value"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad {nested} and {TOKEN}")

    body = {"batch": {"auth": {"client_secret": nested}}, "items": [{"access_token": TOKEN}]}
    error = raised(make_client(handler), json=body)

    assert error.message == "bad *** and ***"


def test_a_redirect_is_not_followed() -> None:
    handler, seen = recording(302)

    def redirect(request: httpx.Request) -> httpx.Response:
        handler(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.test/steal"})

    error = raised(make_client(redirect), params={"access_token": TOKEN})

    assert error.kind == ErrorKind.PERMANENT
    assert [str(request.url.host) for request in seen] == ["api.example.test"]


def test_a_secret_of_four_characters_is_masked() -> None:
    error = raised(
        make_client(lambda request: httpx.Response(400, text="pin 4321")), secrets=["4321"]
    )

    assert error.message == "pin ***"


def test_short_values_under_secret_keys_are_masked_in_the_query_and_headers() -> None:
    response = make_client(answer(200, {})).request(
        "GET", "/ping", params={"access_token": "t1", "q": "ok"}, headers={"Developer-Token": "d1"}
    )

    assert response.request.url == "https://api.example.test/v1/ping?access_token=***&q=ok"
    assert response.request.headers["developer-token"] == "***"
    assert response.request.headers["host"] == "api.example.test"  # the rest stays readable


def test_a_url_without_a_query_is_recorded_without_a_question_mark() -> None:
    response = make_client(answer(200, {})).request("GET", "/ping")

    assert response.request.url == "https://api.example.test/v1/ping"


@pytest.mark.parametrize("body", ["json", "data"])
def test_the_recorded_body_keeps_non_ascii_text_readable(body: str) -> None:
    response = make_client(answer(200, {})).request("POST", "/x", **{body: {"city": "São Paulo"}})

    assert response.request.body == '{"city":"São Paulo"}'


def test_a_form_with_decimal_values_is_sent_and_recorded() -> None:
    handler, seen = recording()

    response = make_client(handler).request("POST", "/x", data={"value": Decimal("12.50")})

    assert seen[0].content == b"value=12.50"
    assert response.request.body == '{"value":"12.50"}'


def test_a_network_failure_is_logged_with_its_method_and_path(
    caplog_http: pytest.LogCaptureFixture,
) -> None:
    raised(make_client(failing(httpx.ConnectError)), "PUT", "/audiences/7")

    [record] = [r for r in caplog_http.records if r.name == "usher.http"]
    assert "method=PUT path=/v1/audiences/7 status=- " in record.getMessage()
    assert (record.http_method, record.http_path) == ("PUT", "/v1/audiences/7")  # type: ignore[attr-defined]
