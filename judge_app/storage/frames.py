"""Registering DataFrames as views for bulk SQL (DuckDB's fast path for many rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """Expose ``frame`` as view ``name`` for the duration of the block.

    DuckDB 2 refuses (un)registering while a result is unfinished (after ``fetchone()``), so
    pending results are completed first.
    """
    cur.complete()
    cur.register(name, frame)
    try:
        yield name
    finally:
        cur.complete()
        cur.unregister(name)
