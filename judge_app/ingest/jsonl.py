"""Read JSON Lines and JSON-list files (optionally gzipped) as (line number, record) pairs.

Every error names the file and the line, so a user can open the file at the right place.
Records are plain dicts from ``json.loads``: validation happens field by field in
``records.py``, with no per-row schema objects, because imports of a few hundred thousand
rows must take seconds.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge_app.errors import ValidationError

Record = dict[str, Any]
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
_PEEK_BYTES = 1 << 20
_decoder = json.JSONDecoder()


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise ValidationError("expected a file, found a folder", file=str(path)) from None
    if is_gzip(path):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationError(f"not a valid gzip file ({exc})", file=str(path)) from None
    return raw


def decode_utf8(data: bytes, file: str) -> str:
    """Decode the whole file at once (fast); on failure report the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise ValidationError(
            f"invalid UTF-8 (bytes {bad} at byte {exc.start}); save the file as UTF-8",
            file=file, line=line,
        ) from None


def read_text(path: Path) -> str:
    return decode_utf8(read_bytes(path), str(path))


def iter_records(path: Path) -> Iterator[tuple[int, Record]]:
    """Records of a .jsonl / .json file (or their .gz), each with the line it starts on.

    A ``.json`` file may hold a JSON list of objects or, as many datasets do, JSON Lines.
    """
    text = read_text(path)
    file = str(path)
    start = text.lstrip()[:1]
    if start == "[":
        return _iter_array(text, file)
    if path.name.endswith((".json", ".json.gz")) and start == "{":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            pass  # JSON Lines under a .json name
        else:
            if isinstance(whole, dict) and "\n" in text.strip():  # one line is JSON Lines
                raise ValidationError(
                    "expected a JSON list of records (or one JSON object per line), "
                    "found a single JSON object", file=file, line=1,
                )
    return _iter_lines(text, file)


def _iter_lines(text: str, file: str) -> Iterator[tuple[int, Record]]:
    loads = json.loads
    # Split on "\n" only: str.splitlines() would also split on U+2028 etc. inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.isspace():
            continue
        try:
            record = loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"invalid JSON: {exc.msg} at column {exc.colno}", file=file, line=number
            ) from None
        if type(record) is not dict:
            raise ValidationError(
                f"expected a JSON object, found {json_type(record)}", file=file, line=number
            )
        yield number, record


def _iter_array(text: str, file: str) -> Iterator[tuple[int, Record]]:
    """Walk a JSON list element by element so each element's line is known."""
    pos = _skip_ws(text, text.index("[") + 1)
    line, counted_to = 1, 0
    if text[pos : pos + 1] != "]":
        while True:
            line += text.count("\n", counted_to, pos)
            counted_to = pos
            try:
                record, pos = _decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"invalid JSON: {exc.msg} at column {exc.colno}", file=file, line=exc.lineno
                ) from None
            if type(record) is not dict:
                raise ValidationError(
                    f"expected a JSON object, found {json_type(record)}", file=file, line=line
                )
            yield line, record
            pos = _skip_ws(text, pos)
            char = text[pos : pos + 1]
            if char == "]":
                break
            if not char:
                raise _array_error("the list is not closed with ']'", text, file, pos)
            if char != ",":
                raise _array_error("expected ',' or ']' after a list item", text, file, pos)
            pos = _skip_ws(text, pos + 1)
    if _skip_ws(text, pos + 1) < len(text):
        raise _array_error("unexpected text after the list", text, file, _skip_ws(text, pos + 1))


def _skip_ws(text: str, pos: int) -> int:
    end = len(text)
    while pos < end and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_error(message: str, text: str, file: str, pos: int) -> ValidationError:
    return ValidationError(f"invalid JSON: {message}", file=file, line=text.count("\n", 0, pos) + 1)


def peek_first_record(path: Path) -> Record | None:
    """The first record of a JSON/JSONL file, cheaply, for format detection (None if unclear)."""
    if not path.is_file():
        return None
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as handle:
            head = handle.read(_PEEK_BYTES)
            complete = not handle.read(1)
    except (OSError, EOFError, zlib.error):
        return None
    record = _first_record(head.decode("utf-8-sig", errors="replace"))
    if record is None and not complete:
        try:
            record = _first_record(read_text(path))
        except ValidationError:
            return None
    return record


def _first_record(text: str) -> Record | None:
    pos = _skip_ws(text, 0)
    if text[pos : pos + 1] == "[":
        pos = _skip_ws(text, pos + 1)
    try:
        record, _ = _decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages users understand."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def dump_jsonl(records: list[Record], path: Path) -> None:
    """Write JSON Lines (UTF-8, one object per line, gzip when the name ends in .gz)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    data = text.encode("utf-8")
    if is_gzip(path):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
