"""Agreement between raters, and between judges and the human majority.

Every function takes a verdict frame (see `judge_app.core.verdict_frame`) whose outcomes are in
the pair's canonical orientation, so which side was shown on the left never matters here. Each
rater counts once per pair (its first verdict that is not a swap re-test). A figure that is not
defined on the data (no pair rated twice, every rating identical, no decisive verdict) is None,
never an exception, so a page can show "n/a".
"""

from __future__ import annotations

import math
from typing import Literal, TypedDict

import krippendorff
import numpy as np
import pandas as pd

from judge_app.core.verdict_frame import (
    LABELS,
    N_OUTCOMES,
    decisive,
    names_by_code,
    outcome_codes,
    prepare,
    primary,
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
    n_units = _n_units(frame)
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
    frame = primary(prepare(verdicts, ("kind",)))
    return alpha_from_value_counts(_value_counts(frame, level), level)


def reliability_matrix(
    verdicts: pd.DataFrame, level: Level = "nominal",
) -> tuple[np.ndarray, pd.Index, pd.Index]:
    """The raters x units matrix the `krippendorff` package reads (missing = NaN), with labels.

    Values are nominal codes (a=0, b=1, tie=2, both_bad=3) or, for ordinal and interval, the
    scale a=0, tie=1, b=2. Returns (matrix, rater ids, pair ids).
    """
    frame = primary(prepare(verdicts, ("kind",)))
    values, _ = _scaled(frame["_c"].to_numpy(), level)
    r, raters = pd.factorize(frame["rater_id"])
    u, units = pd.factorize(frame["pair_id"])
    matrix = np.full((len(raters), len(units)), np.nan)
    matrix[r, u] = values
    return matrix, pd.Index(raters, name="rater_id"), pd.Index(units, name="pair_id")


def percent_agreement(verdicts: pd.DataFrame) -> float | None:
    """Share of agreeing pairs among all pairs of verdicts given to the same pair by two raters."""
    counts = _value_counts(primary(prepare(verdicts, ("kind",))), "nominal").astype(np.int64)
    pairs = counts.sum(axis=1)
    total = int((pairs * (pairs - 1)).sum())
    if total == 0:
        return None
    return float((counts * (counts - 1)).sum() / total)


# --- Cohen's kappa and classification figures ----------------------------------------------


def kappa_from_confusion(confusion: np.ndarray) -> float | None:
    """Cohen's kappa from a square count matrix; None when chance agreement is already total."""
    n = confusion.sum()
    if n == 0:
        return None
    observed = np.trace(confusion) / n
    expected = float((confusion.sum(axis=1) * confusion.sum(axis=0)).sum()) / n**2
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))


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


def _confusion(true: np.ndarray, predicted: np.ndarray, k: int = N_OUTCOMES) -> np.ndarray:
    flat = true.astype(np.int64) * k + predicted
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def rater_pairs(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa and percent agreement for every two raters, on the pairs both rated.

    Columns: rater_1, rater_2 (in first-appearance order), n, agreement, kappa. Only rater
    combinations that share at least one pair are listed. Work is proportional to the number
    of verdict pairs sharing a unit, not raters squared times units.
    """
    frame = primary(prepare(verdicts, ("kind",)))
    columns = ["rater_1", "rater_2", "n", "agreement", "kappa"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    k, kk = N_OUTCOMES, N_OUTCOMES * N_OUTCOMES
    u, r, c = (frame[col].to_numpy(np.int64) for col in ("_u", "_r", "_c"))
    n_raters = int(r.max()) + 1
    names = names_by_code(frame, "_r", "rater_id")
    by_unit = np.argsort(u, kind="stable")
    sr, sc = r[by_unit], c[by_unit]
    unit_len = np.bincount(u)
    unit_start = np.concatenate(([0], np.cumsum(unit_len)[:-1]))
    by_rater = np.argsort(r, kind="stable")
    rater_end = np.cumsum(np.bincount(r, minlength=n_raters))
    rows: list[tuple[object, object, int, float, float | None]] = []
    begin = 0
    for i in range(n_raters):
        mine = by_rater[begin:rater_end[i]]
        begin = rater_end[i]
        lens = unit_len[u[mine]]
        # positions (in unit order) of every verdict on the units rater i rated
        offsets = np.repeat(unit_start[u[mine]] - (np.cumsum(lens) - lens), lens)
        idx = offsets + np.arange(int(lens.sum()))
        other, own = sr[idx], np.repeat(c[mine], lens)
        later = other > i
        flat = other[later] * kk + own[later] * k + sc[idx][later]
        conf = np.bincount(flat, minlength=n_raters * kk).reshape(n_raters, k, k)
        for j in np.flatnonzero(conf.sum(axis=(1, 2))):
            n = int(conf[j].sum())
            rows.append((names[i], names[j], n, float(np.trace(conf[j]) / n),
                         kappa_from_confusion(conf[j])))
    return pd.DataFrame(rows, columns=columns)


# --- Majority labels and judges against people ---------------------------------------------


def _n_units(frame: pd.DataFrame) -> int:
    return int(frame["_u"].max()) + 1 if len(frame) else 0


def _majority_codes(frame: pd.DataFrame, tie_break: TieBreak, n_units: int) -> np.ndarray:
    """Majority outcome code for each unit code below n_units; -1 where there is none."""
    k = N_OUTCOMES
    flat = frame["_u"].to_numpy(np.int64) * k + frame["_c"].to_numpy(np.int64)
    counts = np.bincount(flat, minlength=n_units * k).reshape(n_units, k)
    big = int(frame["_pos"].max()) + 2 if len(frame) else 1
    first = np.full(n_units * k, big, dtype=np.int64)
    np.minimum.at(first, flat, frame["_pos"].to_numpy(np.int64))
    # most votes first; among equal counts, the label whose earliest verdict came first
    score = counts * (big + 1) + (big - first.reshape(n_units, k))
    top = counts.max(axis=1, initial=0)
    result = np.where(top > 0, score.argmax(axis=1), -1)
    if tie_break == "none":
        result[(counts == top[:, None]).sum(axis=1) > 1] = -1
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
    frame = primary(prepare(verdicts, ("kind", "source")))
    if source is not None:
        frame = _by_source(frame, source)
    codes = _majority_codes(frame, tie_break, _n_units(frame))
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
    count (tie and both_bad left out). Columns: judge, n, accuracy, precision, recall, f1, kappa.
    """
    frame = primary(prepare(verdicts, ("kind", "source")))
    majority = _majority_codes(_by_source(frame, "human"), tie_break, _n_units(frame))
    judges = _by_source(frame, "judge")
    truth = majority[judges["_u"].to_numpy()]
    predicted = judges["_c"].to_numpy()
    keep = truth >= 0
    if not include_ties:
        keep &= decisive(truth) & decisive(predicted)
    scored = pd.DataFrame({"judge": judges["rater_id"].to_numpy()[keep],
                           "t": truth[keep], "p": predicted[keep]})
    rows = [{"judge": name, **metrics_from_confusion(_confusion(g["t"].to_numpy(),
                                                                g["p"].to_numpy()))}
            for name, g in scored.groupby("judge", sort=True)]
    return pd.DataFrame(rows, columns=["judge", *METRIC_FIELDS])


def labels_metrics(true: pd.Series, predicted: pd.Series) -> Metrics:
    """Classification figures of two aligned outcome sequences; a missing value skips the row."""
    t, p = outcome_codes(true), outcome_codes(predicted)
    keep = (t >= 0) & (p >= 0)
    return metrics_from_confusion(_confusion(t[keep], p[keep]))
