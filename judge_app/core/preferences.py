"""From verdicts to preference pairs: one majority per pair, and only clear wins become data.

A training set should hold the comparisons people (or judges) actually agreed on. Ties and
both-bad verdicts say nothing about which answer to prefer, so they never become a
chosen/rejected pair; a pair whose top outcome is shared by two outcomes (a split vote) has no
majority and is left out too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from judge_app.core.types import OUTCOMES

# What aggregate_pairs needs per verdict (storage.exports.votes returns exactly these).
VOTE_COLUMNS = [
    "pair_id", "prompt_id", "model_a", "model_b", "rater_id", "source", "outcome", "strength",
    "probability", "judge_config_hash",
]
SPLIT = ""  # the majority of a pair whose top count is shared


@dataclass(frozen=True)
class PreferenceFilters:
    min_votes: int = 1
    min_agreement: float = 0.0  # share of the pair's votes that agree with the majority

    def __post_init__(self) -> None:
        if self.min_votes < 1:
            raise ValueError("min_votes must be at least 1")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ValueError("min_agreement is a share between 0 and 1")


@dataclass(frozen=True)
class PreferenceSummary:
    """Where the pairs went: the dataset card reports these."""

    pairs: int
    preferences: int
    ties: int
    both_bad: int
    split: int
    below_min_votes: int
    below_min_agreement: int
    mean_agreement: float  # over the exported preference pairs (NaN when none)
    votes: int


def _joined(pair_ids: pd.Series, values: pd.Series) -> pd.Series:
    """Per pair, its distinct non-empty values sorted and comma-joined.

    One pass over plain lists: a per-group pandas aggregation costs ~100 us a group.
    """
    frame = pd.DataFrame({"pair_id": pair_ids, "value": values}).dropna()
    frame = frame[frame["value"] != ""].drop_duplicates().sort_values(["pair_id", "value"])
    joined: dict[str, list[str]] = {}
    for pair, value in zip(frame["pair_id"].tolist(), frame["value"].tolist(), strict=True):
        joined.setdefault(pair, []).append(value)
    return pd.Series({pair: ",".join(items) for pair, items in joined.items()}, dtype=object)


def aggregate_pairs(votes: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: vote counts per outcome, the majority, agreement and margins.

    ``agreement`` is the majority's share of the pair's votes; ``strength_mean`` the mean
    strength (1 better, 2 much better) of the votes for the winning side; ``probability_mean``
    the mean judge probability that the winning side is better, over votes that carry one.
    """
    columns = [
        "pair_id", "prompt_id", "model_a", "model_b", "n_votes",
        *(f"votes_{o}" for o in OUTCOMES), "majority", "agreement", "strength_mean",
        "probability_mean", "sources", "judge_config_hashes",
    ]
    if votes.empty:
        return pd.DataFrame(columns=columns)
    # How a vote's origin is named in exports: "human" or "judge:NAME".
    is_human = (votes["source"] == "human").to_numpy()
    votes = votes.assign(label=np.where(is_human, "human", ("judge:" + votes["rater_id"])
                                        .to_numpy(dtype=object)))
    keys = ["pair_id", "prompt_id", "model_a", "model_b"]
    counts = (votes.groupby(["pair_id", "outcome"]).size().unstack(fill_value=0)
              .reindex(columns=list(OUTCOMES), fill_value=0))
    top = counts.max(axis=1)
    is_top = counts.eq(top, axis=0)
    majority = pd.Series(
        np.where(is_top.sum(axis=1) == 1, is_top.idxmax(axis=1), SPLIT), index=counts.index
    )
    n_votes = counts.sum(axis=1)
    out = votes.groupby("pair_id")[keys[1:]].first()
    out["n_votes"] = n_votes
    for outcome in OUTCOMES:
        out[f"votes_{outcome}"] = counts[outcome]
    out["majority"] = majority
    out["agreement"] = top / n_votes

    winner = votes["pair_id"].map(majority)
    for_winner = votes[(votes["outcome"] == winner) & winner.isin(["a", "b"])]
    out["strength_mean"] = for_winner.groupby("pair_id")["strength"].mean()
    probability = votes["probability"].where(winner != "b", 1.0 - votes["probability"])
    judged = votes.assign(p=probability)[winner.isin(["a", "b"]) & votes["probability"].notna()]
    out["probability_mean"] = judged.groupby("pair_id")["p"].mean()
    out["sources"] = _joined(votes["pair_id"], votes["label"])
    out["judge_config_hashes"] = _joined(votes["pair_id"], votes["judge_config_hash"])
    out[["sources", "judge_config_hashes"]] = out[["sources", "judge_config_hashes"]].fillna("")
    return out.reset_index()[columns]


def _kept(agg: pd.DataFrame, filters: PreferenceFilters) -> pd.Series:
    return (agg["n_votes"] >= filters.min_votes) & (agg["agreement"] >= filters.min_agreement)


def select_preferences(agg: pd.DataFrame, filters: PreferenceFilters) -> pd.DataFrame:
    """Pairs with a clear a/b majority that pass the filters, with chosen/rejected models."""
    keep = agg["majority"].isin(["a", "b"]) & _kept(agg, filters)
    chosen = agg[keep].copy()
    a_wins = chosen["majority"] == "a"
    chosen["model_chosen"] = chosen["model_a"].where(a_wins, chosen["model_b"])
    chosen["model_rejected"] = chosen["model_b"].where(a_wins, chosen["model_a"])
    return chosen.reset_index(drop=True)


def select_both_bad(agg: pd.DataFrame, filters: PreferenceFilters) -> pd.DataFrame:
    """Pairs whose majority says both answers are bad: prompts that need a better answer."""
    return agg[(agg["majority"] == "both_bad") & _kept(agg, filters)].reset_index(drop=True)


def summarise(agg: pd.DataFrame, filters: PreferenceFilters) -> PreferenceSummary:
    decided = agg["majority"].isin(["a", "b"])
    few = decided & (agg["n_votes"] < filters.min_votes)
    weak = decided & ~few & (agg["agreement"] < filters.min_agreement)
    kept = decided & ~few & ~weak
    return PreferenceSummary(
        pairs=len(agg),
        preferences=int(kept.sum()),
        ties=int((agg["majority"] == "tie").sum()),
        both_bad=int((agg["majority"] == "both_bad").sum()),
        split=int((agg["majority"] == SPLIT).sum()),
        below_min_votes=int(few.sum()),
        below_min_agreement=int(weak.sum()),
        mean_agreement=float(agg.loc[kept, "agreement"].mean()) if kept.any() else float("nan"),
        votes=int(agg["n_votes"].sum()) if len(agg) else 0,
    )
