"""The API documents itself: /api/docs and a complete OpenAPI schema."""

from __future__ import annotations

import json
import re

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


def test_every_reference_resolves_and_every_operation_declares_its_errors():
    schema = Client().get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)):
        prefix, _, name = ref.rpartition("/")
        assert prefix == "#/components/schemas" and name in components, ref
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            where = f"{method.upper()} {path}"
            assert {"400", "413", "422"} <= declared, where
            if operation.get("security") or path.startswith("/api/marketplace-client/events"):
                assert "401" in declared, where
            if "{" in path:
                assert "404" in declared, where
    collect = schema["paths"]["/api/collect"]["post"]
    assert {"202", "401", "429"} <= set(collect["responses"])
    body = collect["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["events"]["items"]["properties"]["click"]["properties"]["gclid"]
