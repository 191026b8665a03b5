"""Fixtures shared by every app's tests."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from usher import celery_app
from usher.lib import outages
from usher.lib.client_cache import forget_local_answers
from usher.lib.ratelimit import reset_local_buckets
from usher.lib.redis_cache import delete_prefixed_keys, is_redis
from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import MarketplaceClientFactory, OrganizerFactory
from usher.sandbox.testing import MOUNTED_BASE_URLS, MountedSandbox


class JsonClient:
    """A test client that speaks JSON with a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self._client = Client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ):
        data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
        return self._client.generic(
            method,
            path,
            data=data or "",
            content_type="application/json",
            headers=self._headers(headers),
        )

    def get(self, path: str, **params: Any):
        return self._client.get(path, params, headers=self._headers(None))

    def post(self, path: str, body: Any = None, **kw: Any):
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any):
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any):
        return self.request("DELETE", path, None, **kw)


def require_tool(found: bool, missing: str) -> None:
    """A test that needs a tool outside Python (chromium, node). CI installs them
    (`.ci/run`), so there a missing tool fails the run instead of skipping what it should
    have tested; on a developer's machine the test skips and says what to install."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (CI must install it: see .ci/run)")
    pytest.skip(missing)


@pytest.fixture
def node() -> str:
    """The path of node, for tests that run rendered scripts in it."""
    path = shutil.which("node")
    require_tool(path is not None, "node is not installed (apt-get install nodejs)")
    return str(path)


@pytest.fixture(autouse=True, scope="session")
def _celery_runs_tasks_inline():
    """Tasks still go through Celery's API (delay, on_commit) but run in the test's
    process, so a test sees their effects; the broker is not involved."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True, scope="session")
def _private_file_cache(tmp_path_factory):
    """With the embedded file cache, each test run gets its own directory: runs going on
    side by side (or a `make run` on the same checkout) must not flush each other."""
    if not settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        yield
        return
    location = str(tmp_path_factory.mktemp("cache"))
    with override_settings(
        CACHES={"default": {**settings.CACHES["default"], "LOCATION": location}}
    ):
        yield


@pytest.fixture(autouse=True, scope="session")
def _private_redis_prefix():
    """With Redis, each test run writes under its own key prefix and clears only those
    keys: two runs (or a `make run`) sharing one Redis server leave each other alone."""
    if not is_redis(settings.CACHES["default"]):
        yield
        return
    prefix = f"usher-test-{uuid.uuid4().hex[:12]}"
    with override_settings(
        CACHES={"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    ):
        yield
        delete_prefixed_keys(prefix)


def _clear_this_runs_cache() -> None:
    if is_redis(settings.CACHES["default"]):
        delete_prefixed_keys(settings.CACHES["default"]["KEY_PREFIX"])
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    """A fresh cache and fresh in-process rate-limit buckets for every test: a bucket a
    test drained must not throttle the next one."""
    _clear_this_runs_cache()
    reset_local_buckets()
    forget_local_answers()
    yield
    _clear_this_runs_cache()
    reset_local_buckets()
    forget_local_answers()


@pytest.fixture
def marketplace(db):
    """A marketplace client with a known secret API key (`.api_key`)."""
    client = MarketplaceClientFactory()
    client.api_key = client.rotate_api_key()
    return client


@pytest.fixture
def ingest(marketplace) -> JsonClient:
    return JsonClient(marketplace.api_key)


@pytest.fixture
def organizer(marketplace):
    return OrganizerFactory(client=marketplace)


@pytest.fixture
def organizer_api(organizer) -> JsonClient:
    _, secret = OrganizerApiToken.issue(organizer)
    return JsonClient(secret)


@pytest.fixture
def sandbox(settings) -> Iterator[MountedSandbox]:
    """The ad-platform sandbox, in-process, behind every platform's HTTP client."""
    settings.PLATFORM_BASE_URLS = MOUNTED_BASE_URLS
    box = MountedSandbox()
    yield box
    box.close()


@pytest.fixture
def unreachable_cache(settings) -> Iterator[None]:
    """Redis down: every cache call fails as it would in production; the outage warning
    and the per-process rate limits start fresh."""
    settings.CACHES = {"default": {"BACKEND": "usher.lib.tests.unreachable_cache.UnreachableCache"}}
    outages.reset()
    reset_local_buckets()
    yield
    outages.reset()
    reset_local_buckets()
