"""The market simulator: campaigns in the sandbox deliver over simulated time.

- `scenario`: load and validate a scenario file (the hidden truth).
- `model`: the pure math (demand, saturation, change points, the closed form).
- `engine.Market`: the simulated clock, hourly delivery, reports, truth, purchases.
- `campaigns`: campaign objects written straight into the sandbox's state.

See docs/simulator.md.
"""

from usher.sandbox.market.campaigns import CampaignRef
from usher.sandbox.market.engine import HourTruth, Market, Purchase, Visit
from usher.sandbox.market.scenario import Scenario, ScenarioError, Segment, load_scenario

__all__ = [
    "CampaignRef",
    "HourTruth",
    "Market",
    "Purchase",
    "Scenario",
    "ScenarioError",
    "Segment",
    "Visit",
    "load_scenario",
]
