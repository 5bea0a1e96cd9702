"""Verdict frames as the agreement and bias math reads them: checked, integer-coded, de-duplicated.

The input is a pandas DataFrame with one row per verdict, outcomes already in the pair's canonical
orientation. Required columns: `pair_id`, `rater_id`, `outcome`. Optional (filled with a neutral
default when absent): `source` ('human' | 'judge'), `left_side` ('a' | 'b' | None), `kind`
('normal' | 'gold' | 'retest'), `gold_outcome`, `duration_ms`, `len_a`, `len_b`, `probability`,
`consistent`. Row order matters where "first" is mentioned: pass verdicts in time order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from judge_app.core.types import OUTCOMES
from judge_app.errors import ValidationError

# Integer codes for the nominal scale, in OUTCOMES order: a=0, b=1, tie=2, both_bad=3.
N_OUTCOMES = len(OUTCOMES)
LABELS = np.array(OUTCOMES, dtype=object)
A, B, TIE, BOTH_BAD = range(N_OUTCOMES)
_CODE = {o: i for i, o in enumerate(OUTCOMES)}

REQUIRED = ("pair_id", "rater_id", "outcome")
DEFAULTS: dict[str, Any] = {
    "source": "human",
    "left_side": None,
    "kind": "normal",
    "gold_outcome": None,
    "duration_ms": np.nan,
    "len_a": np.nan,
    "len_b": np.nan,
    "probability": np.nan,
    "consistent": None,
}


def outcome_codes(values: pd.Series, field: str = "outcome") -> np.ndarray:
    """Codes 0..3 for a, b, tie, both_bad and -1 for missing; anything else is a ValidationError.

    Factorising first keeps this fast on millions of rows: only the distinct labels are looked up.
    """
    codes, uniques = pd.factorize(values)
    lookup = np.array([_CODE.get(u, -2) for u in uniques] + [-1], dtype=np.int8)
    if (lookup == -2).any():
        bad = sorted(str(u) for u in uniques if u not in _CODE)
        raise ValidationError(f"unknown outcome(s) {bad}; expected one of {list(OUTCOMES)}",
                              field=field)
    return lookup[codes]  # code -1 (missing) indexes the trailing -1


def prepare(verdicts: pd.DataFrame, optional: Iterable[str] = ()) -> pd.DataFrame:
    """A checked copy with only the columns asked for, plus integer codes.

    Added columns: `_c` outcome code, `_u` unit (pair) code, `_r` rater code, `_pos` row position.
    Rows with a missing outcome (retractions) are dropped.
    """
    missing = [c for c in REQUIRED if c not in verdicts.columns]
    if missing:
        raise ValidationError(f"verdicts lack column(s) {missing}", field=missing[0])
    wanted = list(REQUIRED) + [c for c in optional if c not in REQUIRED]
    present = [c for c in wanted if c in verdicts.columns]
    frame = verdicts.loc[:, present]
    codes = outcome_codes(frame["outcome"])
    keep = codes >= 0
    if not keep.all():
        frame, codes = frame.loc[keep], codes[keep]
    frame = frame.reset_index(drop=True)
    for col in wanted:
        if col not in frame.columns:
            frame[col] = DEFAULTS[col]
        elif isinstance(DEFAULTS.get(col), str):  # a NULL source or kind reads as the default
            frame[col] = frame[col].fillna(DEFAULTS[col])
    frame["_c"] = codes
    frame["_u"] = pd.factorize(frame["pair_id"])[0]
    frame["_r"] = pd.factorize(frame["rater_id"])[0]
    frame["_pos"] = np.arange(len(frame))
    return frame


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """One verdict per rater and pair: the first one that is not a swap re-test.

    Re-tests and a judge's second order measure consistency; counting them in agreement would let
    one rater vote twice on the same pair.
    """
    sub = frame
    if "kind" in frame.columns:
        not_retest = (frame["kind"] != "retest").to_numpy()
        if not not_retest.all():
            sub = frame.loc[not_retest]
    n_units = int(frame["_u"].max()) + 1 if len(frame) else 1
    key = sub["_r"].to_numpy(np.int64) * n_units + sub["_u"].to_numpy(np.int64)
    dup = pd.Series(key).duplicated().to_numpy()
    return sub.loc[~dup] if dup.any() else sub


def names_by_code(frame: pd.DataFrame, code: str, name: str) -> np.ndarray:
    """Object array mapping a code column (`_u`, `_r`) back to its ids; works on any subset."""
    size = int(frame[code].max()) + 1 if len(frame) else 0
    out = np.empty(size, dtype=object)
    firsts = frame.drop_duplicates(code)
    out[firsts[code].to_numpy()] = firsts[name].to_numpy()
    return out


def decisive(codes: np.ndarray) -> np.ndarray:
    """True where the verdict picked a side (a or b)."""
    return codes <= B


def nan_to_none(value: Any) -> Any:
    """JSON-friendly: NaN and pandas NA become None, numpy scalars become Python scalars."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
