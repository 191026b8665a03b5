"""A realistic demo marketplace, loaded through the same ingest services the core uses.

Fixed external ids make loading idempotent; the random generator is seeded, so every
fresh database gets the same orders.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from usher.audiences.demo import load_demo_audiences
from usher.marketplace import services
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    OrganizerApiToken,
    User,
)
from usher.marketplace.schemas import (
    AttributionIn,
    ConsentIn,
    CustomerIn,
    EventIn,
    OrderIn,
    OrganizerIn,
)
from usher.tracking.demo import load_demo_tracking_codes

DEMO_CLIENT_SLUG = "tixello"
DEMO_PASSWORD = "usher-demo"
DEMO_TOKEN_NAME = "demo token"
# Where `make run` serves the demo unless PORT says otherwise.
DEMO_BASE_URL = "http://127.0.0.1:8000"

ORGANIZERS = [
    ("org-sunwave", "Sunwave Events", "hello@sunwave.example"),
    ("org-nottara", "Teatrul Nottara", "bilete@nottara.example"),
    ("org-rocknights", "Rock Nights Promotions", "office@rocknights.example"),
    ("org-jazzpark", "Jazz in the Park", "team@jazzinthepark.example"),
]

# (external id, organizer, name, city, venue, category, genre, days from now, price RON)
EVENTS = [
    (
        "ev-001",
        "org-sunwave",
        "Sunwave Festival 2027",
        "Mamaia",
        "Sunwave Beach",
        "festival",
        "electronic",
        200,
        "399.00",
    ),
    (
        "ev-002",
        "org-sunwave",
        "Sunwave Winter Warm-up",
        "Bucharest",
        "Form Space",
        "club",
        "electronic",
        30,
        "120.00",
    ),
    (
        "ev-003",
        "org-sunwave",
        "Deep House Sessions",
        "Cluj-Napoca",
        "Form Space Cluj",
        "club",
        "electronic",
        45,
        "90.00",
    ),
    (
        "ev-004",
        "org-nottara",
        "Hamlet",
        "Bucharest",
        "Teatrul Nottara",
        "theatre",
        "drama",
        12,
        "85.00",
    ),
    (
        "ev-005",
        "org-nottara",
        "Visul unei nopți de vară",
        "Bucharest",
        "Teatrul Nottara",
        "theatre",
        "comedy",
        19,
        "85.00",
    ),
    (
        "ev-006",
        "org-nottara",
        "Turneu: Trei surori",
        "Iași",
        "Teatrul Național Iași",
        "theatre",
        "drama",
        60,
        "70.00",
    ),
    (
        "ev-007",
        "org-rocknights",
        "Rock the City",
        "Bucharest",
        "Romexpo",
        "concert",
        "rock",
        150,
        "299.00",
    ),
    (
        "ev-008",
        "org-rocknights",
        "Metal Gates",
        "Timișoara",
        "Fratelli",
        "concert",
        "metal",
        75,
        "160.00",
    ),
    (
        "ev-009",
        "org-rocknights",
        "Indie Nights Brașov",
        "Brașov",
        "Kruhnen Musik Halle",
        "concert",
        "indie",
        33,
        "110.00",
    ),
    (
        "ev-010",
        "org-jazzpark",
        "Jazz in the Park 2027",
        "Cluj-Napoca",
        "Parcul Etnografic",
        "festival",
        "jazz",
        260,
        "0.00",
    ),
    (
        "ev-011",
        "org-jazzpark",
        "Winter Jazz Club",
        "Bucharest",
        "Green Hours",
        "club",
        "jazz",
        8,
        "60.00",
    ),
    (
        "ev-012",
        "org-jazzpark",
        "Piano Nights",
        "Sibiu",
        "Filarmonica Sibiu",
        "concert",
        "classical",
        52,
        "75.00",
    ),
]

FIRST_NAMES = [
    "Andrei",
    "Maria",
    "Ioana",
    "Mihai",
    "Elena",
    "Alexandru",
    "Ana",
    "Radu",
    "Cristina",
    "Vlad",
]
LAST_NAMES = ["Popescu", "Ionescu", "Dumitru", "Stan", "Gheorghe", "Marin", "Tudor", "Munteanu"]
ORDERS_PER_EVENT = 6
# How long ago the demo's orders were placed, in hours. The campaign demo
# (`usher.dashboard.demo`) then replays the last day of a market on the sandbox's simulated
# clock while the worker already sends these orders: placed before that day, no platform
# reads them as from the future; within GA4's 72 hours of now, every platform takes them.
DEMO_ORDER_AGE_HOURS = (26, 70)
DEMO_CONSENT_RATE = 0.8


@dataclass(frozen=True)
class DemoCredentials:
    client: MarketplaceClient
    api_key: str
    organizer_token: str
    organizer: MarketplaceOrganizer


def demo_loaded() -> bool:
    return MarketplaceClient.objects.filter(slug=DEMO_CLIENT_SLUG).exists()


def _customer(rng: random.Random) -> CustomerIn:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return CustomerIn(
        email=f"{first}.{last}{rng.randint(1, 999)}@example.com".lower(),
        phone=f"07{rng.randint(20, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
        first_name=first,
        last_name=last,
        city=rng.choice(["București", "Cluj-Napoca", "Iași", "Timișoara"]),
        country="RO",
    )


def _attribution(rng: random.Random, index: int) -> AttributionIn:
    source = rng.choice(["meta", "google", "tiktok", "direct"])
    clicks = {
        "meta": {
            "fbclid": f"IwAR{index:06d}demo",
            "utm_source": "facebook",
            "utm_medium": "paid_social",
        },
        "google": {
            "gclid": f"Cj0KCQiA{index:06d}demo",
            "utm_source": "google",
            "utm_medium": "cpc",
        },
        "tiktok": {
            "ttclid": f"E.C.P.{index:06d}demo",
            "utm_source": "tiktok",
            "utm_medium": "paid_social",
        },
        "direct": {},
    }[source]
    # Most buyers accepted the cookie banner; the rest are never sent server-side.
    granted = rng.random() < DEMO_CONSENT_RATE
    return AttributionIn(
        visitor_id=f"v-{rng.getrandbits(64):016x}",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0",
        client_ip=f"198.51.100.{rng.randint(1, 254)}",
        consent=ConsentIn(
            ad_storage=granted,
            analytics_storage=granted,
            ad_user_data=granted,
            ad_personalization=granted,
        ),
        **clicks,
    )


def load_demo_marketplace() -> MarketplaceClient:
    """Create the demo client, organizers, events and orders (idempotent)."""
    rng = random.Random(20261129)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        client, _ = MarketplaceClient.objects.get_or_create(
            slug=DEMO_CLIENT_SLUG,
            defaults={
                "name": "Tixello",
                "currency": "RON",
                "timezone": "Europe/Bucharest",
                "allowed_origins": demo_origins(DEMO_BASE_URL),
            },
        )
        services.upsert_organizers(
            client, [OrganizerIn(external_id=e, name=n, email=m) for e, n, m in ORGANIZERS]
        )
        services.upsert_events(
            client,
            [
                EventIn(
                    external_id=ext,
                    organizer_external_id=org,
                    slug=ext.replace("ev-", "") + "-" + _slugify(name),
                    name=name,
                    starts_at=now + timedelta(days=days, hours=20 - now.hour),
                    ends_at=now + timedelta(days=days, hours=23 - now.hour),
                    venue=venue,
                    city=city,
                    country="RO",
                    category=category,
                    genre=genre,
                    public_url=f"https://tixello.example/events/{_slugify(name)}",
                    image_url=f"https://tixello.example/images/{_slugify(name)}.jpg",
                    price_min=Decimal(price),
                    currency="RON",
                    status="published",
                )
                for ext, org, name, city, venue, category, genre, days, price in EVENTS
            ],
        )
        orders = []
        for event_index, (ext, *_rest, price) in enumerate(EVENTS):
            for n in range(ORDERS_PER_EVENT):
                tickets = rng.randint(1, 4)
                index = event_index * ORDERS_PER_EVENT + n
                orders.append(
                    OrderIn(
                        external_id=f"ord-{index + 1:04d}",
                        event_external_id=ext,
                        value=Decimal(price) * tickets,
                        currency="RON",
                        tickets_count=tickets,
                        status=rng.choices(["paid", "refunded", "cancelled"], [90, 6, 4])[0],
                        placed_at=datetime.now(UTC)
                        - timedelta(hours=rng.randint(*DEMO_ORDER_AGE_HOURS)),
                        customer=_customer(rng),
                        attribution=_attribution(rng, index),
                    )
                )
        services.upsert_orders(client, orders)
        load_demo_tracking_codes(client)
        load_demo_audiences(client)
    return client


def demo_origins(base_url: str) -> list[str]:
    """The origins a local demo is opened from: the base URL, and localhost for it."""
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port else ""
    return sorted({f"{parts.scheme}://{parts.hostname}{port}", f"{parts.scheme}://localhost{port}"})


def demo_banner(creds: DemoCredentials, base_url: str, sandbox_url: str) -> str:
    """What a person needs after `make run`: where to click, and how to log in."""
    client = creds.client
    event = MarketplaceEvent.objects.filter(client=client).order_by("external_id").first()
    rows = [
        ("Start page", f"{base_url}/"),
        ("Admin (staff)", f"{base_url}/admin/  login staff / {DEMO_PASSWORD}"),
        (
            "Organizer panel",
            f"{base_url}/panel/  login organizer / {DEMO_PASSWORD} ({creds.organizer.name})",
        ),
        ("API docs", f"{base_url}/api/docs"),
        ("Demo event page", f"{base_url}/demo/events/{event.slug}/" if event else "-"),
        ("Demo organizer page", f"{base_url}/demo/organizers/{creds.organizer.external_id}/"),
        ("Sandbox request log", f"{sandbox_url}/_sandbox/requests"),
        ("Ingest API key", creds.api_key),
        ("Organizer API token", creds.organizer_token),
        ("Site key", client.site_key),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label + ':':<{width + 1}} {value}" for label, value in rows]
    curl = (
        f"  Try: curl -H 'Authorization: Bearer {creds.organizer_token}' "
        f"{base_url}/api/marketplace-client/organizer/events"
    )
    rule = "=" * 78
    return "\n".join(
        [
            "",
            rule,
            "  Usher is running. Demo marketplace: " + client.name,
            rule,
            *lines,
            curl,
            rule,
            "",
        ]
    )


def _slugify(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name.replace("ț", "t").replace("ă", "a").replace("ș", "s"))


def issue_demo_credentials(client: MarketplaceClient, base_url: str) -> DemoCredentials:
    """Fresh demo secrets on every run: the plaintext of old ones cannot be shown again.

    The demo pages are served from `base_url` (its port may change between runs), so
    the client's allowed origins follow it, or tracker.js there would be refused.
    """
    organizer = client.organizers.get(external_id=ORGANIZERS[0][0])
    origins = demo_origins(base_url)
    with transaction.atomic():
        if not set(origins) <= set(client.allowed_origins):
            client.allowed_origins = sorted({*client.allowed_origins, *origins})
            client.save(update_fields=["allowed_origins"])
        api_key = client.rotate_api_key()
        OrganizerApiToken.objects.filter(organizer__client=client, name=DEMO_TOKEN_NAME).revoke()
        _, token = OrganizerApiToken.issue(organizer, name=DEMO_TOKEN_NAME)
        _ensure_user("staff", client=client, organizer=None, is_staff=True)
        _ensure_user("organizer", client=client, organizer=organizer, is_staff=False)
    return DemoCredentials(
        client=client, api_key=api_key, organizer_token=token, organizer=organizer
    )


def _ensure_user(
    username: str,
    *,
    client: MarketplaceClient,
    organizer: MarketplaceOrganizer | None,
    is_staff: bool,
) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "client": client,
            "organizer": organizer,
            "is_staff": is_staff,
            "email": f"{username}@tixello.example",
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        if is_staff:
            from django.contrib.auth.models import Permission

            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label__in=_STAFF_APPS).exclude(
                    codename__in=_OPERATOR_ONLY_PERMISSIONS
                )
            )
    return user


_STAFF_APPS = [
    "marketplace",
    "tracking",
    "conversions",
    "audiences",
    "campaigns",
    "catalog",
    "ops",
    "notifications",
]
# Creating or deleting a whole marketplace is for Usher's operators, not its staff.
_OPERATOR_ONLY_PERMISSIONS = ["add_marketplaceclient", "delete_marketplaceclient"]
