"""Query results as dicts keyed by column name: the one helper every storage module uses."""

from __future__ import annotations

from typing import Any

import duckdb


def all_rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every row of the statement `cur` last executed."""
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one_row(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The first row of the statement `cur` last executed, or None when it returned none."""
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description or []]
    return dict(zip(names, row, strict=True))
