"""judge_app's own `verdicts` export (JSON Lines, Parquet or CSV), read back for import.

The export carries every standing verdict with its id and provenance, and for a judge
verdict combined from both orders the judge's answers behind it (`judge_calls`, one per
shown order). Read back, the verdicts keep their ids (so re-importing adds nothing and a
changed verdict under a known id is refused) and the answers keep each shown order (so
position bias and swap consistency come out as in the database that exported them).

The export holds no texts: the task's prompts and outputs must already be in the database,
or be imported in the same command (`judge-app import tasks/t t-verdicts.jsonl`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from judge_app.core.ids import output_id, pair_id
from judge_app.core.types import OUTCOMES, VerdictsBundle
from judge_app.core.verdict_rows import verdict_row
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import Record, iter_records, json_type, read_text
from judge_app.ingest.reader import ReaderCode
from judge_app.ingest.records import check_ident, checked_instant
from judge_app.ingest.task_format import TASK_NAME

# The columns judge_app's verdicts export writes (storage/exports.py); `judge_calls` is
# optional so that files written before it existed still import.
REQUIRED = ("verdict_id", "task_id", "pair_id", "prompt_id", "rater_id", "source", "model_a",
            "model_b", "outcome", "created_at")
KNOWN = frozenset({
    *REQUIRED, "assignment_id", "output_a", "output_b", "left_side", "raw_choice", "strength",
    "criteria", "rationale", "flagged", "probability", "consistent", "duration_ms",
    "judge_run_id", "judge_model", "judge_endpoint", "judge_template", "judge_config_hash",
    "input_tokens", "output_tokens", "cost_usd", "latency_ms", "raw_answer", "judge_calls",
})
CALL_REQUIRED = ("call_key", "run_id", "left_side", "raw_answer", "input_tokens",
                 "output_tokens", "cost_usd", "latency_ms", "attempts", "judge_model",
                 "judge_endpoint", "created_at")
CALL_KNOWN = frozenset({*CALL_REQUIRED, "raw_choice", "strength", "probability",
                        "parse_error", "usage_estimated", "finish_reason"})
_INTS = frozenset({"strength", "duration_ms", "input_tokens", "output_tokens", "attempts"})
_FLOATS = frozenset({"probability", "cost_usd", "latency_ms"})
_BOOLS = frozenset({"flagged", "consistent", "usage_estimated"})
_JSON = frozenset({"criteria", "judge_calls"})
_SIDES = ("a", "b")
_RAW_CHOICES = ("left", "right", "tie", "both_bad")
_CALL_CHOICES = ("left", "right", "tie")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like(record: Record) -> bool:
    return {"verdict_id", "pair_id", "rater_id", "outcome", "model_a", "model_b",
            "source"} <= record.keys()


def sniff(path: Path) -> bool:
    """A verdicts export: its first record (JSON) or its columns (Parquet, CSV) say so."""
    if not path.is_file():
        return False
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = set(pq.read_schema(path).names)
        except Exception:  # noqa: BLE001 - not a readable Parquet file: not ours
            return False
        return looks_like(dict.fromkeys(names))
    if path.suffix == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError, csv.Error):
            return False
        return looks_like(dict.fromkeys(header))
    from judge_app.ingest.jsonl import peek_first_record

    record = peek_first_record(path)
    return record is not None and looks_like(record)


# ---- reading the three file types into plain records ------------------------------------

def _parquet_records(path: Path) -> Iterator[tuple[int, Record]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001
        raise ValidationError(f"cannot read Parquet ({exc})", file=str(path)) from None
    yield from enumerate(rows, start=1)  # "line" = row number


def _csv_cell(value: str, key: str, file: str, line: int) -> Any:
    """A CSV cell as the value the export had: empty is null, numbers and booleans typed,
    nested values parsed from JSON text, and the quote the export put in front of a text
    that a spreadsheet would run as a formula taken off (docs/exports.md)."""
    if value == "":
        return None
    try:
        if key in _INTS or key in _FLOATS:
            return float(value)
        if key in _BOOLS:
            return {"True": True, "False": False, "true": True, "false": False}[value]
        if key in _JSON:
            return json.loads(value)
    except (ValueError, KeyError):
        raise ValidationError(f"cannot read {value[:40]!r} as this column's type", file=file,
                              line=line, field=key) from None
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _csv_records(path: Path) -> Iterator[tuple[int, Record]]:
    file = str(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        return
    start = reader.line_num + 1
    for row in reader:
        if len(row) != len(header):
            raise ValidationError(f"expected {len(header)} cells, found {len(row)}", file=file,
                                  line=start)
        yield start, {k: _csv_cell(v, k, file, start) for k, v in zip(header, row, strict=True)}
        start = reader.line_num + 1


def _records(path: Path) -> Iterator[tuple[int, Record]]:
    if path.suffix == ".parquet":
        return _parquet_records(path)
    if path.suffix == ".csv":
        return _csv_records(path)
    return iter_records(path)


# ---- checking one record ---------------------------------------------------------------

class _Fields:
    """Typed access to one record's fields; every error names the file, line and field."""

    def __init__(self, rec: Record, file: str, line: int, prefix: str = "") -> None:
        self.rec, self.file, self.line, self.prefix = rec, file, line, prefix

    def error(self, message: str, key: str) -> ValidationError:
        return ValidationError(message, file=self.file, line=self.line,
                               field=self.prefix + key)

    def present(self, key: str) -> Any:
        value = self.rec.get(key)
        if value is None:
            raise self.error("missing required field", key)
        return value

    def text(self, key: str, *, required: bool = False, ident: bool = False) -> str | None:
        value = self.present(key) if required else self.rec.get(key)
        if value is None:
            return None
        if type(value) is not str:
            raise self.error(f"expected a string, found {json_type(value)}", key)
        if required and not value.strip():
            raise self.error("must not be empty", key)
        return check_ident(value, self.prefix + key, self.file, self.line) if ident else value

    def choice(self, key: str, allowed: tuple[str, ...], *, required: bool = False,
               ) -> str | None:
        value = self.text(key, required=required)
        if value is not None and value not in allowed:
            raise self.error(f"expected one of {', '.join(allowed)}, found {value!r}", key)
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value = self.present(key) if required else self.rec.get(key)
        if value is None:
            return None
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int:
            raise self.error(f"expected a whole number, found {json_type(value)}", key)
        if value < 0:
            raise self.error("must not be negative", key)
        return value

    def number(self, key: str, *, required: bool = False, at_most: float | None = None,
               ) -> float | None:
        value = self.present(key) if required else self.rec.get(key)
        if value is None:
            return None
        if type(value) not in (int, float):
            raise self.error(f"expected a number, found {json_type(value)}", key)
        if not math.isfinite(value) or value < 0 or (at_most is not None and value > at_most):
            bound = f"between 0 and {at_most:g}" if at_most is not None else "at least 0"
            raise self.error(f"expected a finite number {bound}, found {value}", key)
        return float(value)

    def boolean(self, key: str, default: bool | None = None) -> bool | None:
        value = self.rec.get(key)
        if value is None:
            return default
        if type(value) is not bool:
            raise self.error(f"expected true or false, found {json_type(value)}", key)
        return value

    def instant(self, key: str) -> datetime:
        value = self.present(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.error("expected an ISO 8601 time such as 2024-05-01T12:30:00, "
                                 f"found {value!r}", key) from None
        if not isinstance(value, datetime):
            raise self.error(f"expected a time, found {json_type(value)}", key)
        checked_instant(value, self.prefix + key, self.file, self.line)
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)

    def unknown(self, known: frozenset[str]) -> None:
        for key in self.rec:
            if key not in known:
                raise self.error(f"unknown field (known: {', '.join(sorted(known))})", key)


def _criteria(f: _Fields) -> str | None:
    """Per-criterion outcomes: an object, or its JSON text (how the export writes it)."""
    value = f.rec.get("criteria")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise f.error("expected a JSON object of criterion outcomes", "criteria") from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and v in OUTCOMES for k, v in value.items()):
        raise f.error("expected an object {criterion: a | b | tie | both_bad}", "criteria")
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _call(value: Any, row: dict[str, Any], f: _Fields, i: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise f.error(f"expected an object, found {json_type(value)}", f"judge_calls[{i}]")
    c = _Fields(value, f.file, f.line, prefix=f"judge_calls[{i}].")
    c.unknown(CALL_KNOWN)
    raw_choice = c.choice("raw_choice", _CALL_CHOICES)
    strength = c.integer("strength")
    if strength not in (None, 1, 2):
        raise c.error(f"expected 1, 2 or null, found {strength}", "strength")
    return {
        "call_key": c.text("call_key", required=True, ident=True),
        "run_id": c.text("run_id", required=True, ident=True),
        "config_hash": row["judge_config_hash"], "judge_model": c.text("judge_model",
                                                                       required=True),
        "judge_endpoint": c.text("judge_endpoint", required=True),
        "task_id": row["task_id"], "pair_id": row["pair_id"],
        "left_side": c.choice("left_side", _SIDES, required=True),
        "raw_answer": c.text("raw_answer", required=True),
        "raw_choice": raw_choice, "strength": strength,
        "probability": c.number("probability", at_most=1.0),
        "parse_error": c.text("parse_error"),
        "input_tokens": c.integer("input_tokens", required=True),
        "output_tokens": c.integer("output_tokens", required=True),
        "usage_estimated": c.boolean("usage_estimated", default=False),
        "cost_usd": c.number("cost_usd", required=True),
        "latency_ms": c.number("latency_ms", required=True),
        "attempts": c.integer("attempts", required=True),
        "finish_reason": c.text("finish_reason"),
        "created_at": c.instant("created_at"),
    }


def parse_row(rec: Record, task_name: str | None, file: str, line: int,
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One exported verdict as a storage row (ids recomputed for the target task) and the
    judge answers behind it."""
    f = _Fields(rec, file, line)
    f.unknown(KNOWN)
    task = f.text("task_id", required=True)
    assert task is not None
    if not TASK_NAME.match(task):
        raise f.error(f"invalid task name {task!r}", "task_id")
    prompt = f.text("prompt_id", required=True, ident=True)
    model_a = f.text("model_a", required=True, ident=True)
    model_b = f.text("model_b", required=True, ident=True)
    assert prompt is not None and model_a is not None and model_b is not None
    if not model_a < model_b:
        raise f.error("model_a must sort before model_b (the export's order); this row was "
                      "not written by judge_app's verdicts export", "model_b")
    # The ids the export wrote must be the ones its task, prompt and models give: an edited
    # row would otherwise land on another pair than it names.
    expected = {"pair_id": pair_id(task, prompt, model_a, model_b),
                "output_a": output_id(task, prompt, model_a),
                "output_b": output_id(task, prompt, model_b)}
    for key, value in expected.items():
        given = f.text(key, required=key == "pair_id")
        if given is not None and given != value:
            raise f.error(f"does not match task {task!r}, prompt {prompt!r} and the two "
                          f"models (expected {value!r})", key)
    target = task_name or task
    source = f.choice("source", ("human", "judge"), required=True)
    strength = f.integer("strength")
    if strength not in (None, 1, 2):
        raise f.error(f"expected 1, 2 or null, found {strength}", "strength")
    pair = {"task_id": target, "pair_id": pair_id(target, prompt, model_a, model_b),
            "prompt_id": prompt, "output_a": output_id(target, prompt, model_a),
            "output_b": output_id(target, prompt, model_b), "model_a": model_a,
            "model_b": model_b}
    verdict_id = f.text("verdict_id", required=True, ident=True)
    rater_id = f.text("rater_id", required=True, ident=True)
    assert verdict_id is not None and rater_id is not None and source is not None  # required
    row = verdict_row(
        verdict_id, pair, rater_id, source,
        assignment_id=None,  # the exporting database's assignments do not travel
        left_side=f.choice("left_side", _SIDES),
        outcome=f.choice("outcome", OUTCOMES, required=True),
        raw_choice=f.choice("raw_choice", _RAW_CHOICES),
        strength=strength, criteria=_criteria(f), rationale=f.text("rationale"),
        flagged=f.boolean("flagged", default=False),
        probability=f.number("probability", at_most=1.0),
        consistent=f.boolean("consistent"), duration_ms=f.integer("duration_ms"),
        judge_run_id=f.text("judge_run_id"), judge_model=f.text("judge_model"),
        judge_endpoint=f.text("judge_endpoint"), judge_template=f.text("judge_template"),
        judge_config_hash=f.text("judge_config_hash"),
        input_tokens=f.integer("input_tokens"), output_tokens=f.integer("output_tokens"),
        cost_usd=f.number("cost_usd"), latency_ms=f.number("latency_ms"),
        raw_answer=f.text("raw_answer"), retracts=None, created_at=f.instant("created_at"))
    calls_value = rec.get("judge_calls")
    calls: list[dict[str, Any]] = []
    if calls_value is not None:
        if not isinstance(calls_value, list):
            raise f.error(f"expected a list, found {json_type(calls_value)}", "judge_calls")
        if calls_value and (source != "judge" or row["left_side"] is not None
                            or not row["judge_run_id"] or not row["judge_config_hash"]):
            raise f.error("only a judge verdict combined from both orders (no left_side, "
                          "with judge_run_id and judge_config_hash) carries judge calls",
                          "judge_calls")
        calls = [_call(c, row, f, i) for i, c in enumerate(calls_value)]
    return row, calls


def read_verdict_exports(paths: list[Path], task_name: str | None = None,
                         ) -> list[VerdictsBundle]:
    """Every file checked whole before anything is written; one bundle per file and task."""
    bundles: list[VerdictsBundle] = []
    for path in paths:
        file = str(path)
        by_task: dict[str, VerdictsBundle] = {}
        for line, rec in _records(path):
            row, calls = parse_row(rec, task_name, file, line)
            bundle = by_task.setdefault(
                row["task_id"], VerdictsBundle(row["task_id"], [], [], [], file))
            bundle.rows.append(row)
            bundle.lines.append(line)
            bundle.calls += [{**c, "_line": line} for c in calls]
        if not by_task:
            raise ValidationError("no verdicts in this file", file=file)
        bundles += by_task.values()
    return bundles


READER = ReaderCode(sniff, read_verdict_exports)
