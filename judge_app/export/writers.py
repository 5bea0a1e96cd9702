"""Writing export files: JSON Lines, Parquet or CSV, chosen by the file's extension.

A file appears whole or not at all: rows go to a hidden temporary file in the same folder,
which is then renamed into place (an atomic step on one file system). Without ``force`` the
final step is a hard link, which fails if the name was taken meanwhile, so an existing file is
never replaced by accident. Files get the permissions of any new file (0666 less the umask,
so usually 0644), not the 0600 of a private temporary file.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from judge_app.errors import DiskFull, JudgeAppError, is_disk_full

KINDS = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}
Table: TypeAlias = pd.DataFrame | pa.Table


def kind_of(path: Path) -> str:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise JudgeAppError(
            f"cannot tell the file type of {path.name!r}: end --out with "
            f"{', '.join(KINDS)}"
        )
    return kind


def _frame(table: Table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _clean(value: Any) -> Any:
    """NaN, NaT and NA become null, as JSON readers expect."""
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def _write_jsonl(table: Table, handle: IO[bytes]) -> None:
    frame = _frame(table)
    names = list(frame.columns)
    dumps = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
    for row in frame.itertuples(index=False, name=None):
        record = {k: _clean(v) for k, v in zip(names, row, strict=True)}
        handle.write((dumps(record) + "\n").encode("utf-8"))


# A spreadsheet treats a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading single quote;
    anything else (numbers, None) is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# Arrow hands nested columns (a verdict's judge_calls) to pandas as numpy arrays.
_NESTED = (list, dict, np.ndarray)


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with nested values (message lists) as JSON text and every text cell
    neutralised; numeric columns are untouched, so negative numbers stay numbers."""
    frame = frame.copy()
    for name in frame.columns:
        column = frame[name]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue  # numbers, booleans, times: never text a spreadsheet could run
        if column.map(lambda v: isinstance(v, _NESTED)).any():
            column = column.map(
                lambda v: json.dumps(v, ensure_ascii=False, default=_json_default)
                if isinstance(v, _NESTED) else v
            )
        frame[name] = column.map(neutralise_formula)
    return frame


def csv_text(table: Table) -> str:
    """CSV for files and terminals alike (see csv_safe), with RFC 4180's CRLF line ends: the
    csv module quotes a field holding a line-end character only if that character is in the
    line terminator, and a bare carriage return in a text would otherwise split its row."""
    return csv_safe(_frame(table)).to_csv(index=False, lineterminator="\r\n")


def _write_csv(table: Table, handle: IO[bytes]) -> None:
    handle.write(csv_text(table).encode("utf-8"))


def _write_parquet(table: Table, handle: IO[bytes]) -> None:
    arrow = table if isinstance(table, pa.Table) else pa.Table.from_pandas(
        table, preserve_index=False
    )
    pq.write_table(arrow, handle, compression="zstd")


_WRITERS: dict[str, Callable[[Table, IO[bytes]], None]] = {
    "jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet,
}


def encode(table: Table, kind: str) -> bytes:
    """The file's bytes, for a download button."""
    buffer = io.BytesIO()
    _WRITERS[kind](table, buffer)
    return buffer.getvalue()


def check_free(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise JudgeAppError(f"{path} already exists; pass --force to overwrite it")


def write_atomic(path: Path, write: Callable[[IO[bytes]], object], force: bool) -> None:
    """Run ``write`` into a temporary file beside ``path``, then move it into place."""
    check_free(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # 0o666: the kernel applies the umask, as for any file a program creates
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFull(str(path), "nothing of it was kept") from exc
            raise
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise JudgeAppError(
                    f"{path} already exists; pass --force to overwrite it"
                ) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_table(table: Table, path: Path, force: bool = False) -> None:
    writer = _WRITERS[kind_of(path)]
    write_atomic(path, lambda handle: writer(table, handle), force)


def write_text(text: str, path: Path, force: bool = False) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")), force)
