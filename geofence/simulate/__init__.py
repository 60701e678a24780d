"""``geofence simulate``: a seeded account-farm campaign among honest traffic, through the real
policy and store, with the figures that say how well the signals catch it.

``generate`` (generator.py) builds the traffic on real networks of the embedded data,
``run`` (runner.py) evaluates it with a real ``Geofence``, ``report`` (metrics.py) computes
precision, recall, time to detection and the ROC AUC, and ``plot`` (plot.py) draws the score
distributions.
"""

from __future__ import annotations

from geofence.simulate.generator import Simulation, generate
from geofence.simulate.metrics import Report, report
from geofence.simulate.model import Scenario
from geofence.simulate.runner import Outcome, run

__all__ = ["Outcome", "Report", "Scenario", "Simulation", "generate", "report", "run"]
