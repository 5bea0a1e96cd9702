"""Agreement between raters, and between judges and the human majority.

Every function takes a verdict frame (see `judge_app.core.verdict_frame`) whose outcomes are in
the pair's canonical orientation, so which side was shown on the left never matters here. Each
rater counts once per pair (its first verdict that is not a swap re-test). A figure that is not
defined on the data (no pair rated twice, every rating identical, no decisive verdict) is None,
never an exception, so a page can show "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, TypedDict

import krippendorff
import numpy as np
import pandas as pd

from judge_app.core.verdict_frame import (
    LABELS,
    N_OUTCOMES,
    decisive,
    n_codes,
    names_by_code,
    prepare,
    primary,
    raters,
)

Level = Literal["nominal", "ordinal", "interval"]
TieBreak = Literal["first", "none"]

# Ordinal (and interval) scale: a < tie < b, with both_bad merged into tie.
_SCALE = np.array([0, 2, 1, 1], dtype=np.int8)  # indexed by nominal code a, b, tie, both_bad


class Metrics(TypedDict):
    """Classification figures of one label sequence against another (macro over labels present)."""

    n: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    kappa: float | None


METRIC_FIELDS = ("n", "accuracy", "precision", "recall", "f1", "kappa")

# --- Krippendorff's alpha -------------------------------------------------------------------


def _scaled(codes: np.ndarray, level: Level) -> tuple[np.ndarray, int]:
    if level == "nominal":
        return codes, N_OUTCOMES
    if level in ("ordinal", "interval"):
        return _SCALE[codes], 3
    raise ValueError(f"unknown level of measurement {level!r}")


def _value_counts(frame: pd.DataFrame, level: Level) -> np.ndarray:
    """Units x values counts of the primary verdicts (what the coincidence matrix is built from)."""
    values, k = _scaled(frame["_c"].to_numpy(), level)
    n_units = n_codes(frame, "_u")
    flat = frame["_u"].to_numpy(np.int64) * k + values
    return np.bincount(flat, minlength=n_units * k).reshape(n_units, k)


def alpha_from_value_counts(value_counts: np.ndarray, level: Level) -> float | None:
    """Alpha from a units x values count array (values 0..V-1 in scale order); None if undefined.

    The `krippendorff` package raises when no unit has two values or only one value occurs, and
    divides 0 by 0 when given an explicit domain: all three cases come back as None.
    """
    counts = np.asarray(value_counts)
    counts = counts[counts.sum(axis=1) >= 2]  # single ratings add nothing to the coincidences
    if counts.shape[0] == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        value = krippendorff.alpha(value_counts=counts, value_domain=np.arange(counts.shape[1]),
                                   level_of_measurement=level)
    return float(value) if math.isfinite(value) else None


def alpha_of_matrix(reliability_data: np.ndarray, level: Level) -> float | None:
    """Alpha of a raters x units matrix of numbers (missing = NaN); None where undefined."""
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            value = krippendorff.alpha(reliability_data=np.asarray(reliability_data, dtype=float),
                                       level_of_measurement=level)
    except ValueError:
        return None
    return float(value) if math.isfinite(value) else None


def krippendorff_alpha(verdicts: pd.DataFrame, level: Level = "nominal") -> float | None:
    """Krippendorff's alpha over all raters in the frame.

    nominal: the four outcomes as unordered labels. ordinal / interval: a < tie < b with
    both_bad merged into tie. None when undefined.
    """
    frame = primary(prepare(verdicts, ("purpose",)))
    return alpha_from_value_counts(_value_counts(frame, level), level)


def reliability_matrix(
    verdicts: pd.DataFrame, level: Level = "nominal",
) -> tuple[np.ndarray, pd.Index, pd.Index]:
    """The raters x units matrix the `krippendorff` package reads (missing = NaN), with labels.

    Values are nominal codes (a=0, b=1, tie=2, both_bad=3) or, for ordinal and interval, the
    scale a=0, tie=1, b=2. Returns (matrix, rater ids, pair ids).
    """
    frame = primary(prepare(verdicts, ("purpose",)))
    values, _ = _scaled(frame["_c"].to_numpy(), level)
    r, rater_codes = pd.factorize(frame["_r"])  # integer codes: no strings hashed again
    u, unit_codes = pd.factorize(frame["_u"])
    matrix = np.full((len(rater_codes), len(unit_codes)), np.nan)
    matrix[r, u] = values
    raters = names_by_code(frame, "_r", "rater_id")[rater_codes]
    units = names_by_code(frame, "_u", "pair_id")[unit_codes]
    return matrix, pd.Index(raters, name="rater_id"), pd.Index(units, name="pair_id")


def percent_agreement(verdicts: pd.DataFrame) -> float | None:
    """Share of agreeing pairs among all pairs of verdicts given to the same pair by two raters."""
    counts = _value_counts(primary(prepare(verdicts, ("purpose",))), "nominal").astype(np.int64)
    pairs = counts.sum(axis=1)
    total = int((pairs * (pairs - 1)).sum())
    if total == 0:
        return None
    return float((counts * (counts - 1)).sum() / total)


def fleiss_kappa_from_counts(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from a units x categories count array; None where undefined.

    Units with fewer than two ratings are left out. With the same number of ratings on every
    unit this is Fleiss (1971) exactly; with unequal numbers each unit's agreement
    sum n_ij (n_ij - 1) / (n_i (n_i - 1)) is averaged with equal weight, and the chance term
    uses the category shares of all ratings on those units (the usual generalisation).
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2:
        raise ValueError("counts must be a units x categories array")
    n = table.sum(axis=1)
    table, n = table[n >= 2], n[n >= 2]
    if table.shape[0] == 0:
        return None
    observed = float(((table * (table - 1)).sum(axis=1) / (n * (n - 1))).mean())
    shares = table.sum(axis=0) / table.sum()
    expected = float((shares * shares).sum())
    if expected >= 1.0:  # one category only: chance agreement is already total
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(verdicts: pd.DataFrame) -> float | None:
    """Fleiss' kappa on the four nominal outcomes, over all raters in the frame (None when
    undefined: no pair rated twice, or a single outcome throughout)."""
    frame = primary(prepare(verdicts, ("purpose",)))
    return fleiss_kappa_from_counts(_value_counts(frame, "nominal"))


# --- Cohen's kappa and classification figures ----------------------------------------------


def _kappas(confusions: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each K x K count matrix in a stack; NaN where undefined (no data, or
    chance agreement already total because both raters used one and the same label)."""
    n = confusions.sum(axis=(-2, -1)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(confusions, axis1=-2, axis2=-1) / n
        expected = (confusions.sum(axis=-1) * confusions.sum(axis=-2)).sum(axis=-1) / n**2
        kappa = (observed - expected) / (1.0 - expected)
    return np.where((n > 0) & (expected < 1.0), kappa, np.nan)


def kappa_from_confusion(confusion: np.ndarray) -> float | None:
    """Cohen's kappa from a square count matrix (rows: one rater, columns: the other)."""
    value = float(_kappas(np.asarray(confusion)[None])[0])
    return None if math.isnan(value) else value


def metrics_from_confusion(confusion: np.ndarray) -> Metrics:
    """Accuracy, macro precision / recall / F1 and kappa; rows = reference, columns = prediction.

    Macro averages run over the labels present in either (as scikit-learn does by default); a
    label never predicted has precision 0, never in the reference recall 0.
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    n = int(confusion.sum())
    if n == 0:
        return Metrics(n=0, accuracy=None, precision=None, recall=None, f1=None, kappa=None)
    true, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    present = (true + predicted) > 0
    hits = np.diag(confusion).astype(float)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, true, out=np.zeros_like(hits), where=true > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return Metrics(
        n=n,
        accuracy=float(hits.sum() / n),
        precision=float(precision[present].mean()),
        recall=float(recall[present].mean()),
        f1=float(f1[present].mean()),
        kappa=kappa_from_confusion(confusion),
    )


_CHUNK = 1 << 21  # verdict pairs (or dense cells) handled at once: bounds the memory


def _pair_keys(frame: pd.DataFrame, n_raters: int) -> Iterator[np.ndarray]:
    """For every two primary verdicts on the same unit, the key
    ((lower rater code * R + higher rater code) * K + lower's outcome) * K + higher's outcome,
    yielded in chunks. The number of keys is the sum over units of n(n-1)/2."""
    u, r, c = (frame[col].to_numpy(np.int64) for col in ("_u", "_r", "_c"))
    by_unit = np.argsort(u, kind="stable")
    su, sr, sc = u[by_unit], r[by_unit], c[by_unit]
    partners = np.cumsum(np.bincount(su))[su] - np.arange(len(su)) - 1  # later, same unit
    cum = np.cumsum(partners)
    begin = 0
    while begin < len(su):
        done = cum[begin] - partners[begin]
        end = max(int(np.searchsorted(cum, done + _CHUNK, "right")), begin + 1)
        counts = partners[begin:end]
        if counts.any():
            first = np.repeat(np.arange(begin, end), counts)
            step = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
            second = first + 1 + step
            swap = sr[first] > sr[second]
            lo, hi = np.where(swap, second, first), np.where(swap, first, second)
            yield ((sr[lo] * n_raters + sr[hi]) * N_OUTCOMES + sc[lo]) * N_OUTCOMES + sc[hi]
        begin = end


def _grid(frame: pd.DataFrame, n_raters: int) -> np.ndarray:
    """All raters x raters confusion counts at once, as (R, R, K, K) with only i < j filled.

    Lays the codes out as a dense raters x units matrix (missing = an extra code K), then for
    each rater one bincount of its row against every later rater's row: sequential memory,
    no Python loop over rater pairs, no floating point."""
    u, r, c = (frame[col].to_numpy(np.int64) for col in ("_u", "_r", "_c"))
    k, k1 = N_OUTCOMES, N_OUTCOMES + 1
    n_units = n_codes(frame, "_u")
    codes = np.full((n_raters, n_units), k, dtype=np.int8)
    codes[r, u] = c
    grid = np.zeros((n_raters, n_raters, k, k), dtype=np.int64)
    step = max(1, _CHUNK // max(n_raters, 1))  # units per block: bounds the memory
    for start in range(0, n_units, step):
        block = codes[:, start:start + step]
        for i in range(n_raters - 1):
            later = n_raters - i - 1
            cells = block[i].astype(np.int32) * k1 + block[i + 1:]
            cells += (np.arange(later, dtype=np.int32) * (k1 * k1))[:, None]
            counts = np.bincount(cells.ravel(), minlength=later * k1 * k1)
            grid[i, i + 1:] += counts.reshape(later, k1, k1)[:, :k, :k]
    return grid


def _pair_confusions(
    frame: pd.DataFrame, method: Literal["auto", "grid", "pairs"] = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first rater codes, second rater codes, K x K confusions) for raters sharing a unit.

    Two routes with the same result: a dense code matrix, cheap while most raters rate most
    units, and an enumeration of verdict pairs within units, cheap when units have few raters."""
    n_raters = n_codes(frame, "_r")
    sizes = np.bincount(frame["_u"].to_numpy(np.int64))
    n_pairs = int((sizes * (sizes - 1) // 2).sum())
    if n_pairs == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, N_OUTCOMES, N_OUTCOMES), dtype=np.int64)
    if method == "auto":  # dense cells visited versus verdict pairs gathered (~25x dearer)
        method = "grid" if n_raters * n_raters * len(sizes) <= 50 * n_pairs else "pairs"
    if method == "grid":
        grid = _grid(frame, n_raters)
        first, second = np.nonzero(np.triu(grid.sum(axis=(2, 3)), k=1))
        return first, second, grid[first, second]
    kk = N_OUTCOMES * N_OUTCOMES
    cells = n_raters * n_raters * kk
    if cells <= 1 << 24:
        counts = np.zeros(cells, dtype=np.int64)
        for keys in _pair_keys(frame, n_raters):
            counts += np.bincount(keys, minlength=cells)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:  # thousands of raters: count only the combinations that occur
        parts = [np.unique(k, return_counts=True) for k in _pair_keys(frame, n_raters)]
        keys, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
    combo, cell = np.divmod(keys, kk)
    combos, slot = np.unique(combo, return_inverse=True)
    confusions = np.zeros((len(combos), kk), dtype=np.int64)
    confusions[slot, cell] = counts
    first, second = np.divmod(combos, n_raters)
    return first, second, confusions.reshape(-1, N_OUTCOMES, N_OUTCOMES)


def rater_pairs(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa and percent agreement for every two raters, on the pairs both rated.

    Columns: rater_1, rater_2 (rater_1 appeared first in the frame), n, agreement, kappa (None
    when undefined). Only raters who share a pair are listed.
    """
    frame = primary(prepare(verdicts, ("purpose",)))
    columns = ["rater_1", "rater_2", "n", "agreement", "kappa"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    first, second, confusions = _pair_confusions(frame)
    n = confusions.sum(axis=(1, 2))
    names = names_by_code(frame, "_r", "rater_id")
    kappa = _kappas(confusions)
    return pd.DataFrame({
        "rater_1": names[first], "rater_2": names[second], "n": n,
        "agreement": np.trace(confusions, axis1=1, axis2=2) / n,
        "kappa": pd.Series(kappa, dtype=object).where(~np.isnan(kappa), None),
    }, columns=columns)


# --- Majority labels and judges against people ---------------------------------------------


def _majority_codes(frame: pd.DataFrame, tie_break: TieBreak, n_units: int) -> np.ndarray:
    """Majority outcome code for each unit code below n_units; -1 where there is none."""
    k = N_OUTCOMES
    flat = frame["_u"].to_numpy(np.int64) * k + frame["_c"].to_numpy(np.int64)
    counts = np.bincount(flat, minlength=n_units * k).reshape(n_units, k)
    top = counts.max(axis=1, initial=0)
    result = np.where(top > 0, counts.argmax(axis=1), -1)
    split = (top > 0) & ((counts == top[:, None]).sum(axis=1) > 1)
    if tie_break == "none":
        result[split] = -1
    elif split.any():  # equal counts: the label whose earliest verdict came first wins
        rows = split[frame["_u"].to_numpy()]
        never = int(frame["_pos"].max()) + 1
        first = np.full(n_units * k, never, dtype=np.int64)
        np.minimum.at(first, flat[rows], frame["_pos"].to_numpy(np.int64)[rows])
        first = np.where(counts == top[:, None], first.reshape(n_units, k), never)
        result[split] = first[split].argmin(axis=1)
    return result


def _by_source(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    return frame.loc[(frame["source"] == source).to_numpy()]


def majority_labels(
    verdicts: pd.DataFrame, source: str | None = "human", tie_break: TieBreak = "first",
) -> pd.Series:
    """The majority outcome per pair (plain plurality, no chance correction).

    source: count only verdicts of this source ('human', 'judge'), or all when None.
    tie_break: 'first' gives an equal count to the label whose earliest verdict came first
    (PandaLM's rule, so pass verdicts in time order); 'none' leaves such pairs out.
    Returns a Series of outcomes indexed by pair_id.
    """
    frame = primary(prepare(verdicts, ("purpose", "source")))
    if source is not None:
        frame = _by_source(frame, source)
    codes = _majority_codes(frame, tie_break, n_codes(frame, "_u"))
    firsts = frame.drop_duplicates("_u")
    chosen = codes[firsts["_u"].to_numpy()]
    ok = chosen >= 0
    index = pd.Index(firsts["pair_id"].to_numpy()[ok], name="pair_id")
    return pd.Series(LABELS[chosen[ok]], index=index, name="majority", dtype=object)


def judge_vs_humans(
    verdicts: pd.DataFrame, include_ties: bool = True, tie_break: TieBreak = "first",
) -> pd.DataFrame:
    """Each judge's verdicts scored against the human majority on the same pairs.

    With include_ties=False only pairs where both the majority and the judge picked a side
    count (tie and both_bad left out). Columns: judge, n, accuracy, precision, recall, f1, kappa;
    a judge with no pair to score has n = 0 and None figures.
    """
    frame = primary(prepare(verdicts, ("purpose", "source")))
    majority = _majority_codes(_by_source(frame, "human"), tie_break, n_codes(frame, "_u"))
    judges = _by_source(frame, "judge")
    truth = majority[judges["_u"].to_numpy()]
    predicted = judges["_c"].to_numpy()
    keep = truth >= 0
    if not include_ties:
        keep &= decisive(truth) & decisive(predicted)
    kk = N_OUTCOMES * N_OUTCOMES
    flat = judges["_r"].to_numpy(np.int64)[keep] * kk + truth[keep] * N_OUTCOMES + predicted[keep]
    names = raters(judges)
    confusions = np.bincount(flat, minlength=n_codes(judges, "_r") * kk)
    confusions = confusions.reshape(-1, N_OUTCOMES, N_OUTCOMES)
    rows = [{"judge": name, **metrics_from_confusion(confusions[code])}
            for code, name in zip(names.index, names["rater_id"], strict=True)]
    return pd.DataFrame(rows, columns=["judge", *METRIC_FIELDS]).sort_values(
        "judge", ignore_index=True)
