import json
import logging

import pytest
from django.db import OperationalError

from usher.ops import checks
from usher.ops.logs import JsonFormatter
from usher.ops.request_ids import REQUEST_ID_HEADER, RequestIdFilter, current_request_id


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_fails_when_the_database_is_down(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(checks.connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "OperationalError"


@pytest.mark.django_db
def test_readyz_fails_when_redis_is_down(client, settings):
    # A real Redis client against a port nobody listens on: what an outage looks like.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == "ConnectionError"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_fails_when_the_broker_is_down(client, monkeypatch):
    from usher.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] != "ok"


def test_probe_details_never_carry_a_url(monkeypatch):
    from usher.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://:s3cret-pass@127.0.0.1:1/0")
    result = checks.check_broker()
    assert not result.ok
    assert "s3cret" not in result.detail and "127.0.0.1" not in result.detail


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")[REQUEST_ID_HEADER]
    second = client.get("/healthz")[REQUEST_ID_HEADER]
    assert len(first) == 32 and first != second


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    kept = client.get("/healthz", headers={REQUEST_ID_HEADER: "lb-1234.abcd"})
    assert kept[REQUEST_ID_HEADER] == "lb-1234.abcd"
    hostile = client.get("/healthz", headers={REQUEST_ID_HEADER: "x\nFAKE log line"})
    assert hostile[REQUEST_ID_HEADER] != "x\nFAKE log line"
    assert "\n" not in hostile[REQUEST_ID_HEADER]


def test_json_log_lines_carry_the_request_id_and_extras():
    token = current_request_id.set("req-42")
    try:
        record = logging.makeLogRecord(
            {"name": "usher.x", "levelname": "INFO", "msg": "sent %d", "args": (3,)}
        )
        record.http_platform = "meta"
        RequestIdFilter().filter(record)
    finally:
        current_request_id.reset(token)

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "sent 3"
    assert line["request_id"] == "req-42"
    assert line["http_platform"] == "meta"
    assert line["level"] == "INFO" and line["logger"] == "usher.x"
