"""A verdict's identity includes the order its pair was shown in (issue 12).

Judge results ship one verdict per order, often without timestamps (MT-Bench's g1/g2,
Arena-Hard's two games, LLMBar's swapped runs): both import, a re-import adds nothing, and
a task written back to a native folder and imported into a fresh database gives the same
leaderboard, agreement and bias figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from judge_app.core.ids import content_hash, pair_id
from judge_app.ingest.loader import load_bundles
from judge_app.ingest.native_writer import write_task_folder
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import agreement, compute_leaderboard
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import DATA
from tests.ingest_helpers import load_error, write_task

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

BOTH_ORDERS = [
    {"prompt_id": "p1", "model_a": "m1", "model_b": "m2", "outcome": "a", "rater": "j",
     "source": "judge", "left": "a"},
    {"prompt_id": "p1", "model_a": "m1", "model_b": "m2", "outcome": "b", "rater": "j",
     "source": "judge", "left": "b"},
]


def stored(db: Database) -> pd.DataFrame:
    with db.cursor() as cur:
        return cur.execute("SELECT verdict_id, rater_id, left_side, outcome FROM verdicts "
                           "ORDER BY left_side").df()


def test_two_orders_without_timestamps_are_two_verdicts(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t", verdicts=BOTH_ORDERS)
    [bundle] = load_bundles([folder])
    db = open_database(tmp_path / "j.duckdb")
    assert import_bundle(db, bundle).verdicts_new == 2
    assert stored(db)[["left_side", "outcome"]].values.tolist() == [["a", "a"], ["b", "b"]]
    # the same file again, or its rows in the other order, adds nothing
    assert import_bundle(db, bundle).verdicts_new == 0
    (folder / "verdicts.jsonl").write_text(
        "".join(json.dumps(v) + "\n" for v in reversed(BOTH_ORDERS)), encoding="utf-8")
    [again] = load_bundles([folder])
    assert import_bundle(db, again).verdicts_new == 0 and len(stored(db)) == 2


def test_the_same_order_twice_is_still_a_duplicate(tmp_path: Path) -> None:
    twice = [BOTH_ORDERS[0], {**BOTH_ORDERS[0], "outcome": "b"}]
    err = load_error(write_task(tmp_path / "t", verdicts=twice))
    assert err.line == 2 and err.field == "rater" and "same model on the left" in str(err)


def test_order_is_identity_whichever_way_the_pair_is_written(tmp_path: Path) -> None:
    # m2-first with left "b" is the same showing as m1-first with left "a"
    same = {**BOTH_ORDERS[0], "model_a": "m2", "model_b": "m1", "outcome": "b", "left": "b"}
    err = load_error(write_task(tmp_path / "t", verdicts=[BOTH_ORDERS[0], same]))
    assert err.line == 2


def test_verdicts_imported_before_the_order_was_part_of_the_id_stay_single(
    db: Database,
) -> None:
    """A database filled by an older version holds ids without the order: no duplicates."""
    [bundle] = load_bundles([DATA / "arena_hard"])
    assert import_bundle(db, bundle).verdicts_new == len(bundle.verdicts)
    task = bundle.config.name
    # Give the stored rows the ids the older version derived: rater, pair, time, rank.
    seen: dict[tuple[str, str], int] = {}
    with db.cursor() as cur:
        rows = cur.execute("SELECT verdict_id, rater_id, pair_id FROM verdicts").fetchall()
        by_new: dict[str, str] = {}
        for v in bundle.verdicts:
            a, b = sorted((v.model_a, v.model_b))
            pid = pair_id(task, v.prompt_id, a, b)
            key = (v.rater_id, pid)
            seen[key] = seen.get(key, -1) + 1
            left = v.left_side if v.model_a < v.model_b else {"a": "b", "b": "a"}[v.left_side]
            new = "import:" + content_hash([task, v.rater_id, pid, None, f"left:{left}", 0])
            by_new[new] = "import:" + content_hash([task, v.rater_id, pid, None, seen[key]])
        assert {r[0] for r in rows} == set(by_new)
        for new, old in by_new.items():
            cur.execute("UPDATE verdicts SET verdict_id = ? WHERE verdict_id = ?", [old, new])
    assert import_bundle(db, bundle).verdicts_new == 0
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM verdicts").fetchone()[0] == len(bundle.verdicts)


# ---- figures: ours against a direct computation from the raw files ----------------------

def _mt_bench_raw() -> list[dict]:
    path = DATA / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _arena_hard_raw() -> list[dict]:
    folder = DATA / "arena_hard" / "model_judgment" / "gpt-4.1"
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl"))
            for line in p.read_text("utf-8").splitlines()]


def _mt_bench_direct() -> tuple[float, float]:
    """(share of decisive games won by the answer shown first, share of records whose two
    games agree); MT-Bench's own definitions (the paper's position-consistency table)."""
    left_wins = decisive = agree = both = 0
    for r in _mt_bench_raw():
        for game, first in (("g1", "model_1"), ("g2", "model_2")):
            if r[f"{game}_winner"] in ("model_1", "model_2"):
                decisive += 1
                left_wins += r[f"{game}_winner"] == first
        if "error" not in (r["g1_winner"], r["g2_winner"]):
            both += 1
            agree += r["g1_winner"] == r["g2_winner"]
    return left_wins / decisive, agree / both


def _arena_hard_direct() -> tuple[float, float]:
    """Game 1 shows the baseline as A, game 2 the model as A; A is always shown first."""
    winner = {"A>>B": "A", "A>B": "A", "A=B": "=", "B=A": "=", "B>A": "B", "B>>A": "B"}
    left_wins = decisive = agree = both = 0
    for r in _arena_hard_raw():
        scores = [g.get("score") if g else None for g in r["games"]]
        for s in scores:
            if s is not None and winner[s] != "=":
                decisive += 1
                left_wins += winner[s] == "A"
        if None not in scores:
            # in the model's terms: game 1 B is the model, game 2 A is the model
            model_1 = {"A": "base", "B": "model", "=": "tie"}[winner[scores[0]]]
            model_2 = {"A": "model", "B": "base", "=": "tie"}[winner[scores[1]]]
            both += 1
            agree += model_1 == model_2
    return left_wins / decisive, agree / both


@pytest.mark.parametrize(("folder", "judge", "direct"), [
    ("mt_bench", "gpt-4", _mt_bench_direct), ("arena_hard", "gpt-4.1", _arena_hard_direct),
])
def test_position_bias_and_swap_consistency_match_the_raw_files(
    db: Database, folder: str, judge: str, direct: object,
) -> None:
    [bundle] = load_bundles([DATA / folder])
    import_bundle(db, bundle)
    report = agreement(db, bundle.config.name, None)
    position = report.position_bias.set_index("rater_id").loc[judge]
    swap = report.swap_consistency.set_index("rater_id").loc[judge]
    left_share, consistency = direct()  # type: ignore[operator]
    assert position["left_share"] == pytest.approx(left_share)
    assert swap["consistency"] == pytest.approx(consistency)


def figures(db: Database, task: str) -> dict[str, str]:
    report = agreement(db, task, None)
    board = compute_leaderboard(db, task)
    # as JSON text: NaN (an undefined share) then equals NaN
    return {"leaderboard": board.to_json(orient="records"),
            "position": report.position_bias.to_json(orient="records"),
            "swap": report.swap_consistency.to_json(orient="records"),
            "length": report.length_bias.to_json(orient="records"),
            "pairs": report.rater_pairs.to_json(orient="records"),
            "alpha": json.dumps([report.alpha_nominal, report.percent_agreement])}


@pytest.mark.parametrize("folder", ["mt_bench", "arena_hard", "arena_hard_v01"])
def test_round_trip_through_a_native_folder_keeps_every_figure(
    tmp_path: Path, folder: str,
) -> None:
    [bundle] = load_bundles([DATA / folder])
    first = open_database(tmp_path / "first.duckdb")
    assert import_bundle(first, bundle).verdicts_new == len(bundle.verdicts)
    written = tmp_path / "task"
    write_task_folder(bundle, written)
    [again] = load_bundles([written])
    second = open_database(tmp_path / "second.duckdb")
    assert import_bundle(second, again).verdicts_new == len(bundle.verdicts)
    assert figures(first, bundle.config.name) == figures(second, again.config.name)
