"""Shared setup of the benchmarks: a dedicated PostgreSQL database and Redis db, Django
configured for them, and one marketplace with an event page."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/usher_bench"
)
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def configure_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Point this process (and the servers it starts) at the bench database and Redis."""
    os.environ.update(
        {
            "DATABASE_URL": BENCH_DATABASE_URL,
            "REDIS_URL": BENCH_REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "usher.settings",
            "LOG_LEVEL": "WARNING",
            **(extra or {}),
        }
    )
    sys.path.insert(0, str(ROOT))
    return dict(os.environ)


def prepare_database() -> None:
    """Create the bench database if missing, and migrate it."""
    name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
    admin_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    exists = subprocess.run(
        ["psql", admin_url, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", admin_url, "-c", f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )


def setup_django() -> None:
    import django

    django.setup()


def fresh_marketplace(slug: str):
    """A new client with one organizer and one published event page."""
    from datetime import timedelta
    from uuid import uuid4

    from django.utils import timezone

    from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer

    tag = uuid4().hex[:8]
    client = MarketplaceClient.objects.create(
        name=f"Bench {tag}",
        slug=f"{slug}-{tag}",
        currency="RON",
        allowed_origins=["https://bench.example"],
    )
    organizer = MarketplaceOrganizer.objects.create(
        client=client, external_id="org", name="Bench organizer"
    )
    event = MarketplaceEvent.objects.create(
        client=client,
        organizer=organizer,
        external_id="ev",
        slug="bench-event",
        name="Bench event",
        starts_at=timezone.now() + timedelta(days=30),
        currency="RON",
        status="published",
    )
    return client, organizer, event


ALL_EVENTS = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]


def add_server_side_codes(organizer, meta_pixel: str) -> None:
    """The organizer's Meta, TikTok, Google Ads and GA4 codes, every event server-side;
    `meta_pixel` keeps each bench's Meta account apart in the sandbox."""
    from usher.tracking import services as tracking

    for provider, settings in {
        "meta": {"pixel_id": meta_pixel, "access_token": "sandbox-bench"},
        "tiktok": {"pixel_code": "BENCHAAAAAAAAAAAAAAA", "access_token": "sandbox-bench"},
        "google_ads": {
            "conversion_id": "AW-123456789",
            "customer_id": "1234567890",
            "conversion_actions": {"view_item": "111"},
            "refresh_token": "sandbox-bench",
        },
        "ga4": {"measurement_id": "G-BENCH123", "api_secret": "sandbox-bench"},
    }.items():
        tracking.create_code(
            organizer,
            tracking.CodeInput(
                provider=provider, settings={"conversion_events": ALL_EVENTS, **settings}
            ),
        )


def browser_events(client, organizer, event, visitors, prefix: str) -> list:
    """Unsaved consented view_item events on the bench event page, one per visitor number."""
    from django.utils import timezone

    from usher.events.models import TrackingEvent

    now = timezone.now()
    return [
        TrackingEvent(
            client=client,
            marketplace_event=event,
            organizer=organizer,
            event_id=f"{prefix}-{uuid4().hex}",
            name="view_item",
            occurred_at=now,
            visitor_id=f"v{n}",
            page_url="https://bench.example/events/bench-event",
            ip_address="203.0.113.10",
            user_agent="Mozilla/5.0 (bench)",
            gclid=f"Cj0KCQiA{uuid4().hex}",
            consent={"ad_storage": True, "ad_user_data": True},
        )
        for n in visitors
    ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def start_sandbox(port: int, threads: int = 16) -> subprocess.Popen:
    """The sandbox as its own server on 127.0.0.1:`port`, keeping connections alive as
    the platforms' APIs do: gunicorn with one process (the sandbox's state lives in it)
    of `threads` threads, in a process group of its own (stop it with `os.killpg`).

    Not `python -m usher.sandbox`: Werkzeug's development server closes every
    connection, so each platform call cost the worker a TCP connect (and the sandbox a
    new thread), a tenth of a delivery worker's CPU that production never pays."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "usher.sandbox.app:create_app()"),
            *("-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", str(threads)),
            *("--keep-alive", "75", "--log-level", "warning"),
        ],
        cwd=ROOT,
        start_new_session=True,
    )


def wait_for_sandbox(url: str) -> None:
    """Until the sandbox server started as a subprocess answers (10 s at most)."""
    import time

    import httpx

    for _ in range(100):
        try:
            httpx.get(f"{url}/_sandbox/requests", params={"limit": 1}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("sandbox did not start")


# The production setup the hot-path benchmarks measure: DEBUG off, real secrets shape,
# plain HTTP on loopback, flood limits lifted (all load comes from one address).
PRODUCTION_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-secret",
    "USHER_ENCRYPTION_KEYS": "Xw4sgVzE2N1kBqxUB1Qd9gK0vZ0Yl1S2lJw1dJ0n1ZY=",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "COLLECTOR_REQUESTS_PER_IP_PER_MINUTE": "100000000",
    "COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE": "100000000",
}


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int = 1
) -> subprocess.Popen:
    """Usher under gunicorn on 127.0.0.1:`port` (sync workers; with `threads` > 1,
    gthread workers of that many threads each), with the benchmarks' baseline view
    (bench_settings), once it answers."""
    import time

    import httpx

    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "usher.wsgi"),
            *("-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning"),
            *(("--threads", str(threads)) if threads > 1 else ()),
        ],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}",
        },
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/bench/trivial", timeout=1).raise_for_status()
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=10)


def load_average() -> str:
    """The 1-minute load average: how busy the shared machine was during a run."""
    return f"{os.getloadavg()[0]:.1f}"


def side_by_side_arguments(parser, *, rounds: int, seconds: float) -> None:
    """The options every side-by-side benchmark takes."""
    parser.add_argument("--rounds", type=int, default=rounds, help="interleaved A/B rounds")
    parser.add_argument("--seconds", type=type(seconds), default=seconds, help="per side and round")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")


def production_setup() -> dict[str, str]:
    """Configure, create and migrate the bench database, set Django up; the environment
    the benchmark's gunicorn runs with."""
    env = configure_environment(PRODUCTION_ENVIRONMENT)
    prepare_database()
    setup_django()
    return env


def median_ratio(measured: list[float], baseline: list[float]) -> float:
    """The median of the rounds' ratios: each round's two sides ran back to back under
    the same load, so their ratio is fairer on a shared machine than a ratio of medians."""
    import statistics

    return statistics.median(a / b for a, b in zip(measured, baseline, strict=True))


def collector_batch(slug: str, count: int) -> list[dict]:
    """`count` fresh page events of the event page `slug`, as tracker.js posts them to
    `POST /api/collect` (new ids and visitors, consent given)."""
    return [
        {
            "event_id": f"bench-{uuid.uuid4().hex}",
            "name": "view_item",
            "event": slug,
            "visitor_id": f"v-{uuid.uuid4().hex[:16]}",
            "page_url": "https://bench.example/events/bench-event",
            "consent": {"ad_storage": True, "ad_user_data": True},
        }
        for _ in range(count)
    ]
