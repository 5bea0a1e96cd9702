"""Reads of plain values without loading pandas, for commands that must start fast (`gate`).

DuckDB looks for pandas every time it binds a query parameter (to recognise pandas' NA and
Timestamp values), and imports it if it can: about a second of start-up, more than the rest
of `judge-app gate` together. Where no pandas value can be among the parameters (pandas is
not even imported yet), `plain_values` tells DuckDB there is no pandas to find; DuckDB then
binds plain Python values as usual, and finds pandas again once the block ends.

`sys.modules` is shared by all threads, so the owner thread that serves other processes
(storage/owner.py) takes `pandas_allowed` before work that needs pandas: it waits until the
block ends instead of failing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.RLock()


@contextmanager
def plain_values() -> Iterator[None]:
    """Within the block, DuckDB binds parameters without importing pandas."""
    with _LOCK:
        if "pandas" in sys.modules:  # loaded already (or blocked by an outer block): no cost
            yield
            return
        sys.modules["pandas"] = None  # type: ignore[assignment]  # "import pandas" fails
        try:
            yield
        finally:
            if "pandas" in sys.modules and sys.modules["pandas"] is None:
                del sys.modules["pandas"]


@contextmanager
def pandas_allowed() -> Iterator[None]:
    """Wait for any `plain_values` block in this process to end (for work that needs pandas)."""
    with _LOCK:
        yield
