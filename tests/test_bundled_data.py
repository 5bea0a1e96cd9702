"""The suite is complete in a bare clone: every file a test reads lives in the repository.

A folder beside the repository (CI once had one with real data) is absent on a user's
machine, so no test may reach outside the repository, and no test may skip because data is
missing: a skipped check reads as a passed one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import DATA

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# Built from parts so that this file does not match its own patterns.
_SIDE = "sha" + "red"
OUTSIDE = [
    re.compile(r"\.\./" + _SIDE),  # ../<folder>
    re.compile(_SIDE + r"/data"),  # <folder>/data
    re.compile(r"""["']""" + _SIDE + r"""["']"""),  # Path(...) / "<folder>"
    re.compile(r"parents" + r"\[[2-9]\]"),  # a path above the repository root
]
_PATH_CHECKS = {"exists", "is_dir", "is_file", "isdir", "isfile", "glob"}


def _text_files() -> list[Path]:
    suffixes = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".json", ".jsonl", ".csv"}
    return [p for p in TESTS.rglob("*") if p.is_file() and p.suffix in suffixes
            and "__pycache__" not in p.parts]


def test_no_test_file_reaches_outside_the_repository() -> None:
    files = _text_files() + [ROOT / "Makefile", ROOT / "pyproject.toml"]
    assert len(files) > 50
    found = [f"{p.relative_to(ROOT)}: {rx.pattern}" for p in files
             for rx in OUTSIDE if rx.search(p.read_text("utf-8", errors="replace"))]
    assert found == []


def _skips_on_a_path(tree: ast.AST) -> list[int]:
    """Lines of skipif(...) / skip(...) / importorskip guarded by a file-system check."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("skipif", "skip", "xfail"):
            checks = {n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call)
                      and isinstance(n.func, ast.Attribute)}
            if checks & _PATH_CHECKS:
                lines.append(node.lineno)
        if isinstance(node, ast.If):  # if not path.exists(): pytest.skip(...)
            tests = {n.func.attr for n in ast.walk(node.test) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute)}
            skips = [n for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute) and n.func.attr == "skip"]
            if tests & _PATH_CHECKS and skips:
                lines.append(node.lineno)
    return lines




def test_no_test_skips_for_missing_data() -> None:
    sources = sorted(TESTS.glob("*.py"))
    found = {f"{p.name}:{line}" for p in sources
             for line in _skips_on_a_path(ast.parse(p.read_text("utf-8")))}
    assert found == set()


def test_the_skip_detector_finds_the_old_patterns() -> None:
    """The detector above would have caught what this suite used to do."""
    old = '''
needs = pytest.mark.skipif(not PANDALM.exists(), reason="data not present")
@pytest.mark.skipif(not (DATA / "x").is_dir(), reason="data not present")
def test_a(): ...
def test_b():
    if not DATA.exists():
        pytest.skip("no data")
'''
    assert sorted(_skips_on_a_path(ast.parse(old))) == [2, 3, 6]
    assert _skips_on_a_path(ast.parse("pytest.mark.skipif(sys.platform == 'win32', "
                                      "reason='posix only')")) == []
    old_path = "Path(__file__).resolve().parents" + "[2]" + ' / "' + _SIDE + '" / "data"'
    assert sum(bool(rx.search(old_path)) for rx in OUTSIDE) == 2


def test_every_data_folder_says_its_source_and_licence() -> None:
    folders = sorted(p for p in DATA.iterdir() if p.is_dir())
    assert {"pandalm", "alpaca_eval_results"} <= {p.name for p in folders}
    for folder in folders:
        text = (folder / "SOURCE.md").read_text("utf-8")
        assert "licence" in text.lower(), folder.name


def test_real_data_is_small() -> None:
    """Slices, not copies: the bundled data stays a small part of a clone."""
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 3_000_000
