"""Read JSON Lines and JSON-list files (optionally gzipped) as (line number, record) pairs.

Every error names the file and the line, so a user can open the file at the right place.
Records are plain dicts from ``json.loads``: validation happens field by field in
``records.py``, with no per-row schema objects, because imports of a few hundred thousand
rows must take seconds.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge_app.errors import ValidationError

Record = dict[str, Any]
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
_PEEK_BYTES = 1 << 20


class _BadJson(ValueError):
    """Valid to Python's json module, wrong for us: a duplicate key, NaN or Infinity."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Python's json keeps the last of two equal keys without a word: refuse instead."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _BadJson("duplicate key in one JSON object (which value is meant?)", key)
            seen.add(key)
    return record


def _no_constant(name: str) -> float:
    """NaN and Infinity are not JSON; Python's json accepts them unless told not to."""
    raise _BadJson(f"{name} is not a valid JSON number")


_decoder = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)
_loads = _decoder.decode
_CONSTANT_AT = re.compile(r'"([^"\\]{1,100})"\s*:\s*-?(?:NaN|Infinity)\b')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


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
        except (json.JSONDecodeError, RecursionError):
            pass  # JSON Lines under a .json name (or too deep: the line reader says so)
        else:
            if isinstance(whole, dict) and "\n" in text.strip():  # one line is JSON Lines
                raise ValidationError(
                    "expected a JSON list of records (or one JSON object per line), "
                    "found a single JSON object", file=file, line=1,
                )
    return _iter_lines(text, file)


def _iter_lines(text: str, file: str) -> Iterator[tuple[int, Record]]:
    loads = _loads
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
        except (_BadJson, RecursionError) as exc:
            raise _json_error(exc, file, number, line) from None
        if type(record) is not dict:
            raise ValidationError(
                f"expected a JSON object, found {json_type(record)}", file=file, line=number
            )
        if "\\u" in line:  # rare: only escaped text can hold a lone surrogate
            check_text(record, file, number, line)
        yield number, record


def _json_error(exc: Exception, file: str, line: int, raw: str = "") -> ValidationError:
    if isinstance(exc, RecursionError):
        return ValidationError("invalid JSON: nested too deeply", file=file, line=line)
    field = getattr(exc, "field", None)
    if field is None:  # NaN / Infinity: name the key it stands under, when there is one
        found = _CONSTANT_AT.search(raw)
        field = found.group(1) if found else None
    return ValidationError(f"invalid JSON: {exc}", file=file, line=line, field=field)


def check_text(record: Record, file: str, line: int, raw: str | None = None) -> None:
    """Refuse lone UTF-16 surrogates ("\\ud800"): Python's json accepts them, but they are
    not text, and storing or exporting them fails later, far from the file's line."""
    if raw is not None and not _SURROGATE_ESCAPE.search(raw):
        return
    where = _surrogate_field(record, "", 0)
    if where is not None:
        raise ValidationError(
            "contains a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape that is not half "
            "of a pair): not valid text", file=file, line=line, field=where or None)


def _surrogate_field(value: Any, path: str, depth: int) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if depth > 200:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if _surrogate_field(key, path, depth + 1) is not None:
                return f"{path}.{key!r}".lstrip(".")
            found = _surrogate_field(item, f"{path}.{key}".lstrip("."), depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_field(item, f"{path}[{i}]", depth + 1)
            if found is not None:
                return found
    return None


def _iter_array(text: str, file: str) -> Iterator[tuple[int, Record]]:
    """Walk a JSON list element by element so each element's line is known."""
    pos = _skip_ws(text, text.index("[") + 1)
    line, counted_to = 1, 0
    if text[pos : pos + 1] != "]":
        while True:
            line += text.count("\n", counted_to, pos)
            counted_to = pos
            try:
                record, end = _decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"invalid JSON: {exc.msg} at column {exc.colno}", file=file, line=exc.lineno
                ) from None
            except (_BadJson, RecursionError) as exc:
                raise _json_error(exc, file, line, text[pos:pos + 100_000]) from None
            if type(record) is not dict:
                raise ValidationError(
                    f"expected a JSON object, found {json_type(record)}", file=file, line=line
                )
            check_text(record, file, line, text[pos:end])
            pos = end
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
    except (json.JSONDecodeError, _BadJson, RecursionError):
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
