"""Krippendorff's alpha: the published worked example, the package cross-check, undefined cases."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest

from judge_app.core.agreement import (
    alpha_of_matrix,
    kappa_from_confusion,
    krippendorff_alpha,
    majority_labels,
    metrics_from_confusion,
    percent_agreement,
    rater_pairs,
    reliability_matrix,
)
from judge_app.core.agreement_report import agreement_report
from judge_app.errors import ValidationError

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, values 1..5, missing entries blank.
PAPER = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])


@pytest.mark.parametrize(("level", "published"),
                         [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_2011_worked_example(level: str, published: float) -> None:
    alpha = alpha_of_matrix(PAPER, level)  # type: ignore[arg-type]
    assert alpha is not None and round(alpha, 3) == published


def frame(rows: list[tuple[str, str, str]], **extra: list[object]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["pair_id", "rater_id", "outcome"])
    return df.assign(**extra) if extra else df


def test_dataframe_route_matches_the_package_on_the_matrix() -> None:
    rng = np.random.default_rng(7)
    outcomes = np.array(["a", "b", "tie", "both_bad"])
    rows = [(f"p{u}", f"r{r}", outcomes[min(3, int(rng.integers(0, 5)))])
            for u in range(60) for r in range(5) if rng.random() < 0.7]
    df = frame(rows)
    for level in ("nominal", "ordinal", "interval"):
        matrix, raters, units = reliability_matrix(df, level)  # type: ignore[arg-type]
        assert matrix.shape == (len(raters), len(units))
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        assert krippendorff_alpha(df, level) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]


def test_ordinal_merges_both_bad_into_tie() -> None:
    df = frame([("p1", "x", "tie"), ("p1", "y", "both_bad"),
                ("p2", "x", "a"), ("p2", "y", "a"), ("p3", "x", "b"), ("p3", "y", "b")])
    matrix, _, _ = reliability_matrix(df, "ordinal")
    assert matrix[:, 0].tolist() == [1.0, 1.0]
    assert krippendorff_alpha(df, "ordinal") == 1.0
    nominal = krippendorff_alpha(df, "nominal")
    assert nominal is not None and nominal < 1.0


def test_retests_and_repeats_count_once_in_agreement() -> None:
    base = frame([("p1", "x", "a"), ("p1", "y", "a"), ("p2", "x", "b"), ("p2", "y", "b")],
                 purpose=["normal"] * 4)
    noisy = pd.concat([base, frame([("p1", "x", "b"), ("p2", "y", "a")],
                                   purpose=["retest", "normal"])], ignore_index=True)
    assert krippendorff_alpha(noisy) == krippendorff_alpha(base) == 1.0
    assert percent_agreement(noisy) == 1.0


# --- undefined figures are None, never an exception --------------------------------------


def test_all_identical_ratings_give_none() -> None:
    df = frame([("p1", "x", "a"), ("p1", "y", "a"), ("p2", "x", "a"), ("p2", "y", "a")])
    assert krippendorff_alpha(df, "nominal") is None
    assert krippendorff_alpha(df, "ordinal") is None
    assert percent_agreement(df) == 1.0
    assert rater_pairs(df)["kappa"].tolist() == [None]
    assert alpha_of_matrix(np.ones((2, 3)), "nominal") is None


def test_no_unit_rated_twice_gives_none() -> None:
    df = frame([("p1", "x", "a"), ("p2", "y", "b"), ("p3", "x", "tie")])
    assert krippendorff_alpha(df) is None
    assert percent_agreement(df) is None
    assert rater_pairs(df).empty
    assert alpha_of_matrix(np.array([[1.0, N], [N, 2.0]]), "nominal") is None


def test_empty_frames() -> None:
    empty = frame([])
    assert krippendorff_alpha(empty) is None
    assert krippendorff_alpha(empty, "ordinal") is None
    assert percent_agreement(empty) is None
    assert rater_pairs(empty).empty
    assert majority_labels(empty).empty
    assert reliability_matrix(empty)[0].shape == (0, 0)
    report = agreement_report(empty)
    assert report.alpha_nominal is None and report.raters == 0
    assert report.rater_quality.empty and report.judges.empty
    json.dumps(report.to_dict())


def test_bad_input_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="outcome"):
        krippendorff_alpha(frame([("p1", "x", "left")]))
    with pytest.raises(ValidationError, match="rater_id"):
        krippendorff_alpha(pd.DataFrame({"pair_id": ["p1"], "outcome": ["a"]}))


def test_missing_outcomes_are_dropped() -> None:
    df = frame([("p1", "x", "a"), ("p1", "y", "a"), ("p1", "z", None),
                ("p2", "x", "b"), ("p2", "y", "b")])  # type: ignore[list-item]
    assert krippendorff_alpha(df) == 1.0


# --- kappa and classification figures ------------------------------------------------------


def test_metrics_by_hand() -> None:
    # reference a, a, b, tie against prediction a, b, b, b (rows = reference, cols = prediction)
    confusion = np.zeros((4, 4), dtype=int)
    for t, p in [(0, 0), (0, 1), (1, 1), (2, 1)]:
        confusion[t, p] += 1
    m = metrics_from_confusion(confusion)
    assert m["n"] == 4 and m["accuracy"] == 0.5
    assert m["precision"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert m["recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert m["f1"] == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert m["kappa"] == pytest.approx((0.5 - 5 / 16) / (1 - 5 / 16))
    assert metrics_from_confusion(np.zeros((4, 4)))["accuracy"] is None
    assert kappa_from_confusion(np.diag([3, 0, 0, 0])) is None


def test_majority_tie_break() -> None:
    df = frame([("p1", "x", "b"), ("p1", "y", "a"), ("p2", "x", "a"), ("p2", "y", "a"),
                ("p2", "z", "tie"), ("p3", "x", "tie"), ("p3", "y", "a"), ("p3", "z", "b")])
    assert majority_labels(df).to_dict() == {"p1": "b", "p2": "a", "p3": "tie"}
    assert majority_labels(df, tie_break="none").to_dict() == {"p2": "a"}
    # judges' rows come first here: only the people's order breaks the tie
    judged = pd.concat([frame([("p1", f"j{i}", "a") for i in range(5)]).assign(source="judge"),
                        df.assign(source="human")], ignore_index=True)
    assert majority_labels(judged).to_dict() == {"p1": "b", "p2": "a", "p3": "tie"}
