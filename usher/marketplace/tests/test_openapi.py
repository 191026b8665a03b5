"""The API documents itself: /api/docs and a complete OpenAPI schema."""

from __future__ import annotations

from django.test import Client


def test_the_openapi_schema_lists_every_public_endpoint():
    schema = Client().get("/api/openapi.json").json()
    paths = set(schema["paths"])
    for path in [
        "/api/ingest/orders",
        "/api/ingest/orders/batch",
        "/api/marketplace-client/organizer/tracking-codes",
        "/api/marketplace-client/organizer/tracking-codes/{code_id}",
        "/api/marketplace-client/events/{slug}/tracking-config",
        "/api/collect",
        "/api/marketplace-client/organizer/conversions/status",
        "/api/marketplace-client/organizer/audiences",
        "/api/marketplace-client/organizer/audiences/{audience_id}",
        "/api/marketplace-client/organizer/audiences/{audience_id}/refresh",
        "/api/ingest/buyers/erasure",
    ]:
        assert path in paths, path
    schemes = schema["components"]["securitySchemes"].values()
    assert {"type": "http", "scheme": "bearer"} in [
        {"type": s["type"], "scheme": s.get("scheme")} for s in schemes
    ]


def test_the_docs_page_is_served_with_local_assets():
    page = Client().get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
