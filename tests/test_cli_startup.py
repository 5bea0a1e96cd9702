"""The command line starts light, prints clean help, and names the task you meant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from judge_app.cli import build_parser, main
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.analysis_helpers import simulated_bundle

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("judge_app.ingest", "pandas", "numpy", "scipy", "openai", "duckdb", "streamlit",
         "pyarrow", "altair", "krippendorff", "httpx")


def _imported_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_building_the_parser_imports_nothing_heavy() -> None:
    assert _imported_after("from judge_app.cli import build_parser; build_parser()") == []


def test_help_imports_nothing_heavy() -> None:
    code = ("from judge_app.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['gate', '--help'])\nexcept SystemExit:\n    pass")
    assert _imported_after(code) == []


def test_import_lists_every_reader() -> None:
    from judge_app.cli.import_cmd import FORMAT_NAMES
    from judge_app.ingest.loader import format_names

    assert FORMAT_NAMES == tuple(format_names())


def _subcommands() -> dict[str, object]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    found: dict[str, object] = {}
    for name, child in sub.choices.items():  # type: ignore[union-attr]
        found[name] = child
        for action in child._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for inner, grandchild in action.choices.items():  # type: ignore[union-attr]
                    found[f"{name} {inner}"] = grandchild
    return found


def test_no_help_text_shows_a_doubled_percent_sign() -> None:
    commands = _subcommands()
    assert {"leaderboard", "agreement", "gate", "raters add", "export"} <= set(commands)
    for name, parser in commands.items():
        text = parser.format_help()  # type: ignore[attr-defined]
        assert "%%" not in text, name
        assert "%(" not in text, name
    assert "95% intervals" in commands["leaderboard"].format_help()  # type: ignore[attr-defined]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "names.duckdb"
    db = open_database(path)
    import_bundle(db, simulated_bundle("summarisation-eval", prompts=3))
    import_bundle(db, simulated_bundle("translation-eval", prompts=3))
    db.close()
    return path


@pytest.mark.parametrize("command", [
    ["leaderboard", "--task", "sumarisation-eval"],
    ["agreement", "--task", "sumarisation-eval"],
    ["gate", "--task", "sumarisation-eval", "--candidate", "alpha", "--baseline", "beta"],
    ["export", "--task", "sumarisation-eval", "--format", "battles", "--out", "{tmp}/x.jsonl"],
    ["report", "--task", "sumarisation-eval", "--out", "{tmp}/r.html"],
])
def test_unknown_task_suggests_the_closest(db_path: Path, tmp_path: Path, command: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    assert main([*args, "--db", str(db_path)]) == 1
    err = capsys.readouterr().err
    assert "no task named 'sumarisation-eval'; did you mean 'summarisation-eval'?" in err
    assert not list(tmp_path.glob("x.jsonl")) and not list(tmp_path.glob("r.html"))


def test_unknown_task_far_from_every_name_gets_no_guess(
    db_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["leaderboard", "--task", "zzz", "--db", str(db_path)]) == 1
    err = capsys.readouterr().err
    assert "no task named 'zzz'" in err and "did you mean" not in err
