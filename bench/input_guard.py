"""How long the API's input guard (usher.lib.middleware) takes per request body: a
collector batch of 10 events and an ingest batch of 500 orders, the two bodies every
request of the hot paths pays for; relative to parsing the body once, so the figure
holds on a busy machine too.

    .venv/bin/python bench/input_guard.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "usher.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds

    import django

    django.setup()
    from usher.lib.middleware import _refuse_body

    event = {
        "event_id": "evt-00000001",
        "name": "view_item",
        "time": "2026-11-30T10:00:00+00:00",
        "event": "summer-fest",
        "visitor_id": "v-123456",
        "page_url": "https://marketplace.example/events/summer-fest?fbclid=abc",
        "value": "120.00",
        "currency": "RON",
        "content_ids": ["ev-1"],
        "click": {"fbclid": "IwAR-abc", "gclid": "Cj0K"},
        "cookies": {"fbp": "fb.1.1596403881668.1116446470"},
        "utm": {"source": "facebook", "medium": "paid_social"},
        "consent": {"ad_storage": True, "ad_user_data": True},
    }
    order = {
        "external_id": "A-1001",
        "event_external_id": "ev-1",
        "status": "paid",
        "total": "240.00",
        "currency": "RON",
        "customer": {"email": "ana@example.com", "phone": "+40722123456", "city": "Cluj"},
        "attribution": {"gclid": "Cj0K", "utm": {"source": "google"}},
    }
    bodies = {
        "collector batch, 10 events": {"events": [event] * 10},
        "ingest batch, 500 orders": {"items": [order] * 500},
    }
    for label, payload in bodies.items():
        body = json.dumps(payload).encode()
        runs = max(1, rounds // (len(body) // 4000 + 1))
        print(f"{label}: {len(body):,} bytes, {runs} rounds...", flush=True)
        guard = timeit.timeit(lambda body=body: _refuse_body(body), number=runs) / runs
        parse = timeit.timeit(lambda body=body: json.loads(body), number=runs) / runs
        print(
            f"  guard {guard * 1e6:,.0f} us per body, {guard / parse:.1f}x one json.loads "
            f"of it ({parse * 1e6:,.0f} us), which the endpoint then does anyway"
        )
    print("summary: the guard's cost per request body, measured in-process")


if __name__ == "__main__":
    main()
