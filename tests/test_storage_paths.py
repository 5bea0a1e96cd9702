"""Database paths that cannot be used give a one-line error naming the path, not a traceback,
and only `init`, `demo` and `import` create a database file."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.conftest import DATA, make_bundle

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, db: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess[str], path: Path,
                          words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("judge-app: error: ") and str(path) in lines[0] and words in lines[0]


def real_database(path: Path) -> Path:
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=30))
    db.close()
    return path


def test_a_typo_in_db_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "judeg.duckdb"
    for args in (("raters", "list"), ("leaderboard", "--task", "t1"),
                 ("raters", "add", "bob")):
        assert_one_line_error(run(*args, db=typo), typo, "no such database file")
    assert list(tmp_path.iterdir()) == []


def test_init_check_does_not_create_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    result = run("init", "--check", db=path)
    assert result.returncode == 1 and "no database yet" in result.stdout
    assert "pending: 001_" in result.stdout
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert run("init", db=path).returncode == 0  # init itself creates it
    assert run("init", "--check", db=path).stdout.strip().endswith("up to date")


@pytest.mark.parametrize("command", [("raters", "list"), ("init",),
                                     ("import", str(ROOT / "tasks" / "demo-alpaca"))])
def test_a_folder_as_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    folder = tmp_path / "dbdir"
    folder.mkdir()
    assert_one_line_error(run(*command, db=folder), folder, "is a folder")


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.touch()
    assert_one_line_error(run("raters", "list", db=path), path, "empty file")
    assert_one_line_error(run("init", db=path), path, "empty file")
    assert path.stat().st_size == 0


def test_a_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.duckdb"
    path.write_bytes(b"this is not a database\n" * 500)
    before = path.read_bytes()
    assert_one_line_error(run("raters", "list", db=path), path, "not a DuckDB database")
    assert path.read_bytes() == before


@pytest.mark.parametrize("keep", [100, 5000, 300_000])
def test_a_truncated_file(tmp_path: Path, keep: int) -> None:
    path = real_database(tmp_path / "cut.duckdb")
    with path.open("r+b") as f:
        f.truncate(keep)
    assert_one_line_error(run("raters", "list", db=path), path, "damaged or truncated")


def test_a_read_only_file(tmp_path: Path) -> None:
    path = real_database(tmp_path / "ro.duckdb")
    path.chmod(0o444)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anyway: run the command without that privilege
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv is missing: cannot make a file read-only")
        prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    try:
        assert_one_line_error(run("raters", "add", "bob", db=path, prefix=prefix), path,
                              "read-only")
    finally:
        path.chmod(0o644)


def test_an_immutable_file(tmp_path: Path) -> None:
    path = real_database(tmp_path / "immutable.duckdb")
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this file system or user cannot set the immutable flag: {made.stderr}")
    try:
        assert_one_line_error(run("raters", "add", "bob", db=path), path, "read-only")
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_a_file_written_by_duckdb_2_names_the_cause(tmp_path: Path) -> None:
    """The previous release installed DuckDB 2.0.1; its files must not read as 'damaged'."""
    path = tmp_path / "from-duckdb-2.duckdb"
    path.write_bytes(gzip.decompress(
        (DATA / "duckdb2" / "written-by-duckdb-2.0.1.duckdb.gz").read_bytes()))
    before = path.read_bytes()
    assert_one_line_error(run("raters", "list", db=path), path, "written by a newer DuckDB")
    assert path.read_bytes() == before
