"""Bias figures: position (left wins), length (longer wins), swap consistency.

Each is a share of successes with a Wilson score interval, per rater (judges are raters with
source 'judge'), per source, or overall. Unlike agreement these use every verdict, re-tests and
a judge's second order included: each showing of a pair is one more chance to favour a side.
A rater with no qualifying verdict gets n = 0 and NaN figures, so tables line up.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from judge_app.core.verdict_frame import A, B, decisive, outcome_codes, prepare

By = Literal["rater_id", "source"] | None


def wilson_interval(
    successes: np.ndarray, n: np.ndarray, confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial share; stays inside [0, 1] and is NaN where n = 0."""
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
    # exact ends where the share is 0 or 1, instead of rounding noise
    lower = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    upper = np.where(k == m, 1.0, np.clip(centre + half, 0.0, 1.0))
    nan = m == 0
    return np.where(nan, np.nan, lower), np.where(nan, np.nan, upper)


def _share_table(
    keys: pd.DataFrame, valid: np.ndarray, hit: np.ndarray, by: By, hits_name: str,
    share_name: str, confidence: float,
) -> pd.DataFrame:
    """Group `valid` / `valid & hit` counts by `by` and add the share and its interval."""
    data = pd.DataFrame({
        "_key": keys[by].to_numpy() if by else np.zeros(len(keys), dtype=np.int8),
        "n": valid.astype(np.int64),
        hits_name: (valid & hit).astype(np.int64),
    })
    table = data.groupby("_key", sort=True)[["n", hits_name]].sum()
    if by is None and table.empty:
        table = pd.DataFrame({"n": [0], hits_name: [0]})
    n, k = table["n"].to_numpy(), table[hits_name].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table[share_name] = k / n
    table["lower"], table["upper"] = wilson_interval(k, n, confidence)
    table = table.reset_index(drop=by is None)
    if by is None:
        return table
    table = table.rename(columns={"_key": by})
    if by == "rater_id":
        sources = keys.drop_duplicates("rater_id").set_index("rater_id")["source"]
        table.insert(1, "source", sources.reindex(table["rater_id"]).to_numpy())
    return table


def position_bias(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of decisive verdicts that chose the side shown on the left (0.5 = no bias).

    Verdicts with an unknown left side are left out. Columns: [by, source], n, left_wins,
    left_share, lower, upper.
    """
    frame = prepare(verdicts, ("source", "left_side"))
    codes = frame["_c"].to_numpy()
    left = outcome_codes(frame["left_side"], field="left_side")
    valid = decisive(codes) & (left >= A) & (left <= B)
    return _share_table(frame, valid, codes == left, by, "left_wins", "left_share", confidence)


def length_bias(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of decisive verdicts won by the longer response (0.5 = no bias).

    Needs `len_a` and `len_b`; pairs of equal or unknown length are left out. Columns:
    [by, source], n, longer_wins, longer_share, lower, upper.
    """
    frame = prepare(verdicts, ("source", "len_a", "len_b"))
    codes = frame["_c"].to_numpy()
    len_a = pd.to_numeric(frame["len_a"], errors="coerce").to_numpy(dtype=float)
    len_b = pd.to_numeric(frame["len_b"], errors="coerce").to_numpy(dtype=float)
    valid = decisive(codes) & np.isfinite(len_a) & np.isfinite(len_b) & (len_a != len_b)
    longer = np.where(len_a > len_b, A, B)
    return _share_table(frame, valid, codes == longer, by, "longer_wins", "longer_share",
                        confidence)


def swap_consistency(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of pairs on which a rater's two verdicts agree (canonical outcomes).

    A rater judging one pair twice is a swap re-test for a person (the original verdict first,
    the one with kind 'retest' second) or both orders for a judge (the first two in row order).
    A pair judged once counts through its `consistent` flag when a judge run stored one.
    Columns: [by, source], n, consistent, consistency, lower, upper.
    """
    frame = prepare(verdicts, ("source", "kind", "consistent"))
    r, u = frame["_r"].to_numpy(), frame["_u"].to_numpy()
    retest = (frame["kind"] == "retest").to_numpy()
    order = np.lexsort((frame["_pos"].to_numpy(), retest, u, r))
    sr, su, sc = r[order], u[order], frame["_c"].to_numpy()[order]
    boundary = np.ones(len(order), dtype=bool)
    boundary[1:] = (sr[1:] != sr[:-1]) | (su[1:] != su[:-1])
    starts = np.flatnonzero(boundary)
    sizes = np.diff(np.r_[starts, len(order)])
    twice = sizes >= 2
    second = np.minimum(starts + 1, max(len(order) - 1, 0))
    flag = frame["consistent"].astype("boolean").to_numpy(dtype=float, na_value=np.nan)[order]
    flagged = ~twice & ~np.isnan(flag[starts])
    valid = twice | flagged
    hit = np.where(twice, sc[starts] == sc[second], flag[starts] == 1.0)
    keys = frame.iloc[order[starts]]
    return _share_table(keys, valid, hit, by, "consistent", "consistency", confidence)
