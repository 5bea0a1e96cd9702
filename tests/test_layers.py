"""The layer rules of docs/layout.md, as one test over every import in the package.

Imports are read with `ast`, so an import inside a function (or under TYPE_CHECKING) counts
as much as one at the top of a module: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "judge_app"
LAYERS = ("core", "storage", "judges", "ingest", "export", "services", "ui", "cli")

# judge_app packages a layer must not import (everything not listed is allowed).
FORBIDDEN_LAYERS: dict[str, set[str]] = {
    "core": set(LAYERS) - {"core"},
    "storage": {"judges", "ingest", "export", "services", "ui", "cli"},
    "judges": {"storage", "services", "ui", "cli"},
    "ingest": {"storage", "services", "ui", "cli"},
    "export": {"storage", "services", "ui", "cli"},
    "services": {"ui", "cli"},
    "ui": {"storage", "cli"},
}
# Third-party packages with side effects (a database, the network, a UI, a terminal), and
# the only layers that may import each.
IMPURE: dict[str, set[str]] = {
    "duckdb": {"storage"},
    "psycopg": {"storage"},
    "streamlit": {"ui", "cli"},
    "openai": {"judges"},
    "httpx": {"judges"},
    "httpx2": {"judges"},
    "tqdm": {"services"},
    "vl_convert": {"export"},
}


def imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """Every module `path` imports, anywhere in the file, relative imports made absolute."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1] + ("__init__",)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*parts[:-node.level], *([base] if base else [])])
            found.add(base)
            if base == "judge_app":  # `from judge_app import storage` names the layer
                found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "judge_app" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        layer = rel.parts[0] if len(rel.parts) > 1 else None
        for module in sorted(imports(path, package)):
            target = layer_of(module)
            if layer in FORBIDDEN_LAYERS and target in FORBIDDEN_LAYERS[layer]:
                found.append(f"{rel}: {layer} imports {module}")
            top = module.split(".")[0]
            if top in IMPURE and layer not in IMPURE[top]:
                found.append(f"{rel}: only {'/'.join(sorted(IMPURE[top]))} may import {top}")
    return found


def test_every_layer_keeps_its_rules() -> None:
    assert violations() == []


def test_the_rules_see_every_layer_and_lazy_imports(tmp_path: Path) -> None:
    """The checker itself: it finds what it must (a test that cannot fail proves nothing)."""
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} \
        >= set(LAYERS)
    fake = tmp_path / "judge_app"
    for layer in ("judges", "ui", "core", "export"):
        (fake / layer).mkdir(parents=True)
    (fake / "judges" / "run.py").write_text(
        "def go():\n    from judge_app.services.queue import load_task_config\n")
    (fake / "ui" / "page.py").write_text("from judge_app.storage.db import Database\n")
    (fake / "core" / "x.py").write_text("from .. import storage\nimport duckdb\n")
    (fake / "export" / "y.py").write_text("from typing import TYPE_CHECKING\n"
                                          "if TYPE_CHECKING:\n"
                                          "    from judge_app.services import report\n")
    assert violations(fake) == [
        "core/x.py: only storage may import duckdb",
        "core/x.py: core imports judge_app.storage",
        "export/y.py: export imports judge_app.services",
        "judges/run.py: judges imports judge_app.services.queue",
        "ui/page.py: ui imports judge_app.storage.db",
    ]


# ---------------------------------------------------------------- one home for each repeat

def _sources(under: str = "") -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
            for p in sorted((PACKAGE / under).rglob("*.py"))}


def test_rows_as_dicts_have_one_helper() -> None:
    """storage/rows.py turns results into dicts; no module keeps its own copy."""
    copies = [name for name, text in _sources("storage").items()
              if "dict(zip(names" in text and name != "storage/rows.py"]
    assert copies == []


def test_a_pair_with_its_texts_is_one_query() -> None:
    join = "JOIN outputs oa ON oa.output_id = p.output_a"
    assert [name for name, text in _sources().items() if join in text] == ["storage/catalog.py"]
    assert sum(text.count(join) for text in _sources().values()) == 1


def test_verdict_rows_are_built_in_one_place() -> None:
    """Every writer of verdicts builds its rows with core/verdict_rows.verdict_row."""
    builders = [name for name, text in _sources().items()
                if '"verdict_id":' in text and not name.startswith("storage/")]
    assert builders == ["core/verdict_rows.py"]
    assert _sources()["core/verdict_rows.py"].count('"verdict_id":') == 1
