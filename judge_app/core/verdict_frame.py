"""Verdict frames as the agreement and bias math reads them: checked, integer-coded, de-duplicated.

The input is a pandas DataFrame with one row per verdict, outcomes already in the pair's canonical
orientation. Required columns: `pair_id`, `rater_id`, `outcome`. Optional, with a neutral default
when absent or NULL: `source` ('human' | 'judge'; default 'human'), `left_side` ('a' | 'b'),
`purpose` ('normal' | 'gold' | 'retest'), `gold_outcome`, `duration_ms`, `len_a`, `len_b`,
`probability`, `consistent`. Row order matters where "first" is mentioned: pass verdicts in time
order.

Every public function calls `prepare`, which is idempotent and cheap on its own output: code a
large frame once with `prepare(verdicts, ALL_OPTIONAL)` and pass the result to several functions
(as `agreement_report` does) to skip re-coding millions of strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from judge_app.core.types import OUTCOMES
from judge_app.errors import ValidationError

# Integer codes for the nominal scale, in OUTCOMES order: a=0, b=1, tie=2, both_bad=3; -1 = none.
N_OUTCOMES = len(OUTCOMES)
A, B, TIE, BOTH_BAD = range(N_OUTCOMES)
LABELS = np.array(OUTCOMES, dtype=object)
_CODE = {o: i for i, o in enumerate(OUTCOMES)}

REQUIRED = ("pair_id", "rater_id", "outcome")
_CODED = {"left_side": "_left", "gold_outcome": "_gold"}  # raw column -> int8 code column
_NUMERIC = ("duration_ms", "len_a", "len_b", "probability", "consistent", "order_decisive",
            "order_left_wins")
ALL_OPTIONAL = ("source", "purpose", "left_side", "gold_outcome", *_NUMERIC)
_INTERNAL = ("_c", "_u", "_r", "_pos")
_DENSE_LIMIT = 1 << 23  # raters x pairs cells below which duplicates are found by bincount


def outcome_codes(values: pd.Series | np.ndarray, field: str = "outcome") -> np.ndarray:
    """int8 codes 0..3 for a, b, tie, both_bad and -1 for missing; others are a ValidationError.

    Factorising first keeps this fast on millions of rows: only the distinct labels are looked up.
    """
    codes, uniques = pd.factorize(values)
    lookup = np.array([_CODE.get(u, -2) for u in uniques] + [-1], dtype=np.int8)
    if (lookup == -2).any():
        bad = sorted(str(u) for u in uniques if u not in _CODE)
        raise ValidationError(f"unknown value(s) {bad}; expected one of {list(OUTCOMES)}",
                              field=field)
    return lookup[codes]  # code -1 (missing) indexes the trailing -1


def prepare(verdicts: pd.DataFrame, optional: Iterable[str] = ()) -> pd.DataFrame:
    """A checked frame with integer codes and the optional columns asked for made usable.

    Always present: pair_id, rater_id, outcome, `_c` (outcome code), `_u` (pair code), `_r`
    (rater code), `_pos` (row position). Per optional column asked for: `source` filled,
    `_retest` (bool, from purpose), `_left` / `_gold` (codes, from left_side / gold_outcome), and
    the numeric columns as float (consistent: 1.0 / 0.0 / NaN). Rows without an outcome
    (retractions) are dropped. The caller's frame is never modified.
    """
    if all(c in verdicts.columns for c in _INTERNAL):
        frame = verdicts.copy(deep=False)
    else:
        frame = _code(verdicts)
    for col in optional:
        _add(frame, col)
    return frame


def _code(verdicts: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in verdicts.columns]
    if missing:
        raise ValidationError(f"verdicts lack column(s) {missing}", field=missing[0])
    codes = outcome_codes(verdicts["outcome"])
    kept = [c for c in (*REQUIRED, *ALL_OPTIONAL) if c in verdicts.columns]
    frame = verdicts.loc[:, kept]
    if (codes < 0).any():
        frame, codes = frame.loc[codes >= 0], codes[codes >= 0]
    frame = frame.reset_index(drop=True)
    frame["_c"] = codes
    frame["_u"] = pd.factorize(frame["pair_id"])[0]
    frame["_r"] = pd.factorize(frame["rater_id"])[0]
    frame["_pos"] = np.arange(len(frame))
    return frame


def _add(frame: pd.DataFrame, col: str) -> None:
    """Make one optional column usable, in place (frame is already a private copy)."""
    n = len(frame)
    if col == "source":
        if col not in frame.columns:
            frame[col] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                   categories=pd.Index(["human"]))
        elif frame[col].hasnans:
            frame[col] = frame[col].fillna("human")
    elif col == "purpose":
        if "_retest" not in frame.columns:
            retest = (frame[col] == "retest").to_numpy(dtype=bool, na_value=False) \
                if col in frame.columns else np.zeros(n, dtype=bool)
            frame["_retest"] = retest
    elif col in _CODED:
        if _CODED[col] not in frame.columns:
            frame[_CODED[col]] = outcome_codes(frame[col], field=col) if col in frame.columns \
                else np.full(n, -1, dtype=np.int8)
    elif col in _NUMERIC:
        if col not in frame.columns:
            frame[col] = np.full(n, np.nan)
        elif frame[col].dtype != np.float64:
            values = frame[col]
            if col == "consistent":
                values = values.astype("boolean")
            frame[col] = pd.to_numeric(values, errors="coerce").astype(float)
    else:
        raise ValueError(f"unknown optional verdict column {col!r}")


def repeated(frame: pd.DataFrame) -> np.ndarray:
    """True for rows whose (rater, pair) occurs more than once in the frame."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    r = frame["_r"].to_numpy(np.int64)
    u = frame["_u"].to_numpy(np.int64)
    n_units = n_codes(frame, "_u")
    key = r * n_units + u
    if n_codes(frame, "_r") * n_units <= max(_DENSE_LIMIT, 4 * len(key)):
        counts = np.bincount(key)
        return counts[key] > 1 if counts.max() > 1 else np.zeros(len(key), dtype=bool)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse] > 1


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """One verdict per rater and pair: the first one that is not a swap re-test.

    Re-tests and a judge's second order measure consistency; counting them in agreement would
    let one rater vote twice on the same pair. Needs a frame prepared with "purpose".
    """
    sub = frame.loc[~frame["_retest"].to_numpy()] if frame["_retest"].any() else frame
    twice = repeated(sub)
    if not twice.any():
        return sub
    dup = np.zeros(len(sub), dtype=bool)
    dup[twice] = pd.DataFrame({"r": sub["_r"].to_numpy()[twice],
                               "u": sub["_u"].to_numpy()[twice]}).duplicated().to_numpy()
    return sub.loc[~dup]


def n_codes(frame: pd.DataFrame, code: str) -> int:
    """How many codes a code column (`_u`, `_r`) can hold: its maximum plus one (0 if empty)."""
    return int(frame[code].max()) + 1 if len(frame) else 0


def names_by_code(frame: pd.DataFrame, code: str, name: str) -> np.ndarray:
    """Object array mapping a code column (`_u`, `_r`) back to its ids; works on any subset."""
    out = np.empty(n_codes(frame, code), dtype=object)
    firsts = frame.drop_duplicates(code)
    out[firsts[code].to_numpy()] = firsts[name].to_numpy()
    return out


def decisive(codes: np.ndarray) -> np.ndarray:
    """True where the verdict picked a side (a or b)."""
    return (codes >= A) & (codes <= B)


def nan_to_none(value: Any) -> Any:
    """JSON-friendly: NaN and pandas NA become None, numpy scalars become Python scalars."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def raters(frame: pd.DataFrame) -> pd.DataFrame:
    """rater_id and source (of the rater's first verdict) for each rater code in the frame,
    indexed by code, in code order. Needs a frame prepared with "source"."""
    firsts = frame.drop_duplicates("_r")
    return pd.DataFrame({"rater_id": firsts["rater_id"].to_numpy(),
                         "source": firsts["source"].to_numpy()},
                        index=pd.Index(firsts["_r"].to_numpy(), name="_r")).sort_index()
