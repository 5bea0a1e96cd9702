"""Per-rater quality: does this rater agree with the others, know the gold answers, repeat
themselves when a pair comes back swapped, favour the left side, rush?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge_app.core.bias import position_bias, swap_consistency
from judge_app.core.verdict_frame import N_OUTCOMES, n_codes, prepare, primary, raters

COLUMNS = [
    "rater_id", "source", "verdicts", "loo_n", "loo_agreement", "gold_n", "gold_accuracy",
    "retest_n", "retest_consistency", "decisive_n", "left_share", "median_duration_ms",
]


def _leave_one_out(frame: pd.DataFrame, reference_source: str | None) -> tuple[np.ndarray, ...]:
    """Per primary verdict: is there a unique majority among the other reference raters, and
    does this verdict match it. Raters outside the reference set are compared with all of it.

    A unit has only 2K situations (this verdict's label, and whether it is among the counted
    ones), so they are solved per unit first and then looked up per verdict."""
    in_ref = np.ones(len(frame), dtype=bool)
    if reference_source is not None:
        in_ref = (frame["source"] == reference_source).to_numpy(dtype=bool)
    k = N_OUTCOMES
    u = frame["_u"].to_numpy(np.int64)
    c = frame["_c"].to_numpy(np.int64)
    n_units = n_codes(frame, "_u")
    counts = np.bincount(c[in_ref] * n_units + u[in_ref], minlength=k * n_units)
    counts = counts.reshape(k, n_units)  # labels x units: each label a contiguous row

    def unique_top(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = rows.max(axis=0, initial=0)
        return top, (top > 0) & ((rows == top).sum(axis=0) == 1)

    top_all, valid_all = unique_top(counts)
    hit_all = valid_all & (counts == top_all)
    valid_rm = np.empty_like(hit_all)
    hit_rm = np.empty_like(hit_all)
    for j in range(k):  # this verdict (label j) is among the counted ones: take it out
        others = counts.copy()
        others[j] -= 1
        top, valid_rm[j] = unique_top(others)
        hit_rm[j] = valid_rm[j] & (others[j] == top)
    cell = c * n_units + u
    valid = np.where(in_ref, valid_rm.ravel()[cell], valid_all[u])
    hit = np.where(in_ref, hit_rm.ravel()[cell], hit_all.ravel()[cell])
    return valid, hit


def rater_quality(verdicts: pd.DataFrame, reference_source: str | None = "human") -> pd.DataFrame:
    """One row per rater (people and judges), sorted by rater_id.

    loo_agreement: share of the rater's pairs where they match the majority of the other
    reference raters (source `reference_source`, or everyone when None); pairs where the others
    are evenly split or absent are left out (loo_n counts the rest). gold_accuracy: share of
    verdicts on pairs with a `gold_outcome` that match it. retest_consistency: see
    `bias.swap_consistency`. left_share: see `bias.position_bias` (decisive_n is its n).
    median_duration_ms over all the rater's verdicts. Undefined figures are NaN.
    """
    frame = prepare(verdicts, ("source", "purpose", "gold_outcome", "duration_ms", "left_side",
                               "consistent"))
    table = raters(frame)
    size = n_codes(frame, "_r")
    r_all = frame["_r"].to_numpy()
    first = primary(frame)
    r = first["_r"].to_numpy()
    loo_valid, loo_hit = _leave_one_out(first, reference_source)
    gold = first["_gold"].to_numpy()
    gold_valid = gold >= 0
    gold_hit = gold_valid & (gold == first["_c"].to_numpy())

    def per_rater(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=size)[table.index]

    with np.errstate(divide="ignore", invalid="ignore"):
        table["verdicts"] = per_rater(r_all, np.ones(len(r_all), dtype=bool))
        table["loo_n"] = per_rater(r, loo_valid)
        table["loo_agreement"] = per_rater(r, loo_hit) / table["loo_n"].replace(0, np.nan)
        table["gold_n"] = per_rater(r, gold_valid)
        table["gold_accuracy"] = per_rater(r, gold_hit) / table["gold_n"].replace(0, np.nan)
    retest = swap_consistency(frame).set_index("rater_id")
    position = position_bias(frame).set_index("rater_id")
    ids = table["rater_id"]
    table["retest_n"] = retest["n"].reindex(ids).to_numpy()
    table["retest_consistency"] = retest["consistency"].reindex(ids).to_numpy()
    table["decisive_n"] = position["n"].reindex(ids).to_numpy()
    table["left_share"] = position["left_share"].reindex(ids).to_numpy()
    table["median_duration_ms"] = frame.groupby("_r")["duration_ms"].median()
    return table.sort_values("rater_id").reset_index(drop=True)[COLUMNS]
