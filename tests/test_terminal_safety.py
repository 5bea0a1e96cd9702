"""Names holding ESC, BEL, carriage returns or bidi controls: stored as given (they may come
from an older database or a direct import), never sent raw to a terminal, and a report with
them is still written (vl-convert used to abort the process with a Rust panic)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from judge_app.core.terminal import has_control, shown
from judge_app.core.types import ImportedVerdict
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle

ROOT = Path(__file__).resolve().parents[1]
EVIL = "evil\x1b[31m\x1b]0;pwned\x07"
BELL = "bell\x07\r\u202eright"
RATER = "r\x1b[2J"


def test_shown_escapes_controls_and_keeps_text() -> None:
    assert shown(EVIL) == "evil\\x1b[31m\\x1b]0;pwned\\x07"
    assert shown("a\tb\nc") == "a\tb\nc" and shown("a\tb\nc", one_line=True) == "a\\x09b\\x0ac"
    assert shown(BELL) == "bell\\x07\\x0d\\u202eright"
    assert shown("plain ünïcode ✓") == "plain ünïcode ✓"
    assert has_control(EVIL) and not has_control("plain")


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                          capture_output=True, cwd=ROOT, timeout=300)


def test_report_and_tables_with_control_characters_in_names(tmp_path: Path) -> None:
    db_path = tmp_path / "j.duckdb"
    bundle = make_bundle("t1", n_prompts=6, models=("good", EVIL, BELL))
    results = [("good", EVIL, "a"), (EVIL, BELL, "b"), ("good", BELL, "tie"),
               ("good", EVIL, "b")]
    bundle.verdicts = [
        ImportedVerdict(prompt_id=f"q{i}", model_a=a, model_b=b, outcome=o,  # type: ignore[arg-type]
                        rater_id=RATER, source="human")
        for i in range(6) for a, b, o in results]
    import_bundle(open_database(db_path), bundle)
    Database(db_path).close()

    out_file = tmp_path / "report.html"
    report = cli("report", "--task", "t1", "--out", str(out_file), db=db_path)
    assert report.returncode == 0, report.stderr.decode()[-2000:]
    html = out_file.read_text()
    assert "\x1b" not in html and "\x07" not in html and "evil\\x1b[31m" in html

    outputs = [report]
    for args in (("leaderboard", "--task", "t1"), ("leaderboard", "--task", "t1", "--format",
                 "csv"), ("leaderboard", "--task", "t1", "--format", "json"),
                 ("raters", "list"), ("agreement", "--task", "t1"),
                 ("leaderboard", "--task", "t1\x1b[2J")):
        outputs.append(cli(*args, db=db_path))
    assert b"evil\\x1b[31m" in outputs[1].stdout  # shown, escaped
    assert b"r\\x1b[2J" in outputs[4].stdout
    assert outputs[-1].returncode == 1 and b"t1\\x1b[2J" in outputs[-1].stderr
    for out in outputs:
        for raw in (b"\x1b", b"\x07", b"\r", "\u202e".encode()):
            assert raw not in out.stdout and raw not in out.stderr, (out.args, raw)


def test_bytes_written_to_the_cli_stdout_print_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    """`make run` printed Streamlit's banner as b'...' reprs: click writes bytes to stdout."""
    from judge_app.cli import _SafeStream

    stream = _SafeStream(sys.stdout)
    stream.write(b"  URL: http://127.0.0.1:8501\n\x1b[31m")
    stream.write("plain\n")
    out = capsys.readouterr().out
    assert out == "  URL: http://127.0.0.1:8501\n\\x1b[31mplain\n"
