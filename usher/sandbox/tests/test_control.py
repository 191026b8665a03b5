"""The sandbox's own control API: accounts, faults, rate limits, reset, inspection, state file."""

from __future__ import annotations

import httpx
import pytest

from usher.sandbox import SandboxState, create_app, sandbox_transport
from usher.sandbox.tests.conftest import (
    EXACT_AUDIENCES,
    GA4_ID,
    GOOGLE_CUSTOMER,
    META_AD_ACCOUNT,
    META_PIXEL,
    TIKTOK_PIXEL,
    TOKEN,
    FakeClock,
    capi,
    configure,
    google_headers,
    meta_event,
    tiktok_event,
    tiktok_track,
)

SEARCH = f"/google-ads/v25/customers/{GOOGLE_CUSTOMER}/googleAds:search"
CAMPAIGN_QUERY = {"query": "SELECT campaign.id FROM campaign"}


def arm(client: httpx.Client, **fault: object) -> httpx.Response:
    response = client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text
    return response


def test_health_names_the_token_prefix(client: httpx.Client) -> None:
    assert client.get("/_sandbox/health").json() == {"ok": True, "token_prefix": "sandbox-"}


def test_registered_accounts_are_listed_without_their_tokens(client: httpx.Client) -> None:
    created = client.post(
        "/_sandbox/accounts",
        json={
            "accounts": [
                {
                    "platform": "meta",
                    "account_id": f"act_{META_AD_ACCOUNT}",
                    "tokens": ["EAAB-real"],
                },
                {"platform": "google-ads", "account_id": "123-456-7890", "known": False},
            ]
        },
    )
    assert created.status_code == 201
    listed = client.get("/_sandbox/accounts").json()["accounts"]
    assert {(a["platform"], a["account_id"], a["known"], a["tokens"]) for a in listed} == {
        ("meta", META_AD_ACCOUNT, True, 1),
        ("google_ads", "1234567890", False, 0),
    }


def test_account_registration_rejects_an_unknown_platform(client: httpx.Client) -> None:
    response = client.post("/_sandbox/accounts", json={"platform": "myspace", "account_id": "1"})
    assert response.status_code == 422
    assert "platform must be one of" in response.json()["error"]


def test_registered_tokens_replace_the_prefix_rule_for_that_account(
    client: httpx.Client, clock: FakeClock
) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "meta", "account_id": META_PIXEL, "tokens": ["EAAB-org-token"]},
    )
    assert capi(client, [meta_event(clock)], token="EAAB-org-token").status_code == 200
    rejected = capi(client, [meta_event(clock)], token=TOKEN)
    assert rejected.json()["error"]["code"] == 190


def test_reset_forgets_accounts_events_objects_and_faults(
    client: httpx.Client, clock: FakeClock, state: SandboxState
) -> None:
    client.post(
        "/_sandbox/accounts", json={"platform": "meta", "account_id": META_PIXEL, "known": False}
    )
    tiktok_track(client, [tiktok_event(clock)])
    arm(client, platform="meta", mode="5xx", count=3)
    assert client.post("/_sandbox/reset").json() == {"ok": True}
    assert client.get("/_sandbox/accounts").json()["accounts"] == []
    assert client.get("/_sandbox/faults").json()["faults"] == []
    assert client.get("/_sandbox/events").json()["received"] == 0
    assert capi(client, [meta_event(clock)]).status_code == 200


def test_request_log_lists_bodies_and_answers_filtered_by_platform_account_and_path(
    client: httpx.Client, clock: FakeClock
) -> None:
    capi(client, [meta_event(clock)])
    capi(client, [meta_event(clock)], pixel="6543210987654321")
    tiktok_track(client, [tiktok_event(clock)])
    client.get(f"/meta/v25.0/act_{META_AD_ACCOUNT}/campaigns", params={"access_token": TOKEN})

    everything = client.get("/_sandbox/requests").json()
    assert everything["count"] == 4
    meta_pixel = client.get(
        "/_sandbox/requests", params={"platform": "meta", "account": META_PIXEL}
    ).json()
    assert meta_pixel["count"] == 1
    entry = meta_pixel["requests"][0]
    assert entry["body"]["data"][0]["event_id"] == "order-1:Purchase"
    assert entry["status"] == 200
    assert entry["response"]["events_received"] == 1
    by_path = client.get(
        "/_sandbox/requests", params={"platform": "meta", "path": "/events"}
    ).json()
    assert by_path["count"] == 2
    by_account = client.get(
        "/_sandbox/requests", params={"platform": "meta", "account": f"act_{META_AD_ACCOUNT}"}
    )
    assert by_account.json()["count"] == 1
    assert (
        client.get("/_sandbox/requests", params={"platform": "tiktok"}).json()["requests"][0][
            "account"
        ]
        == TIKTOK_PIXEL
    )


def test_request_log_masks_credentials(client: httpx.Client, clock: FakeClock) -> None:
    secret = "sandbox-a-long-and-secret-token"
    capi(client, [meta_event(clock)], token=secret)
    entry = client.get("/_sandbox/requests").json()["requests"][0]
    assert secret not in str(entry)
    assert entry["query"]["access_token"].startswith("sandbox-a")


def test_request_log_can_be_cleared(client: httpx.Client, clock: FakeClock) -> None:
    capi(client, [meta_event(clock)])
    assert client.delete("/_sandbox/requests").json() == {"cleared": 1}
    assert client.get("/_sandbox/requests").json()["count"] == 0


def test_5xx_fault_answers_each_platforms_server_error_for_the_next_n_calls(
    client: httpx.Client, clock: FakeClock
) -> None:
    arm(client, platform="meta", account=META_PIXEL, mode="5xx", count=2)
    first, second, third = (capi(client, [meta_event(clock)]) for _ in range(3))
    assert first.status_code == second.status_code == 500
    assert first.json()["error"]["code"] == 2 and first.json()["error"]["is_transient"] is True
    assert third.status_code == 200

    arm(client, platform="google_ads", mode="5xx", status=503)
    google = client.post(SEARCH, headers=google_headers(), json=CAMPAIGN_QUERY)
    assert google.status_code == 503 and google.json()["error"]["status"] == "UNAVAILABLE"

    arm(client, platform="tiktok", mode="5xx")
    tiktok = tiktok_track(client, [tiktok_event(clock)])
    assert tiktok.status_code == 500 and tiktok.json()["code"] == 50000

    arm(client, platform="ga4", mode="5xx")
    ga4 = client.post(
        "/ga4/mp/collect", params={"measurement_id": GA4_ID, "api_secret": TOKEN}, json={}
    )
    assert ga4.status_code == 500
    logged = client.get("/_sandbox/requests", params={"platform": "meta"}).json()["requests"]
    assert [entry["fault"] for entry in logged] == ["5xx", "5xx", None]


def test_429_fault_answers_each_platforms_throttling_shape(
    client: httpx.Client, clock: FakeClock
) -> None:
    arm(client, platform="meta", mode="429")
    meta = capi(client, [meta_event(clock)])
    assert meta.status_code == 400 and meta.json()["error"]["code"] == 4
    assert "X-App-Usage" in meta.headers

    arm(client, platform="meta", mode="429")
    campaigns = client.get(
        f"/meta/v25.0/act_{META_AD_ACCOUNT}/campaigns", params={"access_token": TOKEN}
    )
    assert campaigns.json()["error"]["code"] == 80004
    assert "estimated_time_to_regain_access" in campaigns.headers["X-Business-Use-Case-Usage"]

    arm(client, platform="google_ads", mode="429")
    google = client.post(SEARCH, headers=google_headers(), json=CAMPAIGN_QUERY)
    assert google.status_code == 429
    error = google.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][0]["errors"][0]["errorCode"] == {"quotaError": "RESOURCE_EXHAUSTED"}
    assert error["details"][1]["retryDelay"].endswith("s")

    arm(client, platform="tiktok", mode="429")
    tiktok = tiktok_track(client, [tiktok_event(clock)])
    assert tiktok.status_code == 200 and tiktok.json()["code"] == 40100


def test_slow_fault_delays_the_answer_then_answers_normally(
    client: httpx.Client, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox's sleep is recorded, not slept: no race against the machine's load.
    slept: list[float] = []
    monkeypatch.setattr("usher.sandbox.app.time.sleep", slept.append)
    arm(client, platform="meta", mode="slow", delay_seconds=0.3)

    response = capi(client, [meta_event(clock)])

    assert slept == [0.3]
    assert response.status_code == 200 and response.json()["events_received"] == 1
    capi(client, [meta_event(clock, event_id="order-2:Purchase")])
    assert slept == [0.3]  # the fault was used up: the next call is not delayed


def test_drop_fault_surfaces_as_an_httpx_connection_error(
    client: httpx.Client, clock: FakeClock
) -> None:
    arm(client, platform="tiktok", account=TIKTOK_PIXEL, mode="drop")
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        tiktok_track(client, [tiktok_event(clock)])
    assert isinstance(caught.value, httpx.TransportError)
    assert tiktok_track(client, [tiktok_event(clock)]).json()["code"] == 0
    assert client.get("/_sandbox/events", params={"platform": "tiktok"}).json()["received"] == 1
    dropped = client.get("/_sandbox/requests", params={"platform": "tiktok"}).json()["requests"][0]
    assert dropped["status"] is None and dropped["fault"] == "drop"


def test_faults_only_hit_the_targeted_account_and_path(
    client: httpx.Client, clock: FakeClock
) -> None:
    arm(client, platform="meta", account=META_PIXEL, path="/events", mode="5xx", count=5)
    assert capi(client, [meta_event(clock)], pixel="6543210987654321").status_code == 200
    assert capi(client, [meta_event(clock)]).status_code == 500
    assert client.get("/_sandbox/faults").json()["faults"][0]["count"] == 4


def test_deleting_faults_disarms_them(client: httpx.Client, clock: FakeClock) -> None:
    arm(client, platform="meta", mode="5xx", count=10)
    assert client.delete("/_sandbox/faults").json() == {"cleared": 1}
    assert capi(client, [meta_event(clock)]).status_code == 200


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"platform": "meta", "mode": "explode"}, "mode must be one of"),
        ({"platform": "bing", "mode": "5xx"}, "platform must be one of"),
        ({"platform": "meta", "mode": "5xx", "count": 0}, "count must be a positive integer"),
        ({"platform": "meta", "mode": "slow", "delay_seconds": -1}, "delay_seconds"),
    ],
)
def test_an_invalid_fault_is_refused_with_422(
    client: httpx.Client, fault: dict, reason: str
) -> None:
    response = client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 422
    assert reason in response.json()["error"]


def test_rate_limits_throttle_per_account_with_each_platforms_code(
    client: httpx.Client, clock: FakeClock
) -> None:
    for platform in ("meta", "google_ads", "tiktok"):
        client.post(
            "/_sandbox/rate-limits", json={"platform": platform, "limit": 2, "window_seconds": 60}
        )
    assert [capi(client, [meta_event(clock)]).status_code for _ in range(2)] == [200, 200]
    throttled = capi(client, [meta_event(clock)])
    assert throttled.json()["error"]["code"] == 4
    assert (
        capi(client, [meta_event(clock)], pixel="6543210987654321").status_code == 200
    )  # other account

    for _ in range(2):
        assert client.post(SEARCH, headers=google_headers(), json=CAMPAIGN_QUERY).status_code == 200
    assert client.post(SEARCH, headers=google_headers(), json=CAMPAIGN_QUERY).status_code == 429

    assert [tiktok_track(client, [tiktok_event(clock)]).json()["code"] for _ in range(3)] == [
        0,
        0,
        40100,
    ]

    clock.advance(61)
    assert capi(client, [meta_event(clock)]).status_code == 200
    assert (
        client.get("/_sandbox/requests", params={"platform": "meta"}).json()["requests"][2][
            "throttled"
        ]
        is True
    )


def test_rate_limits_can_be_set_for_one_account_and_reset(
    client: httpx.Client, clock: FakeClock
) -> None:
    client.post(
        "/_sandbox/rate-limits", json={"platform": "meta", "account": META_PIXEL, "limit": 1}
    )
    capi(client, [meta_event(clock)])
    assert capi(client, [meta_event(clock)]).status_code == 400
    assert capi(client, [meta_event(clock)], pixel="6543210987654321").status_code == 200
    client.delete("/_sandbox/rate-limits")
    assert capi(client, [meta_event(clock)]).status_code == 200


def test_state_file_round_trip_keeps_accounts_objects_members_events_and_dedup(
    client: httpx.Client, clock: FakeClock, state: SandboxState, tmp_path
) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "meta", "account_id": "111111111111111", "known": False},
    )
    configure(client, "meta", META_AD_ACCOUNT, **EXACT_AUDIENCES)
    capi(client, [meta_event(clock)])
    created = client.post(
        f"/meta/v25.0/act_{META_AD_ACCOUNT}/customaudiences",
        params={"access_token": TOKEN},
        json={"name": "Buyers", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
    ).json()
    client.post(
        f"/meta/v25.0/{created['id']}/users",
        params={"access_token": TOKEN},
        json={
            "payload": {"schema": "EMAIL_SHA256", "data": [meta_event(clock)["user_data"]["em"][0]]}
        },
    )
    arm(client, platform="tiktok", mode="5xx", count=2)
    path = tmp_path / "sandbox.json"
    state.save(path)

    restored = SandboxState.load(path, clock=clock)
    with httpx.Client(
        transport=sandbox_transport(create_app(restored)), base_url="http://sandbox"
    ) as again:
        assert (
            capi(again, [meta_event(clock)]).status_code == 200
        )  # the same event again: a duplicate
        assert again.get("/_sandbox/events").json()["duplicates"] == 1
        audience = again.get(
            f"/meta/v25.0/{created['id']}",
            params={"access_token": TOKEN, "fields": "name,approximate_count_lower_bound"},
        ).json()
        assert audience == {
            "id": created["id"],
            "name": "Buyers",
            "approximate_count_lower_bound": 1,
        }
        assert (
            capi(again, [meta_event(clock)], pixel="111111111111111").json()["error"][
                "error_subcode"
            ]
            == 33
        )
        assert again.get("/_sandbox/faults").json()["faults"][0]["count"] == 2
        assert again.get("/_sandbox/requests").json()["count"] == 6
        new = again.post(
            f"/meta/v25.0/act_{META_AD_ACCOUNT}/customaudiences",
            params={"access_token": TOKEN},
            json={
                "name": "Viewers",
                "subtype": "CUSTOM",
                "customer_file_source": "USER_PROVIDED_ONLY",
            },
        ).json()
        assert int(new["id"]) == int(created["id"]) + 1  # ids continue, never collide


def test_paths_outside_the_platform_prefixes_answer_404(client: httpx.Client) -> None:
    response = client.get("/bing/v1/things")
    assert response.status_code == 404
    assert "/meta" in response.json()["prefixes"]
    assert client.get("/_sandbox/nothing").status_code == 404
