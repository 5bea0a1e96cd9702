"""The glossary in code: one word for each concept, and the values each word may take.

The same words are used in the schema, the code, the CLI and the UI (docs/glossary.md is the
same list for readers). The tuples below are the allowed values; the database enforces the
same sets with CHECK constraints (migration 005), and ``test_vocabulary`` keeps the two equal.

- task: a named set of prompts, outputs and settings (task.toml); ``task_id``.
- prompt: one conversation to answer; ``prompt_id``, unique within a task.
- output: one model's answer to one prompt; ``output_id``.
- pair: two outputs for the same prompt, in *canonical order*: ``output_a`` / ``model_a`` is
  the model whose name sorts first, ``output_b`` / ``model_b`` the other. ``a`` and ``b`` in
  stored data (outcomes, ``left_side``) always mean these canonical sides, never a screen side.
- left side (shown first): which canonical side (``a`` or ``b``) was shown first, i.e. on the
  left of a rater's screen or first in a judge's prompt. Stored as ``left_side`` in
  assignments, verdicts and judge calls.
- the UI's A and B: the labels a rater sees: A is the left (shown first) answer, B the right
  one. A judge's template uses the same letters for the first and second answer
  (``{response_a}`` is shown first). What was clicked or answered in those terms is the *raw
  choice* (``left`` | ``right`` | ...); the verdict's *outcome* is it turned into canonical
  terms with ``left_side`` (``core.types.canonical_outcome``).
- assignment: a pair given to one rater, its left side fixed when it is made; its *purpose*
  says why it is in the queue: ``normal``, ``gold`` (a pair with a known answer, for quality
  control) or ``retest`` (the same pair again with sides swapped, for consistency).
- verdict: one rater's judgement of one pair, append-only; ``verdict_id`` is chosen by whoever
  submits it (browser, judge runner, importer), so submitting the same verdict twice stores
  one row. A retraction is a new verdict row whose ``retracts`` names the verdict it takes back.
- outcome: the verdict in canonical terms; ``strength`` 1 (better) or 2 (much better).
- rater: whoever gives verdicts; ``rater_id``. Its *source* is ``human`` (a person) or
  ``judge`` (an LLM judge). Verdicts carry the same ``source``.
- judge: a rater whose source is ``judge``. Its name is its ``rater_id`` everywhere (the judge
  config file spells it ``name = ...``); ``--judge`` on the command line is always the judge's
  config file.
- judge run: one ``judge-app judge`` invocation (``run_id``); its ``status`` is one of
  ``RUN_STATUSES``. ``interrupted`` is not stored: it is derived for a running run whose
  process is gone.
- judge call: one paid request to a judge's endpoint, cached by content (``call_key``).
- escalation: a pair a judge doubted, put first in the people's queue, for a ``reason``.
- provenance: where a task's data comes from (``TaskConfig.provenance``, task.toml
  ``provenance``; older files say ``source``, which is still read).
- source filter: which verdicts an analysis reads: ``all``, ``human``, ``judge`` or
  ``judge:NAME`` (one judge by its rater_id).

Times are UTC: ``core.clock.utc_now`` in code; the database's TIMESTAMP columns hold UTC (the
connection's time zone is pinned to UTC, whatever the machine's is).
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["a", "b", "tie", "both_bad"]
OUTCOMES: tuple[Outcome, ...] = ("a", "b", "tie", "both_bad")

Tie = Literal["tie", "both_bad"]
TIES: tuple[Tie, ...] = ("tie", "both_bad")

Side = Literal["a", "b"]
SIDES: tuple[Side, ...] = ("a", "b")

RawChoice = Literal["left", "right", "tie", "both_bad"]
RAW_CHOICES: tuple[RawChoice, ...] = ("left", "right", "tie", "both_bad")
SKIP = "skip"  # the raw choice of a skip (its outcome is NULL)
WITHDRAWN = "withdrawn"  # the raw choice of the row that closes a pair whose vote was withdrawn
VerdictRawChoice = Literal["left", "right", "tie", "both_bad", "skip", "withdrawn"]
VERDICT_RAW_CHOICES: tuple[VerdictRawChoice, ...] = (*RAW_CHOICES, "skip", "withdrawn")

Source = Literal["human", "judge"]
SOURCES: tuple[Source, ...] = ("human", "judge")

AssignmentPurpose = Literal["normal", "gold", "retest"]
ASSIGNMENT_PURPOSES: tuple[AssignmentPurpose, ...] = ("normal", "gold", "retest")

RunStatus = Literal["running", "done", "stopped", "failed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "done", "stopped", "failed")

# A live-arena battle (services/arena.py, migration 007): answering, answered (open for the
# vote), failed (a call failed, or the battle was given up as abandoned: message
# 'abandoned: ...'; nothing to vote on) or voted.
ArenaStatus = Literal["answering", "answered", "failed", "voted"]
ARENA_STATUSES: tuple[ArenaStatus, ...] = ("answering", "answered", "failed", "voted")

# A Batch API batch (services/batches.py, migration 008): which run made it, and how far it
# got: intent recorded, file uploaded, batch submitted, results landed (or not submitted).
BatchKind = Literal["generate", "judge"]
BATCH_KINDS: tuple[BatchKind, ...] = ("generate", "judge")
BatchState = Literal["preparing", "uploaded", "submitted", "done"]
BATCH_STATES: tuple[BatchState, ...] = ("preparing", "uploaded", "submitted", "done")
# A step in the budget ledger (migration 009, services/budgets.py): a run joins a window,
# reserves a call's worst case, settles it with the real cost, leaves, or is found dead and
# its reservations released (expire).
BudgetStep = Literal["join", "reserve", "settle", "leave", "expire"]
BUDGET_STEPS: tuple[BudgetStep, ...] = ("join", "reserve", "settle", "leave", "expire")

EscalationReason = Literal["inconsistent", "unsure"]
ESCALATION_REASONS: tuple[EscalationReason, ...] = ("inconsistent", "unsure")

TieModel = Literal["half", "davidson"]  # how a rating counts a tie: half a win, or Davidson's
TIE_MODELS: tuple[TieModel, ...] = ("half", "davidson")

Strength = Literal[1, 2]
STRENGTHS: tuple[Strength, ...] = (1, 2)
