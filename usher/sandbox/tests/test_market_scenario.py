"""Scenario files: validated by the JSON Schema, refused with the offending field's path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from usher.sandbox.market import ScenarioError, load_scenario
from usher.sandbox.tests.market_helpers import EXAMPLE, scenario_dict, segment

BENCH_MARKETS = EXAMPLE.parent


@pytest.mark.parametrize("path", sorted(BENCH_MARKETS.glob("*.json")), ids=lambda p: p.name)
def test_every_bundled_scenario_is_valid(path: Path) -> None:
    loaded = load_scenario(path)
    assert loaded.segments and abs(sum(loaded.hourly) - 1) < 1e-9


def test_the_example_loads_with_its_defaults_filled_in() -> None:
    loaded = load_scenario(EXAMPLE)
    assert loaded.days == 21 and len(loaded.segments) == 5
    assert loaded.hourly == (1 / 24,) * 24  # uniform when the file has none
    tiktok = loaded.segment_for("tiktok", "prospecting")
    assert tiktok is not None and tiktok.platform_reporting_factor == 1.3
    assert loaded.segment_for("meta", "prospecting").order_value_cv == 0  # type: ignore[union-attr]


def _broken(mutate: Any) -> dict[str, Any]:
    data = scenario_dict(segment(), segment("google_ads"))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["segments"][1].update(cpm=-3), "$.segments[1].cpm"),
        (lambda d: d.pop("days"), "$.days"),
        (lambda d: d.update(days=0), "$.days"),
        (lambda d: d.update(schema_version=2), "$.schema_version"),
        (lambda d: d["segments"][0].update(platform="myspace"), "$.segments[0].platform"),
        (lambda d: d["segments"][0].update(colour="red"), "$.segments[0].colour"),
        (lambda d: d["segments"][0]["creatives"].clear(), "$.segments[0].creatives"),
        (lambda d: d.update(start="next tuesday"), "$.start"),
        (lambda d: d.update(start="2027-03-01T00:00:00"), "$.start"),
        (lambda d: d.update(start="2027-03-01T00:30:00Z"), "$.start"),
        (lambda d: d.update(demand={"hourly": [0] * 24}), "$.demand.hourly"),
        (lambda d: d.update(demand={"weekday": [1] * 6}), "$.demand.weekday"),
        (
            lambda d: d["segments"][0].update(change_points=[{"day": 99}]),
            "$.segments[0].change_points[0].day",
        ),
        (
            lambda d: d.update(
                outages=[{"platform": "meta", "from_hour": 5, "to_hour": 2, "error": "5xx"}]
            ),
            "$.outages[0].to_hour",
        ),
    ],
)
def test_a_broken_scenario_is_refused_naming_the_field(mutate: Any, path: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(_broken(mutate))
    assert refused.value.path == path


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(broken)
    assert refused.value.path == "$"


def test_hourly_shares_are_normalized_to_sum_one() -> None:
    hourly = [0] * 12 + [2] * 12
    loaded = load_scenario(scenario_dict(demand={"hourly": hourly}))
    assert loaded.hourly[:12] == (0.0,) * 12 and loaded.hourly[12] == pytest.approx(1 / 12)


def test_a_start_with_an_offset_is_read_as_utc() -> None:
    loaded = load_scenario(scenario_dict(start="2027-03-01T02:00:00+02:00"))
    assert loaded.start.isoformat() == "2027-03-01T00:00:00+00:00"


def test_the_schema_copy_keeps_the_shared_format() -> None:
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "market" / "scenario.schema.json").read_text()
    )
    assert schema["$id"] == "usher-market-scenario-v1"
    assert schema["properties"]["schema_version"] == {"const": 1}
