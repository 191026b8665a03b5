"""The market's control endpoints and the simulate CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from usher.sandbox import simulate
from usher.sandbox.market import load_scenario, model
from usher.sandbox.tests.market_helpers import EXAMPLE, scenario_dict, segment

MARKET = "/_sandbox/market"


def test_a_scenario_is_loaded_advanced_and_read_back_over_http(client: httpx.Client) -> None:
    assert client.get(MARKET).status_code == 404
    loaded = client.post(MARKET, json={"scenario": scenario_dict(segment()), "seed": 5})
    assert loaded.status_code == 201
    assert loaded.json()["now"] == "2027-03-01T00:00:00+00:00" and loaded.json()["seed"] == 5
    campaign = client.post(
        f"{MARKET}/campaigns",
        json={"platform": "meta", "campaign_type": "prospecting", "daily_budget": 480},
    ).json()
    assert campaign["ads"] == {"poster": campaign["ads"]["poster"]}
    advanced = client.post(f"{MARKET}/advance", json={"hours": 5, "minutes": 30}).json()
    assert advanced["delivered_hours"] == 5 and advanced["now"] == "2027-03-01T05:30:00+00:00"
    truth = client.get(f"{MARKET}/truth", params={"hourly": 1}).json()
    assert truth["spend"] == pytest.approx(100) and len(truth["hours"]) == 5
    assert truth["hours"][0]["expected_conversions"] > 0
    purchases = client.get(f"{MARKET}/purchases").json()
    assert len(purchases["purchases"]) == sum(h["conversions"] for h in truth["hours"])
    later = client.get(f"{MARKET}/purchases", params={"after": purchases["last_seq"]}).json()
    assert later == {"purchases": [], "last_seq": purchases["last_seq"]}
    visits = client.get(f"{MARKET}/visits", params={"hour": 2, "per_ad": 3}).json()["visits"]
    assert len(visits) == 3 and visits[0]["click_id_param"] == "fbclid"
    assert client.post("/_sandbox/reset").status_code == 200
    assert client.get(MARKET).status_code == 404


def test_a_broken_scenario_is_refused_with_the_fields_path(client: httpx.Client) -> None:
    broken = scenario_dict(segment(ctr=2))
    answer = client.post(MARKET, json=broken)
    assert answer.status_code == 422 and answer.json()["path"] == "$.segments[0].ctr"
    assert client.get(MARKET).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{"hours": -1}, {"days": "two"}, {"days": 1000}, {"minutes": True}, ["hours", 1]],
)
def test_bad_advances_are_refused(client: httpx.Client, body: object) -> None:
    client.post(MARKET, json=scenario_dict())
    answer = client.post(f"{MARKET}/advance", json=body)
    assert answer.status_code == 422
    assert client.get(MARKET).json()["hour"] == 0


def test_campaigns_for_missing_segments_are_refused(client: httpx.Client) -> None:
    client.post(MARKET, json=scenario_dict())
    for body in (
        {"platform": "meta", "campaign_type": "retargeting", "daily_budget": 10},
        {"platform": "bing", "campaign_type": "prospecting", "daily_budget": 10},
        {"platform": "meta", "campaign_type": "prospecting", "daily_budget": 0},
    ):
        assert client.post(f"{MARKET}/campaigns", json=body).status_code == 422


def test_the_cli_writes_the_truth_totals_within_one_percent_of_the_closed_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["overdelivery"] = 0
    source = tmp_path / "example.json"
    source.write_text(json.dumps(data))
    out = tmp_path / "out" / "totals.json"
    assert simulate.main(["--scenario", str(source), "--equal-split", "--json", str(out)]) == 0
    totals = json.loads(out.read_text())
    assert set(totals) == {"scenario", "expected_revenue", "realized_revenue", "spend", "segments"}
    assert set(totals["segments"][0]) == {
        "platform",
        "campaign_type",
        "spend",
        "expected_revenue",
        "realized_revenue",
        "conversions",
    }
    closed = model.equal_split_closed_form(load_scenario(source))
    assert totals["expected_revenue"] == pytest.approx(closed.expected_revenue, rel=0.01)
    progress = capsys.readouterr().err
    assert "day 21/21" in progress and "done in" in progress


def test_the_cli_is_deterministic_per_seed(tmp_path: Path) -> None:
    outputs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        out = tmp_path / f"{name}.json"
        args = ["--scenario", str(EXAMPLE), "--equal-split", "--seed", seed, "--json", str(out)]
        simulate.main(args)
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1] != outputs[2]


def test_the_cli_refuses_a_broken_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.json"
    source.write_text(json.dumps(scenario_dict(days=0)))
    out = tmp_path / "out.json"
    code = simulate.main(["--scenario", str(source), "--equal-split", "--json", str(out)])
    assert code == simulate.EXIT_BAD_SCENARIO and not out.exists()
    assert "$.days" in capsys.readouterr().err
