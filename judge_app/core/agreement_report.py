"""Everything the agreement page, `judge-app agreement` and the HTML report show, in one call."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from judge_app.core import agreement, bias
from judge_app.core.rater_quality import rater_quality
from judge_app.core.verdict_frame import ALL_OPTIONAL, nan_to_none, prepare, primary


@dataclass(frozen=True)
class AgreementReport:
    """Scalars are None when undefined (show "n/a"); tables may be empty, never missing."""

    alpha_nominal: float | None
    alpha_ordinal: float | None
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
        return out


def agreement_report(
    verdicts: pd.DataFrame, source: str | None = "human", confidence: float = 0.95,
) -> AgreementReport:
    """Alpha and percent agreement among raters of `source` (people by default; None = all);
    pairwise kappas, rater quality and bias for every rater; judges against the human majority
    with and without ties."""
    frame = prepare(verdicts, ALL_OPTIONAL)  # code the strings once for every figure below
    among = frame if source is None else frame.loc[(frame["source"] == source).to_numpy()]
    rated = primary(among)["_u"].value_counts()
    return AgreementReport(
        alpha_nominal=agreement.krippendorff_alpha(among, "nominal"),
        alpha_ordinal=agreement.krippendorff_alpha(among, "ordinal"),
        percent_agreement=agreement.percent_agreement(among),
        raters=int(among["rater_id"].nunique()),
        pairs_rated_twice=int((rated >= 2).sum()),
        rater_pairs=agreement.rater_pairs(frame),
        judges=agreement.judge_vs_humans(frame, include_ties=True),
        judges_decisive=agreement.judge_vs_humans(frame, include_ties=False),
        rater_quality=rater_quality(frame),
        position_bias=bias.position_bias(frame, confidence=confidence),
        length_bias=bias.length_bias(frame, confidence=confidence),
        swap_consistency=bias.swap_consistency(frame, confidence=confidence),
    )
