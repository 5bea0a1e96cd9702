"""Bias figures: position (left wins), length (longer wins), swap consistency.

Each is a share of successes with a Wilson score interval, per rater (judges are raters with
source 'judge'), per source, or overall. Unlike agreement these use every verdict, re-tests and
a judge's second order included: each showing of a pair is one more chance to favour a side.
Every rater in the frame gets a row; one with no qualifying verdict has n = 0 and NaN figures.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from judge_app.core.verdict_frame import A, B, decisive, n_codes, prepare, raters, repeated

By = Literal["rater_id", "source"] | None


def wilson_interval(
    successes: np.ndarray, n: np.ndarray, confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial share: inside [0, 1], exact at 0 and 1, NaN at n = 0.

    Chosen over the normal approximation because rater counts are often small and shares
    extreme (a rater who always clicks left), where the latter leaves [0, 1] or collapses.
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
    lower = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    upper = np.where(k == m, 1.0, np.clip(centre + half, 0.0, 1.0))
    undefined = m == 0
    return np.where(undefined, np.nan, lower), np.where(undefined, np.nan, upper)


def share_table(
    frame: pd.DataFrame, valid: np.ndarray, hit: np.ndarray, by: By, hits_name: str,
    share_name: str, confidence: float = 0.95,
) -> pd.DataFrame:
    """Count `valid` rows and `valid & hit` rows per group of a prepared frame (with "source"),
    and add the share and its interval; integer arrays instead count that many per row.
    Columns: [by (+ source)], n, hits_name, share_name, lower, upper; sorted by the group
    key."""
    if by == "rater_id":
        keys = raters(frame)
        codes = frame["_r"].to_numpy()
    elif by == "source":
        codes, uniques = pd.factorize(frame["source"])
        keys = pd.DataFrame({"source": np.asarray(uniques, dtype=object)})
    elif by is None:
        codes = np.zeros(len(frame), dtype=np.int64)
        keys = pd.DataFrame(index=pd.RangeIndex(1))
    else:
        raise ValueError(f"cannot group by {by!r}")
    size = n_codes(frame, "_r") if by == "rater_id" else len(keys)
    if valid.dtype == bool:
        n = np.bincount(codes[valid], minlength=size)
        k = np.bincount(codes[valid & hit], minlength=size)
    else:  # counts per row (a row standing for several showings)
        n = np.bincount(codes, weights=valid, minlength=size).astype(np.int64)
        k = np.bincount(codes, weights=hit, minlength=size).astype(np.int64)
    table = keys.assign(n=n[keys.index], **{hits_name: k[keys.index]})
    with np.errstate(divide="ignore", invalid="ignore"):
        table[share_name] = table[hits_name] / table["n"].replace(0, np.nan)
    table["lower"], table["upper"] = wilson_interval(table[hits_name].to_numpy(),
                                                     table["n"].to_numpy(), confidence)
    return table.sort_values(by).reset_index(drop=True) if by else table


def position_bias(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of decisive showings that chose the side shown on the left (0.5 = no bias).

    Counted per shown order: a verdict with its left side counts once; a judge verdict
    combined from both orders counts each of its calls (`order_decisive` of them chose a
    side, `order_left_wins` the one shown first), so a judge that always picks the first
    answer shows a share of 1 even though its combined verdicts are all ties. Verdicts with
    an unknown left side and no calls are left out. Columns: [by, source], n, left_wins,
    left_share, lower, upper.
    """
    frame = prepare(verdicts, ("source", "left_side", "order_decisive", "order_left_wins"))
    codes, left = frame["_c"].to_numpy(), frame["_left"].to_numpy()
    valid = (decisive(codes) & decisive(left)).astype(np.int64)
    hit = (valid.astype(bool) & (codes == left)).astype(np.int64)
    orders = frame["order_decisive"].to_numpy()
    combined = (left < 0) & ~np.isnan(orders)
    valid[combined] = orders[combined].astype(np.int64)
    hit[combined] = frame["order_left_wins"].to_numpy()[combined].astype(np.int64)
    return share_table(frame, valid, hit, by, "left_wins", "left_share", confidence)


def length_bias(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of decisive verdicts won by the longer response (0.5 = no bias).

    Needs `len_a` and `len_b`; pairs of equal or unknown length are left out. Columns:
    [by, source], n, longer_wins, longer_share, lower, upper.
    """
    frame = prepare(verdicts, ("source", "len_a", "len_b"))
    codes = frame["_c"].to_numpy()
    len_a, len_b = frame["len_a"].to_numpy(), frame["len_b"].to_numpy()
    valid = decisive(codes) & np.isfinite(len_a) & np.isfinite(len_b) & (len_a != len_b)
    longer = np.where(len_a > len_b, A, B)
    return share_table(frame, valid, codes == longer, by, "longer_wins", "longer_share",
                       confidence)


def swap_consistency(
    verdicts: pd.DataFrame, by: By = "rater_id", confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of swapped showings of a pair on which a rater's verdicts agree (canonical outcomes).

    A rater's verdicts on one pair with opposite left sides are swaps of each other: the k-th
    shown one way is compared with the k-th shown the other way (a judge's two orders, as
    MT-Bench's g1/g2 and Arena-Hard's two games ship them, or a person's swapped re-test).
    Otherwise, where the left side is unknown or a re-test was asked for, a rater judging one
    pair twice compares the first two (the original verdict first, the one with purpose 'retest'
    second); repeats shown the same way round are no swap and do not count. A pair judged
    once counts through its `consistent` flag when a judge run stored one.
    Columns: [by, source], n, consistent, consistency, lower, upper.
    """
    # positions, not labels, index the rows below (a subset of a prepared frame keeps labels)
    frame = prepare(verdicts, ("source", "purpose", "consistent", "left_side")).reset_index(
        drop=True)
    twice = repeated(frame)
    # one row stands for each comparison: the first of a matched or repeated group, or a
    # single verdict with its consistent flag
    valid = ~twice & ~np.isnan(frame["consistent"].to_numpy())
    hit = frame["consistent"].to_numpy() == 1.0
    swapped = _swapped_showings(frame, twice)
    if len(swapped):
        rows = swapped["row"].to_numpy()
        valid[rows] = True
        hit[rows] = swapped["agree"].to_numpy()
    in_swaps = np.zeros(len(frame), dtype=bool)
    if len(swapped):
        done = pd.MultiIndex.from_frame(swapped[["_r", "_u"]])
        in_swaps = pd.MultiIndex.from_frame(frame[["_r", "_u"]]).isin(done)
    # Repeats without swapped sides count only as re-tests, or where the side is unknown (a
    # judge's two orders shown one way each would otherwise compare an order with itself).
    unswapped = pd.Series((frame["_left"].to_numpy() < 0) | frame["_retest"].to_numpy())
    loose = unswapped.groupby([frame["_r"], frame["_u"]]).transform("any").to_numpy(dtype=bool)
    multi = frame.loc[twice & ~in_swaps & loose]
    if len(multi):
        r, u = multi["_r"].to_numpy(), multi["_u"].to_numpy()
        order = np.lexsort((multi["_pos"].to_numpy(), multi["_retest"].to_numpy(), u, r))
        r, u, c = r[order], u[order], multi["_c"].to_numpy()[order]
        starts = np.flatnonzero(np.r_[True, (r[1:] != r[:-1]) | (u[1:] != u[:-1])])
        starts = starts[starts + 1 < len(r)]
        starts = starts[(r[starts + 1] == r[starts]) & (u[starts + 1] == u[starts])]
        rows = multi.index.to_numpy()[order[starts]]
        valid[rows] = True
        hit[rows] = c[starts] == c[starts + 1]
    return share_table(frame, valid, hit, by, "consistent", "consistency", confidence)


def _swapped_showings(frame: pd.DataFrame, twice: np.ndarray) -> pd.DataFrame:
    """The k-th left-'a' verdict of a rater on a pair matched with the k-th left-'b' one.

    Columns: _r, _u, row (frame position of the left-'a' verdict), agree.
    """
    left = frame["_left"].to_numpy()
    sub = frame.loc[twice & ((left == A) | (left == B)), ["_r", "_u", "_pos", "_left", "_c"]]
    if sub.empty:
        return pd.DataFrame(columns=["_r", "_u", "row", "agree"])
    sub = sub.sort_values("_pos", kind="stable")
    sub["k"] = sub.groupby(["_r", "_u", "_left"]).cumcount()
    sub["row"] = sub.index.to_numpy()
    shown_a, shown_b = sub[sub["_left"] == A], sub[sub["_left"] == B]
    pairs = shown_a.merge(shown_b, on=["_r", "_u", "k"], suffixes=("", "_b"))
    return pd.DataFrame({"_r": pairs["_r"], "_u": pairs["_u"], "row": pairs["row"],
                         "agree": (pairs["_c"] == pairs["_c_b"]).to_numpy()})
