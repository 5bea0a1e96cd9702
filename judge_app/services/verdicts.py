"""Recording verdicts: one path for people and judges, idempotent by verdict id."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from judge_app.core.clock import stored_now
from judge_app.core.types import Outcome, RawChoice, Side, TaskConfig, canonical_outcome
from judge_app.core.verdict_rows import verdict_row
from judge_app.core.vocabulary import RAW_CHOICES, WITHDRAWN
from judge_app.errors import PermissionDenied, ValidationError
from judge_app.services import sessions
from judge_app.services.queue import (
    Peek,
    Progress,
    confirm_in,
    load_task_config,
    reveal,
    sides,
    take_next_in,
    task_lock,
)
from judge_app.storage import catalog, queue, raters, verdicts
from judge_app.storage.db import WRITE_CONFLICTS, Database


@dataclass(frozen=True)
class VerdictInput:
    """What a rater submits from the pair page, in left/right terms."""

    assignment_id: str
    choice: RawChoice
    # None: the assignment id and its attempt number (undos so far), read with the assignment:
    # the same id for every double click and rerun of one attempt, a new one after an undo.
    verdict_id: str | None
    strength: int | None = None
    criteria: dict[str, str] = field(default_factory=dict)  # criterion -> left/right/tie/both_bad
    rationale: str = ""
    flagged: bool = False
    duration_ms: int | None = None


def is_valid(config: TaskConfig, v: VerdictInput) -> bool:
    """Whether the vote passes the task's rules (checked again, after the session, when it is
    stored)."""
    try:
        _validate(config, v)
    except ValidationError:
        return False
    return True


def _validate(config: TaskConfig, v: VerdictInput) -> None:
    if v.choice not in RAW_CHOICES:
        raise ValidationError(f"unknown choice '{v.choice}'", field="choice")
    outcome = canonical_outcome(v.choice, "a")
    if outcome not in config.outcomes:
        raise ValidationError(f"this task does not allow '{v.choice}'", field="choice")
    if v.strength is not None and (not config.strength or v.strength not in (1, 2)):
        raise ValidationError("strength must be 1 (better) or 2 (much better)", field="strength")
    criteria = {c.name: c for c in config.criteria}
    for name, choice in v.criteria.items():
        if name not in criteria:
            raise ValidationError(f"unknown criterion '{name}'", field="criteria")
        if choice not in RAW_CHOICES or (
            canonical_outcome(choice, "a") not in criteria[name].outcomes
        ):
            raise ValidationError(f"criterion '{name}' does not allow '{choice}'", field=name)
    text = v.rationale.strip()
    need = max(1, config.rationale_min_length)
    if config.rationale == "required" and len(text) < need:
        raise ValidationError(f"a rationale of at least {need} characters is required",
                              field="rationale")
    # An optional rationale may be left empty, but one that is given is held to the minimum.
    if config.rationale == "optional" and text and len(text) < config.rationale_min_length:
        raise ValidationError(
            f"a rationale, when given, needs at least {config.rationale_min_length} characters "
            "(or leave it empty)", field="rationale")


def _insert_idempotent(
    db: Database, row: dict[str, Any], session_id: str | None = None,
    extra: tuple[dict[str, Any], ...] = (), validate: Callable[[], None] | None = None,
    then: Callable[[Any], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Insert once: a repeat of the same id, or a second verdict on an assignment that has one
    standing (two tabs), returns the row already there (and False). A lost race is retried.

    With a session id, the session is checked inside the same transaction as the insert, so a
    rater disabled (or given a new link) a moment ago writes nothing. ``extra`` rows go in
    with ``row``, in the same transaction; ``validate`` runs after the session check, so a
    rater who may not write hears that first. ``then`` runs last in the same transaction,
    under the task's lock (taking the rater's next assignment: one commit per vote).
    """
    # A retraction only needs its own id checked: it sits beside the verdict.
    assignment = None if row.get("retracts") else row.get("assignment_id")
    for attempt in range(5):
        try:
            # The task's lock also keeps two verdicts with different ids off one assignment:
            # on DuckDB (one owner process) it is what serialises them.
            lock = (task_lock(row["task_id"]) if then is not None or assignment is not None
                    else contextlib.nullcontext())
            with lock, db.transaction() as cur:
                if session_id is not None:
                    rater = sessions.check(cur, session_id, row["task_id"])
                    if rater["rater_id"] != row["rater_id"]:
                        raise PermissionDenied("this assignment does not belong to you")
                if validate is not None:
                    validate()
                if assignment is not None:
                    verdicts.lock_assignment(cur, assignment)
                earlier = verdicts.already_recorded(cur, row["verdict_id"], assignment)
                if earlier is None:
                    verdicts.insert_verdict(cur, row)
                    for more in extra:
                        verdicts.insert_verdict(cur, more)
                if then is not None:
                    then(cur)
                return (row, True) if earlier is None else (earlier, False)
        except WRITE_CONFLICTS:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _assignment(db: Database, assignment_id: str) -> dict[str, Any]:
    """The assignment with its pair's ids; whether it is the caller's is checked in the write."""
    with db.cursor() as cur:
        found = queue.assignment_with_pair(cur, assignment_id)
    if found is None:
        raise PermissionDenied("this assignment does not belong to you")
    return found


def record_verdict(db: Database, session_id: str, v: VerdictInput) -> dict[str, Any]:
    """Store a person's verdict on their own assignment; submitting twice stores it once.

    ``session_id`` is the browser session of the rater (services.sessions), checked again
    inside the write."""
    return _record(db, session_id, v)[0]


@dataclass(frozen=True)
class Voted:
    """What a vote stored, the models it reveals (if the task does), and what comes next."""

    verdict: dict[str, Any]
    revealed: dict[str, str] | None
    next_assignment: dict[str, Any] | None  # None: nothing left for the rater in this task
    progress: Progress


def record_and_next(db: Database, session_id: str, v: VerdictInput, *,
                    peek: Peek | None = None) -> Voted:
    """record_verdict, and the rater's next assignment taken in the same transaction: one
    session check and one commit per vote. The revealed models (when the task reveals them)
    come from the row just written (its pair's model ids), with no further query.
    ``peek``: the next assignment read while the rater read this pair (services.rating),
    taken when it still holds (confirm_in), else the next is taken the whole way."""
    taken: list[tuple[dict[str, Any] | None, Progress]] = []

    def take(cur: Any) -> None:  # a retried transaction takes it again
        if peek is not None and confirm_in(cur, rater_id, task_id, peek):
            taken[:] = [(peek.row, peek.progress)]
        else:
            taken[:] = [take_next_in(cur, config, rater_id, task_id, db.key)]

    assignment = _assignment(db, v.assignment_id)
    rater_id, task_id = assignment["rater_id"], assignment["task_id"]
    config = load_task_config(db, task_id)
    recorded, new = _record(db, session_id, v, assignment, config, then=take)
    revealed = None
    if config.reveal_models:
        if not new:  # a repeat: the row found may since have been taken back; ask the database
            revealed = reveal(db, rater_id, v.assignment_id)
        elif recorded["outcome"] is not None:
            revealed = sides(recorded["left_side"], recorded["model_a"], recorded["model_b"])
    return Voted(recorded, revealed, *taken[0])


def _record(db: Database, session_id: str, v: VerdictInput,
            assignment: dict[str, Any] | None = None, config: TaskConfig | None = None,
            then: Callable[[Any], None] | None = None) -> tuple[dict[str, Any], bool]:
    # Whose assignment it is decides the row; the session, checked inside the write, must be
    # that rater's (a single session check per write: it runs on every vote).
    assignment = assignment or _assignment(db, v.assignment_id)
    rater_id = assignment["rater_id"]
    config = config or load_task_config(db, assignment["task_id"])
    left = assignment["left_side"]
    row = verdict_row(
        v.verdict_id or _attempt_id(assignment), assignment, rater_id, "human",
        assignment_id=v.assignment_id, left_side=left, outcome=canonical_outcome(v.choice, left),
        raw_choice=v.choice, strength=v.strength,
        criteria=json.dumps({k: canonical_outcome(c, left)  # type: ignore[arg-type]
                             for k, c in v.criteria.items()}) if v.criteria else None,
        rationale=v.rationale.strip() or None, flagged=v.flagged, duration_ms=v.duration_ms)
    return _insert_idempotent(db, row, session_id, validate=lambda: _validate(config, v),
                              then=then)


def _attempt_id(assignment: dict[str, Any]) -> str:
    """The verdict id of the assignment's current attempt (see VerdictInput.verdict_id)."""
    return f"{assignment['assignment_id']}:{assignment['attempt']}"


def skip(db: Database, session_id: str, assignment_id: str, verdict_id: str | None = None,
         flagged: bool = False) -> dict[str, Any]:
    """Pass on a pair (optionally flagging it as problematic); recorded, with no outcome.
    ``verdict_id`` None: the attempt's id, as for VerdictInput."""
    assignment = _assignment(db, assignment_id)
    row = verdict_row(verdict_id or _attempt_id(assignment), assignment,
                      assignment["rater_id"], "human", assignment_id=assignment_id,
                      left_side=assignment["left_side"], raw_choice="skip", flagged=flagged)
    return _insert_idempotent(db, row, session_id)[0]


@dataclass(frozen=True)
class Undone:
    """What an undo took back, and whether its pair comes back to the rater."""

    verdict: dict[str, Any]
    pair_returns: bool


def undo_last(db: Database, session_id: str, task_id: str) -> Undone | None:
    """Take back the rater's latest verdict or skip with a retraction row.

    The pair comes back to be judged again, unless the task revealed its models after the
    vote: a rater who has seen which model wrote which answer must not judge that pair again
    (the blinding would be gone), so the vote is withdrawn (it no longer counts) and the
    pair stays closed for this rater, like a skip. A withdrawal itself cannot be undone.
    """
    rater_id = sessions.require(db, session_id, task_id)["rater_id"]
    with db.cursor() as cur:
        last = verdicts.last_standing_verdict(cur, rater_id, task_id)
    if last is None or last["raw_choice"] == WITHDRAWN:
        return None
    revealed = last["outcome"] is not None and load_task_config(db, task_id).reveal_models
    now = stored_now()
    same = {"assignment_id": last["assignment_id"], "left_side": last["left_side"]}
    row = verdict_row("undo:" + last["verdict_id"], last, last["rater_id"], last["source"],
                      **same, retracts=last["verdict_id"], created_at=now)
    extra = (verdict_row("withdrawn:" + last["verdict_id"], last, last["rater_id"],
                         last["source"], **same, raw_choice=WITHDRAWN,
                         created_at=now + timedelta(microseconds=1)),) if revealed else ()
    _insert_idempotent(db, row, session_id, extra)
    return Undone(last, pair_returns=not revealed)


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge's verdict on a pair, already combined across orders."""

    task_id: str
    pair_id: str
    rater_id: str
    outcome: Outcome
    verdict_id: str
    left_side: Side | None = None
    probability: float | None = None
    consistent: bool | None = None
    strength: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # judge_* provenance, tokens, cost...


def record_judge_verdicts(db: Database, items: list[JudgeVerdict]) -> int:
    """Bulk path for judge batches: one transaction, idempotent by verdict id."""
    if not items:
        return 0
    with db.transaction() as cur:
        pairs = catalog.pair_rows(cur, [item.pair_id for item in items])
        rows = []
        for item in items:
            pair = pairs.get(item.pair_id)
            if pair is None:
                raise ValidationError(f"no pair '{item.pair_id}'", field="pair_id")
            rows.append(verdict_row(
                item.verdict_id, pair, item.rater_id, "judge", left_side=item.left_side,
                outcome=item.outcome, probability=item.probability,
                consistent=item.consistent, strength=item.strength, **item.extra))
        raters.ensure_raters(cur, sorted({(item.rater_id, "judge") for item in items}))
        return verdicts.insert_verdicts(cur, rows)

