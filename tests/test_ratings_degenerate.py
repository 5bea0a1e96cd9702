"""Honest ratings on degenerate data (issue 12): never a zero-width interval that reads as
certainty; a rating the battles do not identify is named, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.cli import main
from judge_app.core.leaderboard import (
    DISCONNECTED,
    NO_LARGEST_GROUP,
    UNBOUNDED_ABOVE,
    UNBOUNDED_BELOW,
    leaderboard,
)
from judge_app.core.types import ImportedVerdict
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

NAMES = ["m0", "m1", "m2", "m3", "m4", "m5"]
relaxed = settings(max_examples=120, deadline=None)


def frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "outcome", "n"])


def honest(table: pd.DataFrame) -> None:
    """Every model with battles has a positive-width, finite interval or says why not."""
    played = table[table["battles"] > 0]
    width = played["upper"] - played["lower"]
    ok = played["identified"] & (width > 0) & np.isfinite(width)
    flagged = ~played["identified"] & (played["note"].str.len() > 0)
    assert (ok | flagged).all(), played
    assert (played["identified"] == played["rated"]).all()


def test_always_a_judge_both_orders_gives_equal_ratings_with_real_width() -> None:
    # A judge that always answers [[A]], asked in both orders: every combined verdict a tie.
    table = leaderboard(frame([(a, b, "tie", 30) for a, b in
                               [("m0", "m1"), ("m1", "m2"), ("m0", "m2"), ("m2", "m3")]]))
    assert np.allclose(table["rating"], 1000.0)
    assert (table["upper"] - table["lower"] > 20).all()  # 30 battles per pair: not certainty
    assert table["identified"].all() and (table["note"] == "").all()
    for ci in ("bootstrap",):
        boot = leaderboard(frame([("m0", "m1", "tie", 30), ("m1", "m2", "tie", 30)]), ci=ci,
                           rounds=50)
        assert (boot["upper"] - boot["lower"] > 0).all()
    davidson = leaderboard(frame([("m0", "m1", "tie", 30), ("m1", "m2", "tie", 30)]),
                           ties="davidson")
    assert (davidson["upper"] - davidson["lower"] > 0).all()


def test_all_position_biased_judge_in_single_orders() -> None:
    # Each order stored on its own: the left side always wins, so each pair splits evenly.
    rows = [(a, b, o, 10) for a, b in [("m0", "m1"), ("m1", "m2")] for o in ("a", "b")]
    table = leaderboard(frame(rows))
    assert np.allclose(table["rating"], 1000.0)
    honest(table)
    assert table["identified"].all()


def test_a_model_that_wins_or_loses_everything_is_flagged() -> None:
    rows = [("m0", "m1", "a", 5), ("m0", "m2", "a", 3), ("m1", "m2", "a", 4),
            ("m2", "m1", "a", 2), ("m3", "m1", "b", 3), ("m3", "m2", "b", 1)]
    table = leaderboard(frame(rows)).set_index("model")
    assert table.loc["m0", "note"] == UNBOUNDED_ABOVE and not table.loc["m0", "identified"]
    assert table.loc["m3", "note"] == UNBOUNDED_BELOW
    assert table.loc[["m1", "m2"], "identified"].all()
    assert np.isnan(table.loc["m0", "rating"])


def test_disconnected_graph_is_flagged() -> None:
    group = [("m0", "m1", "a", 3), ("m1", "m0", "a", 2), ("m1", "m2", "a", 2),
             ("m2", "m1", "a", 2)]
    table = leaderboard(frame(group + [("m3", "m4", "a", 2), ("m4", "m3", "a", 1)]))
    notes = table.set_index("model")["note"]
    assert (notes[["m3", "m4"]] == DISCONNECTED).all()
    even = leaderboard(frame([("m0", "m1", "tie", 2), ("m2", "m3", "tie", 2)]))
    assert (even["note"] == NO_LARGEST_GROUP).all() and not even["identified"].any()


@st.composite
def degenerate_battles(draw: st.DrawFn) -> pd.DataFrame:
    """Random battles mixed with the degenerate patterns: all ties, left-always, a model that
    wins or loses all, separate groups."""
    k = draw(st.integers(2, 6))
    pattern = draw(st.sampled_from(["random", "ties", "sweep", "groups", "mixed"]))
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        i, j = draw(st.lists(st.integers(0, k - 1), min_size=2, max_size=2, unique=True))
        if pattern == "groups" and (i < k // 2) != (j < k // 2):
            continue
        outcome = {"random": draw(st.sampled_from(["a", "b", "tie", "both_bad"])),
                   "ties": "tie", "sweep": "a" if i < j else "b",
                   "groups": draw(st.sampled_from(["a", "b", "tie"])),
                   "mixed": draw(st.sampled_from(["a", "tie"]))}[pattern]
        rows.append((NAMES[i], NAMES[j], outcome, draw(st.integers(1, 40))))
    if not rows:
        rows.append((NAMES[0], NAMES[1], "tie", 1))
    return frame(rows)


@relaxed
@given(degenerate_battles(), st.sampled_from(["half", "davidson"]))
def test_no_model_with_battles_gets_a_silent_zero_width_interval(
    battles: pd.DataFrame, ties: str,
) -> None:
    table = leaderboard(battles, ties=ties)  # type: ignore[arg-type]
    honest(table)
    # a model that never lost (and never tied) is never shown with a rating
    sweep = table[(table["losses"] == 0) & (table["ties"] == 0) & (table["wins"] > 0)]
    assert (sweep["note"] == UNBOUNDED_ABOVE).all()
    assert sweep["rating"].isna().all()


@relaxed
@given(degenerate_battles())
def test_disconnected_models_are_always_flagged(battles: pd.DataFrame) -> None:
    table = leaderboard(battles).set_index("model")
    rated = set(table.index[table["rated"]])
    for row in battles.itertuples():
        linked = {row.model_a, row.model_b}
        if linked & rated and not linked <= rated:
            outside = (linked - rated).pop()
            assert table.loc[outside, "note"].startswith("not identified"), table


def test_cli_table_and_json_say_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = make_bundle("deg", n_prompts=4, models=("m1", "m2", "m3"))
    bundle.verdicts = [ImportedVerdict(f"q{i}", a, b, "tie", "always-a", source="judge")
                       for i in range(4) for a, b in (("m1", "m2"), ("m2", "m3"))]
    bundle.verdicts += [ImportedVerdict(f"q{i}", "m3", "m1", "a", "ann") for i in range(3)]
    db = tmp_path / "j.duckdb"
    import_bundle(open_database(db), bundle)
    capsys.readouterr()
    assert main(["leaderboard", "--task", "deg", "--source", "judge:always-a", "--format",
                 "json", "--db", str(db)]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    for row in models.values():
        assert row["rating"] == pytest.approx(1000.0) and row["upper"] - row["lower"] > 1
        assert row["identified"] is True and row["note"] == ""
    assert main(["leaderboard", "--task", "deg", "--source", "human", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "m3: " + UNBOUNDED_ABOVE in out and "m1: " + UNBOUNDED_BELOW in out
