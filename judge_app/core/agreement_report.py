"""Everything the agreement page, `judge-app agreement` and the HTML report show, in one call."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from judge_app.core import agreement, bias
from judge_app.core.rater_quality import rater_quality
from judge_app.core.verdict_frame import ALL_OPTIONAL, nan_to_none, prepare, primary

MIN_SHARED = 10  # shared pairs below which a pairwise kappa is left out of the spread
TABLES = ("rater_pairs", "judges", "judges_decisive", "rater_quality", "position_bias",
          "length_bias", "swap_consistency")


@dataclass(frozen=True)
class AgreementReport:
    """Scalars are None when undefined (show "n/a"); tables may be empty, never missing.

    Every table lists only raters of `source` (None = everyone), sorted by rater name; the
    judge tables list the judges of that source scored against the human majority."""

    source: str | None
    alpha_nominal: float | None
    alpha_ordinal: float | None
    fleiss_kappa: float | None
    percent_agreement: float | None
    raters: int
    pairs_rated_twice: int
    rater_pairs: pd.DataFrame
    judges: pd.DataFrame
    judges_decisive: pd.DataFrame
    rater_quality: pd.DataFrame
    position_bias: pd.DataFrame
    length_bias: pd.DataFrame
    swap_consistency: pd.DataFrame
    judges_elsewhere: int = 0  # judges in the task outside `source` (for a hint)

    def kappa_spread(self, min_shared: int = MIN_SHARED) -> dict[str, float | int | None]:
        """Min, quartiles and max of the defined kappas of rater pairs that share at least
        `min_shared` pairs (a kappa on two or three shared pairs is noise: -1, 0 or 1), with
        how many rater pairs that is and how many share any pair."""
        pairs = self.rater_pairs
        kappa = pd.to_numeric(pairs["kappa"], errors="coerce")
        values = kappa[(pairs["n"] >= min_shared).to_numpy()].dropna()
        spread: dict[str, float | int | None] = {
            "min_shared": min_shared, "pairs": int(len(values)), "pairs_any": len(pairs)}
        names = ("min", "q1", "median", "q3", "max")
        if values.empty:
            return spread | dict.fromkeys(names)
        q = np.quantile(values.to_numpy(float), [0.0, 0.25, 0.5, 0.75, 1.0])
        return spread | {k: float(v) for k, v in zip(names, q, strict=True)}

    def least_reliable(self, n: int = 5, min_pairs: int = 5) -> pd.DataFrame:
        """The n raters who agree least with the majority of the other people, among those
        with at least `min_pairs` such pairs (fewer pairs say too little); ties by name."""
        table = self.rater_quality
        table = table[table["loo_n"] >= min_pairs].dropna(subset=["loo_agreement"])
        return table.sort_values(["loo_agreement", "rater_id"]).head(n).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tables become lists of records, NaN becomes None."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, pd.DataFrame):
                out[f.name] = [{k: nan_to_none(v) for k, v in row.items()}
                               for row in value.to_dict(orient="records")]
            else:
                out[f.name] = nan_to_none(value)
        out["kappa_spread"] = self.kappa_spread()
        return out


def in_source(frame: pd.DataFrame, source: str | None) -> np.ndarray:
    """Rows of raters of `source`: None (everyone), 'human', 'judge' or 'judge:NAME'."""
    if source is None:
        return np.ones(len(frame), dtype=bool)
    kind, _, name = source.partition(":")
    mask = (frame["source"] == kind).to_numpy(dtype=bool)
    if name:
        mask = mask & (frame["rater_id"] == name).to_numpy(dtype=bool)
    return mask


def _sorted_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each pair with the alphabetically first rater as rater_1, the pairs in name order."""
    swap = pairs["rater_1"].astype(str) > pairs["rater_2"].astype(str)
    out = pairs.copy()
    out.loc[swap, ["rater_1", "rater_2"]] = pairs.loc[swap, ["rater_2", "rater_1"]].to_numpy()
    return out.sort_values(["rater_1", "rater_2"], ignore_index=True)


def _only(table: pd.DataFrame, column: str, names: set[str]) -> pd.DataFrame:
    kept = table[table[column].isin(names)] if len(table) else table
    return kept.sort_values(column, ignore_index=True) if len(kept) else kept


def agreement_report(
    verdicts: pd.DataFrame, source: str | None = "human", confidence: float = 0.95,
) -> AgreementReport:
    """Alpha, Fleiss' kappa, percent agreement, pairwise kappas, rater quality and bias among
    raters of `source` (people by default; None = everyone); judges of that source against the
    human majority with and without ties. Rater quality still measures everyone against the
    other people, whatever the source."""
    frame = prepare(verdicts, ALL_OPTIONAL)  # code the strings once for every figure below
    among = frame.loc[in_source(frame, source)]
    names = set(among["rater_id"].astype(str))
    judges_all = set(frame.loc[(frame["source"] == "judge").to_numpy(), "rater_id"].astype(str))
    rated = primary(among)["_u"].value_counts()
    return AgreementReport(
        source=source,
        alpha_nominal=agreement.krippendorff_alpha(among, "nominal"),
        alpha_ordinal=agreement.krippendorff_alpha(among, "ordinal"),
        fleiss_kappa=agreement.fleiss_kappa(among),
        percent_agreement=agreement.percent_agreement(among),
        raters=len(names),
        pairs_rated_twice=int((rated >= 2).sum()),
        rater_pairs=_sorted_pairs(agreement.rater_pairs(among)),
        judges=_only(agreement.judge_vs_humans(frame, include_ties=True), "judge", names),
        judges_decisive=_only(agreement.judge_vs_humans(frame, include_ties=False), "judge",
                              names),
        rater_quality=_only(rater_quality(frame), "rater_id", names),
        position_bias=_only(bias.position_bias(among, confidence=confidence), "rater_id",
                            names),
        length_bias=_only(bias.length_bias(among, confidence=confidence), "rater_id", names),
        swap_consistency=_only(bias.swap_consistency(among, confidence=confidence),
                               "rater_id", names),
        judges_elsewhere=len(judges_all - names),
    )
