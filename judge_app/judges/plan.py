"""A judge run's plan: which calls a task needs, in which order each pair is shown, what the
calls still to make should cost; and how a pair's answered calls combine into one verdict.

Pure: the plan is built from rows the run use-case (services/judge_runs.py) reads, so this
module knows no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge_app.core.types import RawChoice, Side
from judge_app.core.verdict_parsing import (
    CombinedVerdict,
    OrientedVerdict,
    ParsedAnswer,
    ShownOutcome,
    combine_orders,
)
from judge_app.judges.config import JudgeConfig
from judge_app.judges.cost import cost_usd, estimate_prompt_tokens
from judge_app.judges.prompt import conversation_text, render


@dataclass(frozen=True)
class PlannedCall:
    key: str
    pair: int  # index into Plan.pairs
    left_side: Side  # the canonical side shown first


@dataclass(frozen=True)
class CallEstimate:
    """Tokens and cost of the calls still to make, from characters (before any call)."""

    calls: int
    input_tokens: int
    max_output_tokens: int
    input_cost_usd: float
    max_cost_usd: float


@dataclass
class Plan:
    task_id: str
    config: JudgeConfig
    config_hash: str
    endpoint: str  # as shown and stored: credentials masked (the client gets the real one)
    pairs: list[dict[str, Any]]
    calls: list[PlannedCall]
    cached: dict[str, dict[str, Any]]
    skipped_no_reference: int = 0

    @property
    def to_call(self) -> list[PlannedCall]:
        """Calls not cached, each key once (two pairs can ask the very same question)."""
        seen = set(self.cached)
        out = []
        for c in self.calls:
            if c.key not in seen:
                seen.add(c.key)
                out.append(c)
        return out

    def messages(self, call: PlannedCall) -> list[dict[str, str]]:
        pair = self.pairs[call.pair]
        first, second = shown_order(pair, call.left_side)
        cfg = self.config
        return render(cfg.system, cfg.user, conversation=conversation_text(pair["messages"]),
                      first=first, second=second, reference=pair["reference"],
                      criteria=cfg.criteria)

    def estimate(self) -> CallEstimate:
        """Tokens and cost of the calls still to make, from characters (before any call)."""
        input_tokens = sum(estimate_prompt_tokens(self.messages(c)) for c in self.to_call)
        max_output = self.config.max_tokens * len(self.to_call)
        cfg = self.config
        input_cost = cost_usd(input_tokens, 0, cfg.input_price_per_million, 0.0)
        return CallEstimate(
            calls=len(self.to_call), input_tokens=input_tokens, max_output_tokens=max_output,
            input_cost_usd=input_cost,
            max_cost_usd=input_cost + cost_usd(0, max_output, 0.0,
                                               cfg.output_price_per_million))


def shown_order(pair: Mapping[str, Any], left_side: Side) -> tuple[str, str]:
    """The two response texts in the order the judge sees them."""
    a, b = pair["text_a"], pair["text_b"]
    return (a, b) if left_side == "a" else (b, a)


def left_sides(config: JudgeConfig, pair_id: str) -> list[Side]:
    """The canonical side shown first, for each call a pair gets."""
    if config.order == "both":
        return ["a", "b"]
    if config.order == "fixed":
        return ["a"]
    digest = hashlib.sha256(f"{config.seed}\x1f{pair_id}".encode()).digest()
    return ["a" if digest[0] < 128 else "b"]


# A judge's answer in the order shown ('a' = the answer shown first) as a judge call row keeps
# it: a raw choice, in the same screen terms as a person's click (glossary: the UI's A / B).
RAW_CHOICE_OF_SHOWN: dict[ShownOutcome | None, RawChoice | None] = {
    "a": "left", "b": "right", "tie": "tie", None: None}
SHOWN_OF_RAW_CHOICE: dict[RawChoice | None, ShownOutcome | None] = {
    v: k for k, v in RAW_CHOICE_OF_SHOWN.items()}


def _parsed(row: Mapping[str, Any]) -> ParsedAnswer:
    return ParsedAnswer(row["raw_answer"], SHOWN_OF_RAW_CHOICE[row["raw_choice"]],
                        row["strength"], row["probability"], row["parse_error"])


def combined_verdict(rows: Sequence[Mapping[str, Any]]) -> CombinedVerdict | None:
    oriented: list[OrientedVerdict | None] = [
        _parsed(r).oriented(r["left_side"]) for r in rows]
    return combine_orders(*(oriented + [None] * (2 - len(oriented)))[:2])
