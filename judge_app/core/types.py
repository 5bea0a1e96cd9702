"""The shared vocabulary: task, prompt, output, pair, assignment, verdict, rater.

The words and their allowed values are defined in ``core.vocabulary`` (the glossary); they are
re-exported here for the modules that take them with the data types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from judge_app.core.vocabulary import OUTCOMES as OUTCOMES
from judge_app.core.vocabulary import AssignmentPurpose as AssignmentPurpose
from judge_app.core.vocabulary import Outcome as Outcome
from judge_app.core.vocabulary import RawChoice as RawChoice
from judge_app.core.vocabulary import Side as Side
from judge_app.core.vocabulary import Source as Source

RationaleMode = Literal["off", "optional", "required"]
PairingDesign = Literal["all_pairs", "baseline", "sampled"]

Message = dict[str, Any]  # {"role": "user"|"assistant"|"system", "content": str}


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str = ""
    outcomes: tuple[Outcome, ...] = ("a", "b", "tie")


@dataclass(frozen=True)
class TaskConfig:
    """What task.toml says; stored whole (as JSON) with the task."""

    name: str
    title: str = ""
    instructions: str = ""
    outcomes: tuple[Outcome, ...] = ("a", "b", "tie", "both_bad")
    strength: bool = False
    criteria: tuple[Criterion, ...] = ()
    rationale: RationaleMode = "off"
    rationale_min_length: int = 0
    overlap: int = 1
    reveal_models: bool = False
    show_reference: bool = False
    design: PairingDesign = "all_pairs"
    baseline: str | None = None
    budget: int | None = None
    seed: int = 0
    gold_rate: float = 0.0
    retest_rate: float = 0.0
    licence: str = ""
    provenance: str = ""  # where the data comes from (task.toml's old key for it: source)
    allow_empty_responses: bool = False  # some real data sets hold empty answers that were judged
    scheduling: str = "uniform"  # or "adaptive" (core.adaptive); target says when to stop
    target: str = "ranking"
    target_level: float = 0.95
    # [arena]: the live arena's model configs and limits (core/arena.ArenaSettings); None: none
    arena: dict[str, Any] | None = None


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    messages: tuple[Message, ...]
    category: str = ""
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    prompt_id: str
    model: str
    response: tuple[Message, ...]
    model_version: str = ""
    latency_ms: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    """Two outputs for one prompt in canonical order: model_a sorts before model_b."""

    pair_id: str
    prompt_id: str
    model_a: str
    model_b: str


def flip(outcome: Outcome) -> Outcome:
    """The same verdict seen from the other side."""
    return {"a": "b", "b": "a"}.get(outcome, outcome)  # type: ignore[return-value]


def canonical_outcome(raw: RawChoice, left: Side) -> Outcome:
    """Turn what the rater clicked (left/right) into the pair's canonical a/b outcome."""
    if raw == "left":
        return left
    if raw == "right":
        return "b" if left == "a" else "a"
    return raw


def text_of(messages: tuple[Message, ...] | list[Message], role: str | None = None) -> str:
    """Plain text of a conversation (optionally one role only), for lengths and exports."""
    parts = [str(m.get("content", "")) for m in messages if role is None or m.get("role") == role]
    return "\n\n".join(parts)


@dataclass(frozen=True)
class ImportedVerdict:
    """A verdict that arrives with imported data (e.g. PandaLM's three annotators).

    ``outcome`` is relative to the order given here (``a`` = ``model_a`` better); the importer
    does not need to know the canonical order, storage normalises it.
    """

    prompt_id: str
    model_a: str
    model_b: str
    outcome: Outcome
    rater_id: str
    source: Source = "human"
    left_side: Side | None = None  # which of model_a/model_b was shown on the left, if known
    strength: int | None = None
    probability: float | None = None  # P(model_a better), for judges
    rationale: str | None = None
    raw_answer: str | None = None
    judge_model: str | None = None
    created_at: str | None = None  # ISO timestamp, when the source has one


@dataclass(frozen=True)
class GoldAnswer:
    """A pair with a known answer, mixed into raters' queues for quality control."""

    prompt_id: str
    model_a: str
    model_b: str
    outcome: Outcome  # relative to model_a/model_b as given


@dataclass
class TaskBundle:
    """Everything one import brings: lands in one transaction or not at all."""

    config: TaskConfig
    prompts: list[Prompt]
    outputs: list[Output]
    verdicts: list[ImportedVerdict] = field(default_factory=list)
    gold: list[GoldAnswer] = field(default_factory=list)
    source_files: list[str] = field(default_factory=list)


@dataclass
class VerdictsBundle:
    """Verdicts from judge_app's own `verdicts` export, for a task whose prompts and outputs
    are in the database (or land before it in the same import). Rows are storage-ready
    verdict rows with their ids; `calls` the judge answers behind verdicts combined from
    both orders; `lines` says where each row came from (for errors)."""

    task_id: str
    rows: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    lines: list[int]
    source_file: str

    @property
    def source_files(self) -> list[str]:
        return [self.source_file]


def task_config_from_dict(data: dict[str, Any]) -> TaskConfig:
    """Inverse of dataclasses.asdict for a stored TaskConfig."""
    values = dict(data)
    if "source" in values:  # stored by releases before 005, when provenance was `source`
        values.setdefault("provenance", values.pop("source"))
    values["outcomes"] = tuple(values.get("outcomes", OUTCOMES))
    values["criteria"] = tuple(
        Criterion(c["name"], c.get("description", ""), tuple(c.get("outcomes", ("a", "b", "tie"))))
        for c in values.get("criteria", ())
    )
    known = set(TaskConfig.__dataclass_fields__)
    return TaskConfig(**{k: v for k, v in values.items() if k in known})
