"""The shared chart piece: a server-side series becomes JSON for charts.js and an
accessible table with the exact numbers."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from usher.dashboard.charts import Chart, Dataset


def _chart() -> Chart:
    return Chart(
        element_id="perf",
        title="Spend per day",
        labels=["2026-11-01", "2026-11-02"],
        datasets=[
            Dataset("Spend", [Decimal("12.50"), Decimal("7.25")]),
            Dataset("ROAS", [Decimal("3.10"), None], axis="ratio", type="line"),
        ],
        type="bar",
        currency="RON",
    )


def test_the_config_carries_numbers_axes_and_per_series_types():
    config = _chart().config
    assert config["type"] == "bar" and config["currency"] == "RON"
    assert config["datasets"][0] == {"label": "Spend", "axis": "money", "data": [12.5, 7.25]}
    assert config["datasets"][1]["data"] == [3.1, None]
    assert config["datasets"][1]["type"] == "line" and config["datasets"][1]["axis"] == "ratio"


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="Spend"):
        Chart("x", "t", labels=["a", "b"], datasets=[Dataset("Spend", [1])])


def test_the_include_writes_the_json_the_canvas_and_the_table():
    html = render_to_string("usher/chart.html", {"chart": _chart()})
    script = re.search(r'<script id="perf" type="application/json">(.*?)</script>', html)
    assert json.loads(script.group(1)) == _chart().config
    assert 'data-usher-chart="perf"' in html and 'aria-label="Spend per day"' in html
    assert "<td>12.50</td>" in html and "<td>\u2013</td>" in html
    assert "usher/vendor/chartjs-4.6.1/chart.umd.min.js" in html and "usher/charts.js" in html


def test_an_empty_chart_says_so_instead_of_drawing():
    html = render_to_string("usher/chart.html", {"chart": Chart("e", "Empty", [], [])})
    assert "No data yet." in html and "<canvas" not in html
