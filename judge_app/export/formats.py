"""Shape aggregated preferences and verdicts into the record layouts training tools read.

Every preference format carries the same provenance columns (except ``openai-dpo``, whose
files OpenAI validates strictly: its provenance goes to a line-aligned sidecar file).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from judge_app.core import conversation
from judge_app.core.types import Source, text_of
from judge_app.export import FORMATS as FORMATS  # re-exported
from judge_app.export import PREFERENCE_FORMATS as PREFERENCE_FORMATS

WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def _messages(text: str) -> list[dict[str, Any]]:
    return [dict(m) for m in json.loads(text)]


def _parsed(column: pd.Series) -> pd.Series:
    """JSON message lists, parsed over a plain list (Series.map is slow on Arrow strings)."""
    return pd.Series([_messages(t) for t in column.tolist()], index=column.index, dtype=object)


def with_texts(chosen: pd.DataFrame, texts: pd.DataFrame) -> pd.DataFrame:
    """Attach prompt and chosen/rejected responses (as message lists) to chosen pairs."""
    merged = chosen.merge(texts, on="pair_id", how="left")
    a_wins = merged["majority"] == "a"
    merged["prompt_messages"] = _parsed(merged["messages"])
    response_a, response_b = _parsed(merged["response_a"]), _parsed(merged["response_b"])
    merged["chosen_messages"] = response_a.where(a_wins, response_b)
    merged["rejected_messages"] = response_b.where(a_wins, response_a)
    return merged


def provenance(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    return pd.DataFrame({
        "task": task,
        "prompt_id": rows["prompt_id"],
        "model_chosen": rows["model_chosen"],
        "model_rejected": rows["model_rejected"],
        "num_votes": rows["n_votes"].astype("int64"),
        "agreement": rows["agreement"].astype("float64"),
        "sources": rows["sources"],
        "judge_config_hashes": rows["judge_config_hashes"],
        "margin": rows["agreement"].astype("float64"),
        "margin_strength": rows["strength_mean"].astype("float64"),
        "margin_probability": rows["probability_mean"].astype("float64"),
    }).reset_index(drop=True)


def trl(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    core = pd.DataFrame({
        "prompt": rows["prompt_messages"].map(text_of),
        "chosen": rows["chosen_messages"].map(text_of),
        "rejected": rows["rejected_messages"].map(text_of),
    })
    return pd.concat([core.reset_index(drop=True), provenance(rows, task)], axis=1)


def trl_chat(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    core = pd.DataFrame({
        "prompt": rows["prompt_messages"],
        "chosen": rows["chosen_messages"],
        "rejected": rows["rejected_messages"],
    })
    return pd.concat([core.reset_index(drop=True), provenance(rows, task)], axis=1)


def openai_dpo(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    """No provenance columns: OpenAI's validator refuses them (they go to a sidecar)."""
    return pd.DataFrame({
        "input": [{"messages": m} for m in rows["prompt_messages"]],
        "preferred_output": list(rows["chosen_messages"]),
        "non_preferred_output": list(rows["rejected_messages"]),
    })


def kto(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    """Each preference pair as two rows: the chosen answer desirable, the rejected not."""
    prov = provenance(rows, task)
    prompt = rows["prompt_messages"].map(text_of).reset_index(drop=True)
    good = pd.DataFrame({"prompt": prompt, "completion": rows["chosen_messages"].map(text_of)
                         .reset_index(drop=True), "label": True, "model": prov["model_chosen"]})
    bad = pd.DataFrame({"prompt": prompt, "completion": rows["rejected_messages"].map(text_of)
                        .reset_index(drop=True), "label": False,
                        "model": prov["model_rejected"]})
    both = pd.concat([pd.concat([good, prov], axis=1), pd.concat([bad, prov], axis=1)])
    return both.sort_index(kind="stable").reset_index(drop=True)


def both_bad_prompts(rows: pd.DataFrame, texts: pd.DataFrame, task: str) -> pd.DataFrame:
    """Prompts whose answers were all judged bad: candidates for writing a better answer."""
    merged = rows.merge(texts, on="pair_id", how="left")
    return pd.DataFrame({
        "prompt": merged["messages"].map(lambda t: text_of(_messages(t))),
        "task": task,
        "prompt_id": merged["prompt_id"],
        "model_a": merged["model_a"],
        "model_b": merged["model_b"],
        "num_votes": merged["n_votes"].astype("int64"),
        "agreement": merged["agreement"].astype("float64"),
        "sources": merged["sources"],
    })


def battle_judge(source: Source, rater_id: str) -> str:
    """The battle record's ``judge``: a person's name, or ``judge:NAME`` for an LLM judge."""
    return rater_id if source == "human" else f"judge:{rater_id}"


def battles(rows: pd.DataFrame) -> pd.DataFrame:
    """FastChat clean battle records, one per verdict, in time order."""
    prompts = _parsed(rows["messages"])
    conv_a = [conversation.join(p, r) for p, r in zip(prompts, _parsed(rows["response_a"]),
                                                      strict=True)]
    conv_b = [conversation.join(p, r) for p, r in zip(prompts, _parsed(rows["response_b"]),
                                                      strict=True)]
    stamps = pd.to_datetime(rows["created_at"])
    return pd.DataFrame({
        "question_id": rows["prompt_id"],
        "model_a": rows["model_a"],
        "model_b": rows["model_b"],
        "winner": rows["outcome"].map(WINNER),
        "judge": [battle_judge(s, r) for s, r in zip(rows["source"], rows["rater_id"],
                                                   strict=True)],
        "conversation_a": conv_a,
        "conversation_b": conv_b,
        "turn": prompts.map(conversation.user_turns).astype("int64"),
        "tstamp": (stamps - pd.Timestamp(0)).dt.total_seconds(),
    })
