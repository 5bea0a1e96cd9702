"""Position and length bias, swap consistency and per-rater quality on small hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judge_app.core.bias import length_bias, position_bias, swap_consistency, wilson_interval
from judge_app.core.rater_quality import COLUMNS, rater_quality


def verdicts(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def v(pair: str, rater: str, outcome: str, **extra: object) -> dict[str, object]:
    return {"pair_id": pair, "rater_id": rater, "outcome": outcome, **extra}


def test_position_bias_counts_decisive_verdicts_with_a_known_left_side() -> None:
    df = verdicts(
        v("p1", "x", "a", left_side="a"), v("p2", "x", "b", left_side="b"),
        v("p3", "x", "a", left_side="b"), v("p4", "x", "tie", left_side="a"),
        v("p5", "x", "a", left_side=None), v("p1", "j", "b", left_side="a", source="judge"),
    )
    table = position_bias(df).set_index("rater_id")
    assert table.loc["x", ["n", "left_wins"]].tolist() == [3, 2]
    assert table.loc["x", "left_share"] == pytest.approx(2 / 3)
    assert table.loc["j", "source"] == "judge" and table.loc["j", "left_share"] == 0.0
    by_source = position_bias(df, by="source").set_index("source")
    assert by_source["n"].to_dict() == {"human": 3, "judge": 1}
    overall = position_bias(df, by=None)
    assert overall[["n", "left_wins"]].iloc[0].tolist() == [4, 2]


def test_wilson_interval() -> None:
    lower, upper = wilson_interval(np.array([0, 5, 10, 0]), np.array([10, 10, 10, 0]))
    assert lower[0] == 0.0 and upper[2] == 1.0
    assert lower[1] < 0.5 < upper[1] and lower[1] == pytest.approx(1 - upper[1])
    # 95% Wilson interval for 5 of 10: 0.2366 .. 0.7634
    assert lower[1] == pytest.approx(0.236593, abs=1e-6)
    assert np.isnan(lower[3]) and np.isnan(upper[3])


def test_length_bias_skips_equal_and_unknown_lengths() -> None:
    df = verdicts(
        v("p1", "x", "a", len_a=10, len_b=5), v("p2", "x", "a", len_a=3, len_b=5),
        v("p3", "x", "b", len_a=3, len_b=9), v("p4", "x", "b", len_a=4, len_b=4),
        v("p5", "x", "tie", len_a=1, len_b=9), v("p6", "x", "a", len_a=None, len_b=9),
    )
    row = length_bias(df).iloc[0]
    assert (row["n"], row["longer_wins"]) == (3, 2)


def test_swap_consistency_pairs_the_retest_with_the_original() -> None:
    df = verdicts(
        v("p1", "h", "a", left_side="a", purpose="normal"),
        v("p1", "h", "a", left_side="b", purpose="retest"),     # same canonical answer: consistent
        v("p2", "h", "b", left_side="b", purpose="retest"),     # re-test listed before its original
        v("p2", "h", "a", left_side="a", purpose="normal"),     # clicked left both times: not
        v("p3", "h", "tie", purpose="normal"),                  # judged once: not counted
        v("p1", "j", "a", left_side="a", source="judge"),    # a judge's two orders
        v("p1", "j", "a", left_side="b", source="judge"),
        v("p2", "j", "b", source="judge", consistent=False),  # combined row with a flag
        v("p3", "j", "a", source="judge", consistent=True),
    )
    table = swap_consistency(df).set_index("rater_id")
    assert table.loc["h", ["n", "consistent"]].tolist() == [2, 1]
    assert table.loc["j", ["n", "consistent"]].tolist() == [3, 2]


def test_rater_quality_table() -> None:
    df = verdicts(
        # p1: x, y, z agree on a; the judge says b
        v("p1", "x", "a", left_side="a", duration_ms=1000, gold_outcome="a", purpose="gold"),
        v("p1", "y", "a", left_side="b", duration_ms=3000, gold_outcome="a", purpose="gold"),
        v("p1", "z", "a", left_side="a", duration_ms=2000, gold_outcome="a", purpose="gold"),
        v("p1", "j", "b", left_side="a", source="judge", gold_outcome="a", purpose="gold"),
        # p2: x and y split, so z has no majority among the others; z says tie
        v("p2", "x", "a", left_side="a", duration_ms=5000),
        v("p2", "y", "b", left_side="a", duration_ms=1000),
        v("p2", "z", "tie", left_side="a", duration_ms=1000),
        v("p2", "j", "a", left_side="a", source="judge"),
        # x re-tests p2 and changes its mind
        v("p2", "x", "b", left_side="b", duration_ms=4000, purpose="retest"),
    )
    table = rater_quality(df).set_index("rater_id")
    assert list(table.reset_index().columns) == COLUMNS
    assert table["verdicts"].to_dict() == {"j": 2, "x": 3, "y": 2, "z": 2}
    assert table["source"].to_dict() == {"j": "judge", "x": "human", "y": "human", "z": "human"}
    # x on p2: others y=b, z=tie split -> left out; on p1 agrees
    assert table.loc["x", ["loo_n", "loo_agreement"]].tolist() == [1, 1.0]
    # z: p1 agrees, p2 skipped (x=a, y=b)
    assert table.loc["z", ["loo_n", "loo_agreement"]].tolist() == [1, 1.0]
    # judge against all three people: p1 majority a (miss); p2 a/b/tie split (left out)
    assert table.loc["j", ["loo_n", "loo_agreement"]].tolist() == [1, 0.0]
    assert table.loc["j", "gold_accuracy"] == 0.0 and table.loc["x", "gold_accuracy"] == 1.0
    assert table.loc["x", ["retest_n", "retest_consistency"]].tolist() == [1, 0.0]
    assert table.loc["y", "retest_n"] == 0 and np.isnan(table.loc["y", "retest_consistency"])
    # x: p1 left a won, p2 left a won, retest left b won -> 3 of 3
    assert table.loc["x", ["decisive_n", "left_share"]].tolist() == [3, 1.0]
    assert table.loc["x", "median_duration_ms"] == 4000
    assert np.isnan(table.loc["j", "median_duration_ms"])
