"""Server-side series turned into charts on a page.

A view builds a `Chart` from rows it already aggregated in the database and passes it
to the template include `usher/chart.html`; the include writes the series as a
`json_script`, a `<canvas>` and an accessible data table, and `usher/charts.js` (which
loads the vendored Chart.js) draws every chart on the page. Admin templates use the same
include, so staff and organizer charts look and behave alike.

The JSON shape (`Chart.config`) is the interface between Python and `charts.js`:
`{"type", "labels", "currency", "datasets": [{"label", "data", "axis", "type"?}]}`,
where `axis` is `money`, `count` or `ratio` (each gets its own y scale and formatting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Axis = Literal["money", "count", "ratio"]
ChartType = Literal["line", "bar"]
Value = Decimal | int | float | None


@dataclass(frozen=True)
class Dataset:
    label: str
    values: Sequence[Value]
    axis: Axis = "money"
    # Draw this series differently from the chart's type (e.g. a ROAS line over spend bars).
    type: ChartType | None = None


@dataclass(frozen=True)
class Chart:
    """One chart: `element_id` must be unique on the page; `title` is its accessible name."""

    element_id: str
    title: str
    labels: Sequence[str]
    datasets: Sequence[Dataset]
    type: ChartType = "line"
    currency: str = ""
    rows: list[tuple[str, list[Value]]] = field(init=False)

    def __post_init__(self) -> None:
        for dataset in self.datasets:
            if len(dataset.values) != len(self.labels):
                raise ValueError(
                    f"{dataset.label}: {len(dataset.values)} values for {len(self.labels)} labels"
                )
        # The table under the chart (the same numbers for screen readers and for tests).
        rows = [
            (label, [d.values[i] for d in self.datasets]) for i, label in enumerate(self.labels)
        ]
        object.__setattr__(self, "rows", rows)

    @property
    def config(self) -> dict:
        """What `charts.js` reads: plain JSON numbers (Decimals as floats, for drawing only;
        the table shows the exact values)."""
        return {
            "type": self.type,
            "labels": [str(label) for label in self.labels],
            "currency": self.currency,
            "datasets": [
                {
                    "label": d.label,
                    "axis": d.axis,
                    "data": [None if v is None else float(v) for v in d.values],
                    **({"type": d.type} if d.type else {}),
                }
                for d in self.datasets
            ],
        }

    @property
    def is_empty(self) -> bool:
        return not self.labels
