"""A release gate: is the candidate significantly worse than a required win rate?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from judge_app.core.bradley_terry import RatingFit
from judge_app.core.intervals import Intervals, difference_se


@dataclass(frozen=True)
class GateResult:
    candidate: str
    baseline: str
    win_probability: float  # P(candidate beats baseline), ties counted as half
    lower: float
    upper: float
    min_win_rate: float
    confidence: float
    passed: bool

    def reason(self) -> str:
        interval = f"{self.win_probability:.3f} [{self.lower:.3f}, {self.upper:.3f}]"
        if self.passed:
            return (f"pass: {self.candidate} vs {self.baseline} expected win rate {interval}; "
                    f"not significantly below {self.min_win_rate:.3f}")
        return (f"FAIL: {self.candidate} vs {self.baseline} expected win rate {interval} is "
                f"below {self.min_win_rate:.3f} at {self.confidence:.0%} confidence")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def gate(
    fit: RatingFit, intervals: Intervals, candidate: str, baseline: str,
    min_win_rate: float = 0.5, confidence: float = 0.95,
) -> GateResult:
    """One-sided test on the Bradley-Terry difference, which uses every battle, not just
    head-to-head ones: fail when the upper confidence bound is below ``min_win_rate``."""
    i, j = fit.models.index(candidate), fit.models.index(baseline)
    diff = float(fit.theta[i] - fit.theta[j])
    se = difference_se(intervals, i, j)
    z = NormalDist().inv_cdf(confidence)
    upper = _sigmoid(diff + z * se) if math.isfinite(se) else 1.0
    lower = _sigmoid(diff - z * se) if math.isfinite(se) else 0.0
    return GateResult(candidate, baseline, _sigmoid(diff), lower, upper, min_win_rate,
                      confidence, passed=upper >= min_win_rate)
