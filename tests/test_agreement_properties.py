"""Invariances of the agreement and bias figures (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.core import agreement, bias
from judge_app.core.rater_quality import rater_quality
from judge_app.core.types import OUTCOMES, flip
from judge_app.core.verdict_frame import prepare, primary

SIDES = ("a", "b")


@st.composite
def verdict_frames(draw: st.DrawFn) -> pd.DataFrame:
    n_pairs = draw(st.integers(1, 6))
    n_raters = draw(st.integers(1, 5))
    sources = draw(st.lists(st.sampled_from(["human", "judge"]), min_size=n_raters,
                            max_size=n_raters))
    lengths = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)),
                            min_size=n_pairs, max_size=n_pairs))
    gold = draw(st.lists(st.sampled_from([None, *OUTCOMES]), min_size=n_pairs, max_size=n_pairs))
    cells = draw(st.lists(st.tuples(
        st.integers(0, n_raters - 1), st.integers(0, n_pairs - 1), st.sampled_from(OUTCOMES),
        st.sampled_from(SIDES), st.sampled_from(["normal", "normal", "retest"]),
    ), max_size=40))
    return pd.DataFrame(
        [{"pair_id": f"p{p}", "rater_id": f"r{r}", "source": sources[r], "outcome": o,
          "left_side": side, "purpose": purpose, "len_a": lengths[p][0], "len_b": lengths[p][1],
          "gold_outcome": gold[p], "duration_ms": 100 * (r + 1)}
         for r, p, o, side, purpose in cells],
        columns=["pair_id", "rater_id", "source", "outcome", "left_side", "purpose", "len_a",
                 "len_b", "gold_outcome", "duration_ms"])


def flipped(df: pd.DataFrame, pairs: set[str]) -> pd.DataFrame:
    """The same verdicts with a and b swapped in the given pairs: outcome, side, lengths, gold."""
    m = df["pair_id"].isin(pairs)
    swapped = {col: df[col].where(~m, df[col].map(lambda x: flip(x) if isinstance(x, str) else x))
               for col in ("outcome", "left_side", "gold_outcome")}
    return df.assign(**swapped, len_a=df["len_a"].where(~m, df["len_b"]),
                     len_b=df["len_b"].where(~m, df["len_a"]))


def same(x: float | None, y: float | None) -> bool:
    if x is None or y is None or (isinstance(x, float) and math.isnan(x)):
        return (x is None or math.isnan(x)) and (y is None or math.isnan(y))
    return math.isclose(x, y, abs_tol=1e-9)


def same_frame(x: pd.DataFrame, y: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True),
                                  check_dtype=False)


@settings(max_examples=60, deadline=None)
@given(verdict_frames(), st.randoms(use_true_random=False))
def test_relabelling_raters_changes_no_alpha(df: pd.DataFrame, rnd: object) -> None:
    names = sorted(df["rater_id"].unique())
    new = names[:]
    rnd.shuffle(new)  # type: ignore[attr-defined]
    renamed = df.assign(rater_id=df["rater_id"].map(dict(zip(names, new, strict=True))))
    renamed = renamed.sort_values("rater_id", kind="stable")  # per-rater order kept
    for level in ("nominal", "ordinal", "interval"):
        assert same(agreement.krippendorff_alpha(df, level),  # type: ignore[arg-type]
                    agreement.krippendorff_alpha(renamed, level))  # type: ignore[arg-type]
    assert same(agreement.percent_agreement(df), agreement.percent_agreement(renamed))
    kappas = sorted((r.n, r.agreement) for r in agreement.rater_pairs(df).itertuples())
    assert kappas == sorted((r.n, r.agreement) for r in agreement.rater_pairs(renamed).itertuples())


@settings(max_examples=60, deadline=None)
@given(verdict_frames(), st.data())
def test_flipping_a_pair_changes_no_agreement_or_bias(
    df: pd.DataFrame, data: st.DataObject,
) -> None:
    pairs = set(data.draw(st.lists(st.sampled_from(sorted(df["pair_id"].unique()) or ["p0"]))))
    other = flipped(df, pairs)
    assert same(agreement.percent_agreement(df), agreement.percent_agreement(other))
    same_frame(agreement.rater_pairs(df).drop(columns="kappa"),
               agreement.rater_pairs(other).drop(columns="kappa"))
    quality = ["rater_id", "verdicts", "loo_n", "loo_agreement", "gold_n", "gold_accuracy",
               "retest_n", "retest_consistency", "decisive_n", "left_share"]
    same_frame(rater_quality(df)[quality], rater_quality(other)[quality])
    for figure in (bias.position_bias, bias.length_bias, bias.swap_consistency):
        same_frame(figure(df), figure(other))
    for ties in (True, False):
        a = agreement.judge_vs_humans(df, include_ties=ties)
        b = agreement.judge_vs_humans(other, include_ties=ties)
        same_frame(a[["judge", "n", "accuracy"]], b[["judge", "n", "accuracy"]])


@settings(max_examples=60, deadline=None)
@given(verdict_frames())
def test_flipping_every_pair_changes_nothing(df: pd.DataFrame) -> None:
    other = flipped(df, set(df["pair_id"]))
    for level in ("nominal", "ordinal"):
        assert same(agreement.krippendorff_alpha(df, level),  # type: ignore[arg-type]
                    agreement.krippendorff_alpha(other, level))  # type: ignore[arg-type]
    same_frame(agreement.rater_pairs(df), agreement.rater_pairs(other))
    for ties in (True, False):
        same_frame(agreement.judge_vs_humans(df, include_ties=ties),
                   agreement.judge_vs_humans(other, include_ties=ties))


@settings(max_examples=100, deadline=None)
@given(verdict_frames())
def test_a_rater_who_always_picks_left_has_position_bias_one(df: pd.DataFrame) -> None:
    lefty = df.assign(outcome=df["left_side"])
    table = bias.position_bias(lefty)
    assert (table["left_share"] == 1.0).all() and (table["upper"] == 1.0).all()
    assert (table["n"] == lefty.groupby("rater_id").size().sort_index().to_numpy()).all()


@settings(max_examples=100, deadline=None)
@given(verdict_frames())
def test_alpha_matches_the_package_on_our_matrix(df: pd.DataFrame) -> None:
    for level in ("nominal", "ordinal"):
        matrix, _, _ = agreement.reliability_matrix(df, level)  # type: ignore[arg-type]
        assert same(agreement.alpha_of_matrix(matrix, level),  # type: ignore[arg-type]
                    agreement.krippendorff_alpha(df, level))  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=20))
def test_wilson_interval_brackets_the_share(cases: list[tuple[int, int]]) -> None:
    k = np.array([min(a, b) for a, b in cases])
    n = np.array([max(a, b) for a, b in cases])
    lower, upper = bias.wilson_interval(k, n)
    ok = n > 0
    share = k[ok] / n[ok]
    assert (lower[ok] <= share + 1e-12).all() and (share <= upper[ok] + 1e-12).all()
    assert (lower[ok] >= 0).all() and (upper[ok] <= 1).all()
    assert np.isnan(lower[~ok]).all()


@settings(max_examples=60, deadline=None)
@given(verdict_frames(), st.integers(1, 5))
def test_both_kappa_routes_agree(df: pd.DataFrame, chunk: int) -> None:
    frame = primary(prepare(df, ("purpose",)))
    if frame.empty:
        return
    grid = agreement._pair_confusions(frame, "grid")
    old = agreement._CHUNK
    agreement._CHUNK = chunk  # many small chunks exercise the chunk boundaries
    try:
        pairs = agreement._pair_confusions(frame, "pairs")
    finally:
        agreement._CHUNK = old
    for x, y in zip(grid, pairs, strict=True):
        assert np.array_equal(x, y)


@settings(max_examples=60, deadline=None)
@given(verdict_frames())
def test_majority_matches_a_plain_count(df: pd.DataFrame) -> None:
    votes: dict[str, dict[str, int]] = {}
    seen: set[tuple[str, str]] = set()
    for row in df.itertuples():
        if row.purpose == "retest" or row.source != "human" or (row.rater_id, row.pair_id) in seen:
            continue
        seen.add((row.rater_id, row.pair_id))
        tally = votes.setdefault(row.pair_id, {})  # insertion order: PandaLM's tie-break
        tally[row.outcome] = tally.get(row.outcome, 0) + 1
    expected = {pair: max(tally, key=tally.__getitem__) for pair, tally in votes.items()}
    assert agreement.majority_labels(df).to_dict() == expected


@settings(max_examples=60, deadline=None)
@given(verdict_frames())
def test_leave_one_out_matches_a_plain_count(df: pd.DataFrame) -> None:
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (rater, pair) -> (outcome, source)
    for row in df.itertuples():
        if row.purpose != "retest":
            first.setdefault((row.rater_id, row.pair_id), (row.outcome, row.source))
    expected: dict[str, list[int]] = {}
    for (rater, pair), (outcome, _) in first.items():
        others = [o for (r, p), (o, s) in first.items()
                  if p == pair and r != rater and s == "human"]
        tally = {label: others.count(label) for label in set(others)}
        best = max(tally.values(), default=0)
        leaders = [label for label, n in tally.items() if n == best]
        n, hits = expected.setdefault(rater, [0, 0])
        if best and len(leaders) == 1:
            expected[rater] = [n + 1, hits + (leaders[0] == outcome)]
    table = rater_quality(df).set_index("rater_id")
    for rater, (n, hits) in expected.items():
        assert table.loc[rater, "loo_n"] == n
        assert same(table.loc[rater, "loo_agreement"], hits / n if n else None)
