"""A release gate as a non-inferiority test: is the candidate at most `margin` worse than
required, is it worse than that, or is there too little evidence to tell?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from judge_app.core.bradley_terry import RatingFit
from judge_app.core.intervals import Intervals, difference_se

Status = Literal["pass", "fail", "undecided"]


@dataclass(frozen=True)
class GateResult:
    candidate: str
    baseline: str
    win_probability: float  # P(candidate beats baseline), ties counted as half; NaN if unrated
    lower: float
    upper: float
    min_win_rate: float
    confidence: float
    status: Status
    margin: float = 0.0
    battles: int = 0  # the candidate's battles in the fit (against every opponent)
    min_battles: int = 0
    head_to_head: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def threshold(self) -> float:
        """The win rate the candidate must be shown to exceed: min_win_rate - margin."""
        return self.min_win_rate - self.margin

    def reason(self) -> str:
        interval = (f"{self.win_probability:.3f} [{self.lower:.3f}, {self.upper:.3f}]"
                    if math.isfinite(self.win_probability) else "n/a (unrated)")
        level = f"{self.confidence:.0%} confidence"
        what = (f"{self.candidate} vs {self.baseline} expected win rate {interval} "
                f"({self.battles} battles of {self.candidate}, {self.head_to_head} head to head)")
        bar = f"{self.threshold:.3f} (= {self.min_win_rate:.3f} - margin {self.margin:.3f})"
        if self.status == "pass":
            return f"pass: {what}; lower bound above {bar} at {level}"
        if self.status == "fail":
            return f"FAIL: {what}; upper bound below {bar} at {level}"
        if self.battles < self.min_battles:
            why = f"fewer than --min-battles {self.min_battles} battles"
        elif not math.isfinite(self.win_probability):
            why = "the candidate or the baseline is unrated (no wins or no losses)"
        else:
            why = f"the interval contains {bar}"
        return f"UNDECIDED: {what}; {why}: collect more verdicts"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def gate(
    fit: RatingFit, intervals: Intervals, candidate: str, baseline: str,
    min_win_rate: float = 0.5, confidence: float = 0.95, *, margin: float = 0.0,
    min_battles: int = 0,
) -> GateResult:
    """Non-inferiority on the Bradley-Terry win probability, which uses every battle, not just
    head-to-head ones. With one-sided bounds at `confidence` and threshold
    t = min_win_rate - margin: pass when the lower bound is above t, fail when the upper bound
    is below t, undecided otherwise, and undecided whenever the candidate has fewer than
    `min_battles` battles or either model is unrated."""
    i, j = fit.models.index(candidate), fit.models.index(baseline)
    battles = int(fit.counts.n_battles[i])
    head_to_head = int(fit.counts.n_pair[i, j])
    diff = float(fit.theta[i] - fit.theta[j])
    se = difference_se(intervals, i, j)
    z = NormalDist().inv_cdf(confidence)
    threshold = min_win_rate - margin
    status: Status = "undecided"
    if not math.isfinite(diff):
        p, lower, upper = math.nan, 0.0, 1.0
    else:
        p = _sigmoid(diff)
        upper = _sigmoid(diff + z * se) if math.isfinite(se) else 1.0
        lower = _sigmoid(diff - z * se) if math.isfinite(se) else 0.0
        if battles >= min_battles:
            if lower > threshold:
                status = "pass"
            elif upper < threshold:
                status = "fail"
    return GateResult(candidate, baseline, p, lower, upper, min_win_rate, confidence, status,
                      margin=margin, battles=battles, min_battles=min_battles,
                      head_to_head=head_to_head)
