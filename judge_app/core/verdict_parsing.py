"""Read a judge's answer as a verdict, and combine the verdicts of the two orders.

An answer is parsed relative to the order the judge saw: 'a' means the response shown
first. A parse failure is returned as data (with the raw text and a reason), never raised,
so every paid answer can be kept and counted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from judge_app.core.types import Outcome, Side, flip

AnswerFormat = Literal["labels", "five-level", "json"]
ANSWER_FORMATS: tuple[AnswerFormat, ...] = ("labels", "five-level", "json")
ShownOutcome = Literal["a", "b", "tie"]  # 'a' = the response shown first

_LABEL = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.IGNORECASE)
_BARE_LABEL = re.compile(r"^\W*([ABC])\W*$", re.IGNORECASE)
_SCALE = re.compile(r"\[\[\s*([AB])\s*(>>|>|=|<<|<)\s*([AB])\s*\]\]", re.IGNORECASE)
_BARE_SCALE = re.compile(r"^\W*([AB])\s*(>>|>|=|<<|<)\s*([AB])\W*$", re.IGNORECASE)

LABEL_OUTCOMES: dict[str, ShownOutcome] = {"A": "a", "B": "b", "C": "tie"}
JSON_WINNERS: dict[str, ShownOutcome] = {
    "a": "a", "b": "b", "tie": "tie", "c": "tie", "draw": "tie", "equal": "tie",
}
# Tokens whose top alternatives carry the verdict, per format (five-level has no single token).
TOKEN_LABELS: dict[AnswerFormat, dict[str, ShownOutcome]] = {
    "labels": {"A": "a", "B": "b", "C": "tie"},
    "json": {"A": "a", "B": "b", "C": "tie", "TIE": "tie"},
}


@dataclass(frozen=True)
class ParsedAnswer:
    """One judge answer read as a verdict on the order shown, or why it could not be."""

    raw: str
    outcome: ShownOutcome | None = None
    strength: int | None = None  # 1 better, 2 much better; None for ties or unknown
    probability: float | None = None  # P(first shown is better), ties counting half
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not None

    def oriented(self, first: Side) -> OrientedVerdict | None:
        """This verdict in the pair's canonical order, given which output was shown first."""
        if self.outcome is None:
            return None
        outcome: Outcome = self.outcome if first == "a" else flip(self.outcome)
        prob = self.probability
        if prob is not None and first == "b":
            prob = 1.0 - prob
        return OrientedVerdict(outcome, self.strength, prob)


@dataclass(frozen=True)
class OrientedVerdict:
    outcome: Outcome
    strength: int | None = None
    probability: float | None = None  # P(canonical a is better)


@dataclass(frozen=True)
class CombinedVerdict:
    outcome: Outcome
    strength: int | None
    probability: float | None
    consistent: bool | None  # None when only one order was judged or parsed


def failure(raw: str, reason: str) -> ParsedAnswer:
    return ParsedAnswer(raw=raw, error=reason)


def parse_answer(
    text: str | None, fmt: AnswerFormat, logprobs: Sequence[Mapping[str, Any]] | None = None,
) -> ParsedAnswer:
    """Parse `text` in format `fmt`; OpenAI's per-token `logprobs` add a probability."""
    raw = text if isinstance(text, str) else ""
    if not raw.strip():
        return failure(raw, "empty answer")
    if fmt == "labels":
        parsed = _parse_labels(raw)
    elif fmt == "five-level":
        parsed = _parse_scale(raw)
    elif fmt == "json":
        parsed = _parse_json(raw)
    else:
        return failure(raw, f"unknown answer format {fmt!r}")
    if isinstance(parsed, str):
        return failure(raw, parsed)
    outcome, strength, offset = parsed
    probability = None
    if logprobs and fmt in TOKEN_LABELS:
        probability = verdict_probability(logprobs, raw, offset, outcome, TOKEN_LABELS[fmt])
    return ParsedAnswer(raw, outcome, strength, probability)


# Each parser returns (outcome, strength, offset of the deciding character) or a reason.
_Parsed = tuple[ShownOutcome, int | None, int] | str


def _parse_labels(raw: str) -> _Parsed:
    matches = list(_LABEL.finditer(raw))
    if matches:  # the last label is the final verdict; earlier ones may be discussion
        m = matches[-1]
        return LABEL_OUTCOMES[m.group(1).upper()], None, m.start(1)
    bare = _BARE_LABEL.match(raw)
    if bare:
        return LABEL_OUTCOMES[bare.group(1).upper()], None, bare.start(1)
    return "no [[A]], [[B]] or [[C]] verdict found"


def _parse_scale(raw: str) -> _Parsed:
    matches = list(_SCALE.finditer(raw))
    m = matches[-1] if matches else _BARE_SCALE.match(raw)
    if m is None:
        return "no [[A>>B]] ... [[B>>A]] verdict found"
    left, op, right = m.group(1).upper(), m.group(2), m.group(3).upper()
    if left == right:
        return f"verdict compares {left} with itself"
    if op == "=":
        return "tie", None, m.start(1)
    if op.startswith("<"):  # A<B reads as B>A
        left, right, op = right, left, op.replace("<", ">")
    return LABEL_OUTCOMES[left], len(op), m.start(1)


def _parse_json(raw: str) -> _Parsed:
    obj, start = _last_json_object(raw)
    if obj is None:
        return "no JSON object found"
    winner = obj.get("winner")
    if not isinstance(winner, str) or winner.strip().lower() not in JSON_WINNERS:
        return "JSON has no 'winner' of A, B or tie"
    outcome = JSON_WINNERS[winner.strip().lower()]
    strength = obj.get("strength")
    if outcome == "tie" or strength not in (1, 2) or isinstance(strength, bool):
        strength = None
    # Offset of the winner's value, for the logprob lookup.
    key_at = raw.find('"winner"', start)
    value_at = raw.find(winner, key_at + 8) if key_at >= 0 else -1
    return outcome, strength, max(value_at, 0)


def _last_json_object(raw: str) -> tuple[dict[str, Any] | None, int]:
    """The whole answer as an object, else the last object in it with a 'winner' key."""
    try:
        whole = json.loads(raw)
        if isinstance(whole, dict):
            return whole, 0
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    at = len(raw)
    while (at := raw.rfind("{", 0, at)) >= 0:
        try:
            obj, _ = decoder.raw_decode(raw, at)
        except ValueError:
            continue
        if isinstance(obj, dict) and "winner" in obj:
            return obj, at
    return None, 0


def label_probabilities(
    top_logprobs: Sequence[Mapping[str, Any]], labels: Mapping[str, ShownOutcome],
    *, fold_case: bool = True,
) -> dict[ShownOutcome, float]:
    """Normalised probability of each outcome among the top tokens that name one.

    Tokens are stripped of spaces, brackets and quotes; probabilities of tokens naming the
    same outcome add up (as AlpacaEval does with its 'm'/'M' tokens). Empty when none match.
    """
    mass: dict[ShownOutcome, float] = {}
    for alt in top_logprobs:
        token = str(alt.get("token", "")).strip().strip("[]\"'{}:,").strip()
        key = token.upper() if fold_case else token
        outcome = labels.get(key)
        logprob = alt.get("logprob")
        if outcome is None or not isinstance(logprob, int | float) or math.isnan(logprob):
            continue
        mass[outcome] = mass.get(outcome, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    return {k: v / total for k, v in mass.items()} if total > 0 else {}


def verdict_probability(
    logprobs: Sequence[Mapping[str, Any]], raw: str, offset: int, outcome: ShownOutcome,
    labels: Mapping[str, ShownOutcome],
) -> float | None:
    """P(first shown is better) from the verdict token's top logprobs; ties count half.

    The verdict token is the one covering `offset` when the tokens spell out `raw`;
    otherwise the last token that names `outcome`.
    """
    token = _token_at(logprobs, raw, offset) or _last_token_naming(logprobs, outcome, labels)
    if token is None:
        return None
    probs = label_probabilities(token.get("top_logprobs") or [token], labels)
    if not probs:
        return None
    return probs.get("a", 0.0) + 0.5 * probs.get("tie", 0.0)


def _token_at(logprobs: Sequence[Mapping[str, Any]], raw: str, offset: int,
              ) -> Mapping[str, Any] | None:
    if "".join(str(t.get("token", "")) for t in logprobs) != raw:
        return None
    pos = 0
    for tok in logprobs:
        pos += len(str(tok.get("token", "")))
        if pos > offset:
            return tok
    return None


def _last_token_naming(logprobs: Sequence[Mapping[str, Any]], outcome: ShownOutcome,
                       labels: Mapping[str, ShownOutcome]) -> Mapping[str, Any] | None:
    for tok in reversed(logprobs):
        name = str(tok.get("token", "")).strip().strip("[]\"'{}:,").strip().upper()
        if labels.get(name) == outcome:
            return tok
    return None


def combine_orders(
    first: OrientedVerdict | None, second: OrientedVerdict | None,
) -> CombinedVerdict | None:
    """Both orders' verdicts as one: agreement stands, disagreement is an inconsistent tie.

    With only one parsed verdict it stands alone (consistency unknown); with none, None.
    """
    present = [v for v in (first, second) if v is not None]
    if not present:
        return None
    probs = [v.probability for v in present if v.probability is not None]
    probability = sum(probs) / len(probs) if probs else None
    if len(present) == 1:
        v = present[0]
        return CombinedVerdict(v.outcome, v.strength, probability, None)
    x, y = present
    if x.outcome != y.outcome:
        return CombinedVerdict("tie", None, probability, False)
    strengths = [s for s in (x.strength, y.strength) if s is not None]
    strength = min(strengths) if strengths and x.outcome in ("a", "b") else None
    return CombinedVerdict(x.outcome, strength, probability, True)
