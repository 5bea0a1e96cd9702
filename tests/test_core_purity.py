"""The core stays pure: no UI, database or network client imports."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "judge_app" / "core"
FORBIDDEN = {"streamlit", "duckdb", "openai", "httpx", "httpx2", "judge_app.storage",
             "judge_app.ui", "judge_app.services", "judge_app.judges"}


def test_core_imports_nothing_impure() -> None:
    offenders = []
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(CORE.glob("*.py"))) >= 3


def test_only_storage_imports_duckdb() -> None:
    package = CORE.parent
    offenders = []
    for path in package.rglob("*.py"):
        if path.parent.name == "storage":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name == "duckdb" for a in node.names):
                offenders.append(str(path.relative_to(package)))
            if isinstance(node, ast.ImportFrom) and node.module == "duckdb":
                offenders.append(str(path.relative_to(package)))
    assert offenders == []
