"""Reading JSONL / JSON-list files: every failure names the file and the line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import iter_records, peek_first_record
from tests.ingest_helpers import OUTPUTS, assert_where, jsonl, load_error, write_task


def records(path: Path) -> list[tuple[int, dict]]:
    return list(iter_records(path))


def test_outputs_line_3_not_json_names_file_and_line(tmp_path: Path) -> None:
    lines = jsonl(OUTPUTS).split("\n")
    lines[2] = '{"prompt_id": "p2", "model": "m1", "response": "1 2 3"'  # no closing brace
    folder = write_task(tmp_path / "t", outputs="\n".join(lines))
    err = load_error(folder)
    assert_where(err, "outputs.jsonl", 3, None)
    assert "invalid JSON" in str(err)


def test_invalid_utf8_reports_the_line(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t")
    data = jsonl(OUTPUTS).encode().replace(b"hello", b"hel\xfflo")
    (folder / "outputs.jsonl").write_bytes(data)
    err = load_error(folder)
    assert_where(err, "outputs.jsonl", 2, None)
    assert "UTF-8" in str(err)


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="expected a JSON object, found a list") as info:
        records(path)
    assert info.value.line == 2


def test_blank_lines_crlf_bom_and_line_separators(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    text = '\ufeff{"a": "x\u2028y"}\r\n\r\n   \n{"a": 2}\r\n'
    path.write_bytes(text.encode("utf-8"))
    assert records(path) == [(1, {"a": "x\u2028y"}), (4, {"a": 2})]


def test_json_list_reports_the_line_of_each_item(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"a": 1}, {"a": 2}, {"a": 3}], indent=2), encoding="utf-8")
    assert [line for line, _ in records(path)] == [2, 5, 8]
    assert [r["a"] for _, r in records(path)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[\n{"a": 1},\n{"a": 2}\n', 4, "not closed"),
        ('[\n{"a": 1}\n{"a": 2}\n]', 3, "expected ','"),
        ('[\n{"a": 1},\n{"a": }\n]', 3, "invalid JSON"),
        ('[\n{"a": 1},\n7\n]', 3, "found a number"),
        ('[{"a": 1}]\n\n]', 3, "after the list"),
    ],
)
def test_broken_json_lists(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match=message) as info:
        records(path)
    assert info.value.line == line


def test_empty_json_list(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[ ]", encoding="utf-8")
    assert records(path) == []


def test_json_file_with_one_object_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{\n  "a": 1\n}\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="single JSON object"):
        records(path)


def test_json_lines_under_a_json_name(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert records(path) == [(1, {"a": 1}), (2, {"a": 2})]
    path.write_text('{"a": 1}\n', encoding="utf-8")
    assert records(path) == [(1, {"a": 1})]


def test_gzip_jsonl_and_json(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    (tmp_path / "y.json.gz").write_bytes(gzip.compress(b'[{"a": 1}, {"a": 2}]'))
    assert [r for _, r in records(tmp_path / "x.jsonl.gz")] == [{"a": 1}, {"a": 2}]
    assert [r for _, r in records(tmp_path / "y.json.gz")] == [{"a": 1}, {"a": 2}]
    assert peek_first_record(tmp_path / "y.json.gz") == {"a": 1}


def test_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValidationError, match="gzip"):
        records(path)


def test_gzip_task_files_are_accepted(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t")
    data = (folder / "outputs.jsonl").read_bytes()
    (folder / "outputs.jsonl").unlink()
    (folder / "outputs.jsonl.gz").write_bytes(gzip.compress(data))
    from judge_app.ingest import load_bundles

    [bundle] = load_bundles([folder])
    assert len(bundle.outputs) == 4


def test_peek_reads_only_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[{"a": 1}, {"a": ', encoding="utf-8")  # broken later on
    assert peek_first_record(path) == {"a": 1}
    assert peek_first_record(tmp_path / "missing.json") is None
