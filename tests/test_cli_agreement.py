"""Fleiss' kappa, and `judge-app agreement` on a crowd: 124 people and two judges in a real
DuckDB file, run in-process."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge_app.cli import main
from judge_app.core.agreement import fleiss_kappa, fleiss_kappa_from_counts
from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories;
# published P-bar = 0.378, P-bar-e = 0.213, kappa = 0.210.
pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

WIKIPEDIA = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def test_fleiss_kappa_wikipedia_worked_example() -> None:
    kappa = fleiss_kappa_from_counts(WIKIPEDIA)
    assert kappa is not None and round(kappa, 3) == 0.210


def test_fleiss_kappa_matches_statsmodels() -> None:
    from statsmodels.stats import inter_rater
    rng = np.random.default_rng(3)
    for _ in range(20):
        raters, units, k = int(rng.integers(2, 9)), int(rng.integers(5, 60)), 4
        labels = rng.choice(k, size=(units, raters), p=rng.dirichlet(np.ones(k)))
        table = np.stack([(labels == c).sum(axis=1) for c in range(k)], axis=1)
        if (table.sum(axis=0) == table.sum()).any():
            continue  # one category only: statsmodels divides by zero, we say None
        ours = fleiss_kappa_from_counts(table)
        assert ours == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"),
                                     abs=1e-12)
    assert inter_rater.fleiss_kappa(WIKIPEDIA) == pytest.approx(
        fleiss_kappa_from_counts(WIKIPEDIA), abs=1e-12)


def test_fleiss_kappa_from_verdicts_and_undefined_cases() -> None:
    outcomes = ["a", "b", "tie", "both_bad", "b"]
    rows = [(f"p{u}", f"r{r}", outcomes[(u * r + r) % 5]) for u in range(12) for r in range(3)]
    frame = pd.DataFrame(rows, columns=["pair_id", "rater_id", "outcome"])
    codes = {"a": 0, "b": 1, "tie": 2, "both_bad": 3}
    table = np.zeros((12, 4), dtype=int)
    for u, _, o in [(int(p[1:]), r, o) for p, r, o in rows]:
        table[u, codes[o]] += 1
    assert fleiss_kappa(frame) == pytest.approx(fleiss_kappa_from_counts(table), abs=1e-12)
    single = pd.DataFrame([("p1", "r1", "a"), ("p2", "r1", "b")],
                          columns=["pair_id", "rater_id", "outcome"])
    assert fleiss_kappa(single) is None  # no pair rated twice
    same = pd.DataFrame([("p1", "r1", "a"), ("p1", "r2", "a")],
                        columns=["pair_id", "rater_id", "outcome"])
    assert fleiss_kappa(same) is None  # one outcome throughout


PEOPLE = 124
JUDGES = ("judge-big", "judge-small")
CARELESS = "person-007"  # answers at random


@pytest.fixture(scope="module")
def crowd_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 prompts x 4 models (240 pairs); each pair judged by 6 of 124 people and by both
    judges. Model 'm0' is best; one person clicks at random."""
    rng = np.random.default_rng(11)
    models = ["m0", "m1", "m2", "m3"]
    strength = {"m0": 1.2, "m1": 0.4, "m2": 0.0, "m3": -0.6}
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
               for i in range(40)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{m} says {i}"},))
               for i in range(40) for m in models]
    people = [f"person-{i:03d}" for i in range(PEOPLE)]
    verdicts = []
    for i, (a, b) in itertools.product(range(40), itertools.combinations(models, 2)):
        p_a = 1 / (1 + np.exp(strength[b] - strength[a]))
        truth = "a" if rng.random() < p_a else "b"
        chosen = [str(x) for x in rng.choice(people, size=6, replace=False)]
        if i % 3 == 0:
            chosen[0] = CARELESS
        for who in (*chosen, *JUDGES):
            if who == CARELESS:
                outcome = str(rng.choice(["a", "b", "tie"]))
            else:
                outcome = truth if rng.random() < 0.85 else ("tie" if rng.random() < 0.5
                                                             else ("b" if truth == "a" else "a"))
            verdicts.append(ImportedVerdict(
                f"q{i}", a, b, outcome, who,  # type: ignore[arg-type]
                source="judge" if who in JUDGES else "human",
                left_side="a" if rng.random() < 0.5 else "b"))
    path = tmp_path_factory.mktemp("crowd") / "crowd.duckdb"
    db = open_database(path)
    import_bundle(db, TaskBundle(TaskConfig(name="crowd", title="Crowd"), prompts, outputs,
                                 verdicts))
    db.close()
    return path


def agreement(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> str:
    code = main(["agreement", "--task", "crowd", "--db", str(db), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_default_is_a_short_readable_summary(crowd_db: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = agreement(capsys, crowd_db)
    lines = out.splitlines()
    assert len(lines) < 40, out  # not thousands of rater pairs
    assert f"Agreement among people on task 'crowd': {PEOPLE} raters, 240 pairs" in out
    for label in ("Krippendorff's alpha", "Fleiss' kappa", "percent agreement",
                  "Cohen's kappa", "Least reliable raters"):
        assert label in out
    assert "n/a" not in lines[2]  # a real Fleiss' kappa
    # people who share two or three pairs have no kappa worth a quartile: said so
    assert "n/a: 0 of" in out and "rater pairs share at least 10 pairs" in out
    spread = agreement(capsys, crowd_db, "--source", "all").splitlines()[4]
    assert "rater pairs share at least 10 pairs: min" in spread and "quartiles" in spread
    # the judges are outside source human: named by count with the way to see them
    assert "2 judge(s) rated this task outside source 'human'" in out
    assert not any(j in out for j in JUDGES)
    worst = out.split("Least reliable raters")[1].splitlines()[2]
    assert worst.split()[0] == CARELESS


def test_source_filters_every_table(crowd_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for source, allowed in (("human", {"human"}), ("judge", {"judge"}),
                            ("all", {"human", "judge"})):
        report = json.loads(agreement(capsys, crowd_db, "--source", source, "--format",
                                      "json"))
        names = {r["rater_id"] for r in report["rater_quality"]}
        kinds = {r["source"] for r in report["rater_quality"]}
        assert kinds == allowed
        assert report["raters"] == len(names)
        for table in ("position_bias", "length_bias", "swap_consistency"):
            assert {r["rater_id"] for r in report[table]} <= names
        pairs = {(r["rater_1"], r["rater_2"]) for r in report["rater_pairs"]}
        assert {x for p in pairs for x in p} <= names
        judged = {r["judge"] for r in report["judges"]}
        assert judged == (set(JUDGES) if "judge" in allowed else set())
    assert main(["agreement", "--task", "crowd", "--source", "people", "--db",
                 str(crowd_db)]) == 1
    assert "unknown source 'people'" in capsys.readouterr().err
    one = json.loads(agreement(capsys, crowd_db, "--source", "judge:judge-big", "--format",
                               "json"))
    assert [r["rater_id"] for r in one["rater_quality"]] == ["judge-big"]
    assert [r["judge"] for r in one["judges"]] == ["judge-big"]


def test_all_prints_every_table_sorted(crowd_db: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = agreement(capsys, crowd_db, "--source", "all", "--all")
    for title in ("Rater pairs (Cohen's kappa)", "Rater quality", "Position bias",
                  "Length bias", "Swap consistency", "decisive pairs only"):
        assert title in out
    block = out.split("Rater pairs (Cohen's kappa)\n")[1].split("\n\n")[0].splitlines()[1:]
    pairs = [tuple(line.split()[:2]) for line in block]
    assert len(pairs) > 1000
    assert pairs == sorted(pairs) and all(a < b for a, b in pairs)
    quality = out.split("\nRater quality\n")[1].split("\n\n")[0].splitlines()[1:]
    ids = [line.split()[0] for line in quality]
    assert ids == sorted(ids) and len(ids) == PEOPLE + len(JUDGES)


def test_csv_tables(crowd_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(agreement(
        capsys, crowd_db, "--format", "csv", "--table", "rater_pairs"))))
    keys = [(r["rater_1"], r["rater_2"]) for r in rows]
    assert keys == sorted(keys) and len(keys) > 1000
    assert not any(k.startswith("judge") for p in keys for k in p)
    [summary] = list(csv.DictReader(io.StringIO(agreement(capsys, crowd_db, "--format",
                                                          "csv"))))
    assert summary["source"] == "human" and int(summary["raters"]) == PEOPLE
    assert -1 < float(summary["fleiss_kappa"]) < 1
    assert summary["pair_kappa_pairs"] == "0" and summary["pair_kappa_median"] == ""
    [summary] = list(csv.DictReader(io.StringIO(agreement(
        capsys, crowd_db, "--format", "csv", "--source", "all"))))
    assert int(summary["pair_kappa_pairs"]) > 0
    assert float(summary["pair_kappa_min"]) <= float(summary["pair_kappa_median"])
