"""Import by upload: a zipped task folder, loose files, unsafe zips, and readable errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from judge_app.errors import ValidationError
from judge_app.ingest.native_writer import write_task_folder
from judge_app.services.overview import task_overview
from judge_app.services.uploads import import_upload
from judge_app.storage.db import Database
from tests.conftest import make_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def zipped(folder: Path, prefix: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{prefix}{path.name}")
    return buffer.getvalue()


def test_a_zipped_task_folder_imports_once(db: Database, tmp_path: Path) -> None:
    write_task_folder(make_bundle("up1", n_prompts=4), tmp_path / "up1")
    data = zipped(tmp_path / "up1", "up1/")
    reports = import_upload(db, [("up1.zip", data)])
    assert [r.task_id for r in reports] == ["up1"] and reports[0].prompts_new == 4
    assert import_upload(db, [("up1.zip", data)])[0].nothing_new
    assert [row["task"] for row in task_overview(db)] == ["up1"]


def test_loose_files_import(db: Database, tmp_path: Path) -> None:
    write_task_folder(make_bundle("up2", n_prompts=2), tmp_path / "up2")
    files = [(p.name, p.read_bytes()) for p in sorted((tmp_path / "up2").iterdir())]
    assert import_upload(db, files)[0].task_id == "up2"


def test_a_zip_that_escapes_its_folder_is_refused(db: Database) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "x")
    with pytest.raises(ValidationError, match="unsafe path"):
        import_upload(db, [("evil.zip", buffer.getvalue())])


def test_errors_name_the_uploaded_file_not_a_temp_path(db: Database, tmp_path: Path) -> None:
    write_task_folder(make_bundle("up3", n_prompts=2), tmp_path / "up3")
    (tmp_path / "up3" / "prompts.jsonl").write_text('{"id": "q0"\n')
    with pytest.raises(ValidationError) as info:
        import_upload(db, [("up3.zip", zipped(tmp_path / "up3", ""))])
    assert "prompts.jsonl" in str(info.value) and "judge-app-upload" not in str(info.value)
