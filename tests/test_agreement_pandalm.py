"""PandaLM's published figures (README and data/compute_metrics.py) from its own test set."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from judge_app.core.agreement import (
    judge_vs_humans,
    krippendorff_alpha,
    majority_labels,
    rater_pairs,
)
from judge_app.core.agreement_report import agreement_report
from tests.conftest import DATA
from tests.ingest_helpers import REPO

# The three annotators' labels as tasks/demo-pandalm ships them (built unchanged from
# testset-v1.json: response1 is model_a, pair = idx); the judges' answers from tests/data.
HUMANS = REPO / "tasks" / "demo-pandalm" / "verdicts.jsonl"
JUDGES = {"gpt-3.5-turbo": ("judge-gpt-3.5-turbo-testset-v1.json.gz", "gpt_result"),
          "pandalm-7b": ("judge-pandalm-7b-testset-v1.json.gz", "pandalm_result")}
A1, A2, A3 = (f"pandalm-annotator-{i}" for i in (1, 2, 3))


def _judge_outcome(answer: object) -> str:
    # compute_metrics.py counts "Tie"/"tie" and unparseable "garbage" answers as 0 (tie)
    return {"1": "a", "2": "b"}.get(str(answer).strip(), "tie")


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    humans = [json.loads(line) for line in HUMANS.read_text("utf-8").splitlines()]
    rows = [{"pair_id": int(v["prompt_id"]), "rater_id": v["rater"], "source": "human",
             "outcome": v["outcome"]} for v in humans]
    for judge, (name, field) in JUDGES.items():
        rows += [{"pair_id": it["idx"], "rater_id": judge, "source": "judge",
                  "outcome": _judge_outcome(it[field])}
                 for it in json.loads(gzip.decompress((DATA / "pandalm" / name).read_bytes()))]
    return pd.DataFrame(rows)


def test_cohen_kappa_between_annotators(verdicts: pd.DataFrame) -> None:
    table = rater_pairs(verdicts[verdicts["source"] == "human"]).set_index(["rater_1", "rater_2"])
    assert table["n"].tolist() == [999, 999, 999]
    kappas = [round(table.loc[pair, "kappa"], 2) for pair in
              [(A1, A2), (A1, A3), (A2, A3)]]
    assert kappas == [0.85, 0.88, 0.86]


def test_majority_label_counts(verdicts: pd.DataFrame) -> None:
    counts = majority_labels(verdicts).value_counts()
    assert (counts["tie"], counts["a"], counts["b"]) == (105, 422, 472)


@pytest.mark.parametrize(("judge", "expected"), [
    ("gpt-3.5-turbo", (0.7107, 0.5879, 0.5736, 0.5755)),
    ("pandalm-7b", (0.6677, 0.5738, 0.5750, 0.5743)),
])
def test_judges_against_human_majority(
    verdicts: pd.DataFrame, judge: str, expected: tuple[float, ...],
) -> None:
    row = judge_vs_humans(verdicts).set_index("judge").loc[judge]
    assert row["n"] == 999
    got = tuple(round(float(row[k]), 4) for k in ("accuracy", "precision", "recall", "f1"))
    assert got == expected


def test_without_ties_only_decisive_pairs_count(verdicts: pd.DataFrame) -> None:
    table = judge_vs_humans(verdicts, include_ties=False).set_index("judge")
    majority = majority_labels(verdicts)
    for judge in JUDGES:
        mine = verdicts[verdicts["rater_id"] == judge].set_index("pair_id")["outcome"]
        both = majority.isin(["a", "b"]) & mine.reindex(majority.index).isin(["a", "b"])
        assert table.loc[judge, "n"] == both.sum()
        agree = (majority[both] == mine.reindex(majority.index)[both]).mean()
        assert table.loc[judge, "accuracy"] == pytest.approx(agree)


def test_krippendorff_alpha_nominal(verdicts: pd.DataFrame) -> None:
    alpha = krippendorff_alpha(verdicts[verdicts["source"] == "human"], "nominal")
    assert alpha is not None and round(alpha, 4) == 0.8642


def test_report_gathers_the_same_figures(verdicts: pd.DataFrame) -> None:
    people = agreement_report(verdicts)  # people only by default: no judge rows
    assert people.raters == 3 and people.pairs_rated_twice == 999
    assert people.alpha_nominal == krippendorff_alpha(verdicts[verdicts["source"] == "human"])
    assert people.judges.empty and people.judges_elsewhere == 2
    report = agreement_report(verdicts, source="judge")
    pd.testing.assert_frame_equal(report.judges, judge_vs_humans(verdicts))
    quality = report.rater_quality.set_index("rater_id")
    # with no three-way splits, a judge's leave-one-out agreement is its accuracy
    assert quality.loc["gpt-3.5-turbo", "loo_agreement"] == pytest.approx(
        report.judges.set_index("judge").loc["gpt-3.5-turbo", "accuracy"])
    assert json.loads(json.dumps(report.to_dict()))["alpha_nominal"] == report.alpha_nominal
