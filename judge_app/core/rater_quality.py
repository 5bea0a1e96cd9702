"""Per-rater quality: does this rater agree with the others, know the gold answers, repeat
themselves when a pair comes back swapped, favour the left side, rush?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge_app.core.bias import position_bias, swap_consistency
from judge_app.core.verdict_frame import N_OUTCOMES, outcome_codes, prepare, primary

COLUMNS = [
    "rater_id", "source", "verdicts", "loo_n", "loo_agreement", "gold_n", "gold_accuracy",
    "retest_n", "retest_consistency", "decisive_n", "left_share", "median_duration_ms",
]


def _leave_one_out(frame: pd.DataFrame, reference_source: str | None) -> tuple[np.ndarray, ...]:
    """Per primary verdict: is there a unique majority among the other reference raters, and
    does this verdict match it. Raters outside the reference set are compared with all of it."""
    in_ref = np.ones(len(frame), dtype=bool)
    if reference_source is not None:
        in_ref = (frame["source"] == reference_source).to_numpy()
    u = frame["_u"].to_numpy(np.int64)
    c = frame["_c"].to_numpy(np.int64)
    n_units = int(u.max()) + 1 if len(u) else 0
    counts = np.bincount(u[in_ref] * N_OUTCOMES + c[in_ref], minlength=n_units * N_OUTCOMES)
    others = counts.reshape(n_units, N_OUTCOMES)[u]
    rows = np.arange(len(frame))
    others[rows[in_ref], c[in_ref]] -= 1
    top = others.max(axis=1, initial=0)
    valid = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
    return valid, valid & (others[rows, c] == top)


def rater_quality(verdicts: pd.DataFrame, reference_source: str | None = "human") -> pd.DataFrame:
    """One row per rater (people and judges), sorted by rater_id.

    loo_agreement: share of the rater's pairs where they match the majority of the other
    reference raters (source `reference_source`, or everyone when None); pairs where the others
    are split evenly or absent are left out (loo_n counts the rest). gold_accuracy: share of
    verdicts on pairs with a `gold_outcome` that match it. retest_consistency: see
    `bias.swap_consistency`. left_share: see `bias.position_bias` (decisive_n is its n).
    median_duration_ms over all the rater's verdicts. Undefined figures are NaN.
    """
    frame = prepare(verdicts, ("source", "kind", "gold_outcome", "duration_ms", "left_side",
                               "consistent"))
    first = primary(frame)
    loo_valid, loo_hit = _leave_one_out(first, reference_source)
    gold = outcome_codes(first["gold_outcome"], field="gold_outcome")
    gold_valid = gold >= 0
    per_pair = pd.DataFrame({
        "rater_id": first["rater_id"].to_numpy(),
        "loo_n": loo_valid.astype(np.int64),
        "loo_hits": loo_hit.astype(np.int64),
        "gold_n": gold_valid.astype(np.int64),
        "gold_hits": (gold_valid & (gold == first["_c"].to_numpy())).astype(np.int64),
    }).groupby("rater_id", sort=True).sum()
    everything = frame.groupby("rater_id", sort=True)
    table = pd.DataFrame({
        "source": everything["source"].first(),
        "verdicts": everything.size(),
        "median_duration_ms": pd.to_numeric(frame["duration_ms"], errors="coerce")
        .groupby(frame["rater_id"], sort=True).median(),
    })
    table = table.join(per_pair)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["loo_agreement"] = table["loo_hits"] / table["loo_n"]
        table["gold_accuracy"] = table["gold_hits"] / table["gold_n"]
    retest = swap_consistency(frame).set_index("rater_id")
    table["retest_n"] = retest["n"]
    table["retest_consistency"] = retest["consistency"]
    position = position_bias(frame).set_index("rater_id")
    table["decisive_n"] = position["n"]
    table["left_share"] = position["left_share"]
    return table.rename_axis("rater_id").reset_index()[COLUMNS]
